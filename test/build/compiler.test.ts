/**
 * The kernel's own compiler: CONFIG_CC_VERSION_TEXT decides. A bookworm
 * kernel builds with the host's gcc-12 (the exact --version line), a kernel
 * built by a gcc neither the host nor any build root has is refused naming
 * both compilers, and --skip-compiler-check lets it through and says so.
 * (The trixie target building in its gcc-14 root is in sixtwelve.test.ts.)
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { chooseToolchain } from '../../src/kernel/toolchain.js';
import { KELP_BIN, REPO_ROOT } from '../support/paths.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';

let pre: PrereqStatus | undefined;
let target: TargetInfo;
beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (pre.ok) target = await getTarget();
}, 900_000);

const GCC13 = 'CONFIG_CC_VERSION_TEXT="gcc-13 (Debian 13.2.0-25) 13.2.0"\nCONFIG_LIVEPATCH=y\n';

describe('the kernel\'s own compiler', () => {
  test('a bookworm kernel names the host\'s gcc-12 exactly, and kelp builds with it on the host', async () => {
    if (skipUnlessReady(pre)) return;
    const config = await fs.readFile(target.config, 'utf8');
    const host = (await execa(target.compiler!.split(' ')[0]!, ['--version'])).stdout.split('\n')[0]!;
    expect(host).toBe(target.compiler);
    const t = await chooseToolchain({ config, configFile: target.config, codename: 'bookworm', cache: '/nonexistent', binds: [] });
    expect(t).toMatchObject({ kernel: target.compiler, used: target.compiler, where: 'host', checkSkipped: false, root: null });
  });

  test('a compiler neither the host nor a root has is refused naming both; skipping the check is recorded', async () => {
    const t = await chooseToolchain({ config: GCC13, configFile: 'k/.config', cache: '/nonexistent', binds: [], skipCheck: true, say: () => {} });
    expect(t).toMatchObject({ kernel: 'gcc-13 (Debian 13.2.0-25) 13.2.0', where: 'host', checkSkipped: true });
    await expect(chooseToolchain({ config: GCC13, configFile: 'k/.config', cache: '/nonexistent', binds: [] }))
      .rejects.toThrow(/^the kernel was built with "gcc-13 \(Debian 13\.2\.0-25\) 13\.2\.0", but kelp has no gcc-13 on the host; .*--skip-compiler-check/);
  });

  test('kelp build refuses the forced mismatch in one line before building anything', async () => {
    if (skipUnlessReady(pre)) return;
    // The real headers, with a configuration claiming another compiler.
    const tmp = makeTmpDir('cc-mismatch');
    try {
      const kdir = join(tmp.dir, 'kdir');
      await fs.mkdir(kdir);
      for (const f of ['Makefile', 'Module.symvers']) await fs.copyFile(join(target.kdir, f), join(kdir, f));
      const config = (await fs.readFile(join(target.kdir, '.config'), 'utf8')).replace(/^CONFIG_CC_VERSION_TEXT=.*$/m, 'CONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-99) 12.2.0"');
      await fs.writeFile(join(kdir, '.config'), config);
      const r = await execa(KELP_BIN, ['build', join(REPO_ROOT, 'examples/oot/fix.patch'), '--oot-module', join(REPO_ROOT, 'examples/oot'), '--kdir', kdir, '-o', join(tmp.dir, 'out')], { reject: false, env: { LC_ALL: 'C' }, cwd: tmp.dir });
      expect(r.exitCode).toBe(1);
      const last = r.stderr.trim().split('\n').pop()!;
      expect(last).toMatch(new RegExp(`^kelp: ${kdir.replace(/[.]/g, '\\.')}/\\.config: the kernel was built with "gcc-12 \\(Debian 12\\.2\\.0-99\\) 12\\.2\\.0", but kelp has "gcc-12 \\(Debian 12\\.2\\.0-[^"]+\\) 12\\.2\\.0" on the host`));
      expect(r.stderr).not.toMatch(/build originals/);
      await expect(fs.stat(join(tmp.dir, 'out', 'livepatch-fix.ko'))).rejects.toThrow();
    } finally {
      tmp.cleanup();
    }
  }, 300_000);
});
