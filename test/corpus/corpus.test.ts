/**
 * A fixed sample of issue 13's corpus (npm run corpus --pair 6.1): real fixes
 * between Debian's linux-source-6.1 6.1.170-3 and 6.1.176-1, one patch per
 * changed .c file as test/corpus/cut.ts cuts them (test/corpus/fixtures),
 * chosen to cover every outcome. Each is built with `kelp build --release
 * 6.1.0-47-amd64`; the built ones are verified together in one boot of that
 * kernel (batch.ts: kelp check, then each loaded, enabled with its transition
 * complete, and unloaded in turn).
 */
import { join } from 'node:path';
import { fetchTarget, type TargetInfo } from '../../src/target/fetch.js';
import { REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { targetPackages } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { buildCase, preloadOf, type Built } from './case.js';
import { verifyBatch, type VerifyCase } from './batch.js';
import type { Outcome } from './table.js';
import { includesHeader } from './cut.js';

const RELEASE = '6.1.0-47-amd64';

/** The patch (fixtures/), the outcome, and what the detail must say. */
const CASES: Array<{ patch: string; outcome: Outcome; detail?: RegExp }> = [
  // A module that loads in the VM (no PCI device needed).
  { patch: 'net-pcnet32.patch', outcome: 'verified' },
  // vmlinux.
  { patch: 'bpf-helpers.patch', outcome: 'verified' },
  // lib/ is ordinary vmlinux code (it was refused as a whole).
  { patch: 'mpi-mpicoder.patch', outcome: 'verified' },
  // 6.12.117's ACPICA fix, which applies to 6.1.170 as well: it references
  // _acpi_module_name, of which vmlinux has over a hundred (once refused as ambiguous).
  { patch: 'acpica-evhandler.patch', outcome: 'verified' },
  // A registered xt_match table becomes an array, registered in init code.
  { patch: 'netfilter-xt_physdev.patch', outcome: 'refused', detail: /^data-changed, init-code.*physdev_mt_reg: existing data changed/ },
  // sizeof(phys_addr_t *) == sizeof(phys_addr_t) on x86-64: the same code.
  { patch: 'efi-capsule-loader.patch', outcome: 'no functional change', detail: /changes no function of drivers\/firmware\/efi\/capsule-loader\.o/ },
  // Calls hci_req_sync_lock(), which the upstream fix added to another file.
  { patch: 'bluetooth-btintel.patch', outcome: 'does not compile alone', detail: /implicit declaration of function \W*hci_req_sync_lock/ },
];

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('corpus');
afterAll(() => tmp.cleanup());

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages({ source: true }));
  if (pre.ok) target = await fetchTarget({ release: RELEASE, source: true });
}, 1_800_000);

test('a header comes along when the file includes it by a quoted path, not when a system header has its name', () => {
  const text = '#include <linux/slab.h>\n#include "internal.h"\n# include "../net/x.h"\n';
  expect(includesHeader('mm/memory_hotplug.c', text, 'mm/internal.h')).toBe(true);
  expect(includesHeader('mm/memory_hotplug.c', text, 'mm/slab.h')).toBe(false);
  expect(includesHeader('mm/memory_hotplug.c', text, 'net/x.h')).toBe(true);
});

test('the sample covers every outcome', () => {
  expect(new Set(CASES.map((c) => c.outcome))).toEqual(new Set(['verified', 'refused', 'no functional change', 'does not compile alone']));
});

test('each case builds to its outcome; the built ones verify in one boot', async () => {
  if (skipUnlessReady(pre)) return;
  const built = new Map<string, Built>();
  for (const c of CASES) built.set(c.patch, buildCase(join(REPO_ROOT, 'test', 'corpus', 'fixtures', c.patch), RELEASE, join(tmp.dir, c.patch)));
  const toVerify: VerifyCase[] = [];
  for (const [patch, b] of built) {
    if (b.outcome === 'built') toVerify.push({ id: patch, ko: b.ko!, moduleName: b.moduleName!, preload: preloadOf(b.patched ?? [], target.modules) });
  }
  const verdicts = await verifyBatch({ kernel: target.kernel, symbols: target.systemMap, kdir: target.kdir }, toVerify, () => {}, toVerify.length);
  const got = CASES.map((c) => {
    const b = built.get(c.patch)!;
    const v = verdicts.get(c.patch);
    const outcome = v === undefined ? b.outcome : v.ok ? 'verified' : 'failed';
    return { patch: c.patch, outcome, detail: v === undefined ? b.detail : v.detail };
  });
  expect(got).toEqual(CASES.map((c) => ({ patch: c.patch, outcome: c.outcome, detail: c.detail === undefined ? expect.any(String) : expect.stringMatching(c.detail) })));
}, 3_600_000);
