/** The corpus outcomes (table.ts): how a kelp build's exit and last line classify, and what counts in the share. */
import { classify, notBuilt } from './table.js';

test('a compiler error in the patched objects, or in the one object built first to probe a layout, is "does not compile alone"', () => {
  const tree = '/cache/source/linux-source-6.1';
  expect(classify(1, '', `kelp: ${tree}: building the patched objects failed: fs/afs/fsclient.c:355:25: error: too few arguments\n`).outcome).toBe('does not compile alone');
  // 6.1.176 -> 6.1.192's amdgpu_dm.c: the header's hunk uses a macro another header's hunk defines.
  expect(classify(1, '', `kelp: ${tree}: building the patched object drivers/gpu/drm/amd/display/amdgpu_dm/amdgpu_dm.o failed: amdgpu_dm_hdcp.h:64:41: error: 'AMDGPU_DM_MAX_DISPLAY_COUNT' undeclared\n`).outcome).toBe('does not compile alone');
  expect(classify(1, '', 'kelp: /x.patch: .klp.sym.vmlinux.f,0: vmlinux has no symbol f, and the patch does not define it: f is defined nowhere\n').outcome).toBe('does not compile alone');
  // Anything else that stops a build is kelp's failure.
  expect(classify(1, '', `kelp: ${tree}: building the original objects failed: error\n`).outcome).toBe('failed');
  expect(classify(1, '', 'kelp: /x.patch: tools/lib/bpf/relo_core.c: host tools are not part of the running kernel\n').outcome).toBe('failed');
});

test('a "no functional change" to files the configuration does not build counts in no share; one whose configured includers preprocess the same does', () => {
  const row = (detail: string) => ({ outcome: 'no functional change' as const, detail });
  expect(notBuilt(row("/p.patch: changes nothing this kernel's configuration builds: drivers/hwtracing/coresight/coresight-etm4x-sysfs.c (not configured), drivers/hwtracing/coresight/coresight-etm4x.h (no configured object includes it)"))).toBe(true);
  expect(notBuilt(row("/p.patch: changes nothing this kernel's configuration builds: the 3 configured includer(s) of fs/ext4/ext4.h preprocess to the same source as before"))).toBe(false);
  expect(notBuilt(row('/p.patch: changes no function of fs/xfs/libxfs/xfs_defer.o (only comments, line numbers or unused code?)'))).toBe(false);
  expect(notBuilt({ outcome: 'refused', detail: "changes nothing this kernel's configuration builds: x.c (not configured)" })).toBe(false);
});
