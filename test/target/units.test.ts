/**
 * The target's pieces on their own: the newc writer against the real cpio
 * tool, the init script under a real shell against the console parser, Debian
 * control-field parsing, config overrides, symlink relocation and error lines.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { buildCpio } from '../../src/target/cpio.js';
import { ConsoleParser } from '../../src/target/console-parser.js';
import { controlField, dependsConstraint, parseDependsField } from '../../src/target/debian.js';
import { compareDebianVersions } from '../../src/kernel/version.js';
import { generateInit, shq } from '../../src/target/init-script.js';
import { decodeKallsymsDump, isPlaceholderMap, kallsymsToSystemMap } from '../../src/target/kallsyms.js';
import { moduleNameOfFile } from '../../src/kmod/names.js';
import { modinfoOfImage } from '../../src/target/modinfo.js';
import { applyConfigOverrides, compilerOf } from '../../src/target/source.js';
import { relativizeSymlinks, relocateHeadersMakefile } from '../../src/target/unpack.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { KELP_BIN } from '../support/paths.js';
import { makeTmpDir } from '../support/tmp.js';

let pre: PrereqStatus | undefined;
beforeAll(async () => {
  pre = await ensureDebianPackages(['cpio', 'busybox-static', 'make']);
}, 600_000);

describe('newc cpio writer', () => {
  test('the cpio tool lists and extracts exactly what was written', async () => {
    if (skipUnlessReady(pre)) return;
    const image = buildCpio([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: 'bin/hello', data: Buffer.from('#!/bin/sh\necho hi\n'), mode: 0o755 },
      { type: 'file', path: 'empty', data: Buffer.alloc(0) },
      { type: 'file', path: 'odd-size-name.txt', data: Buffer.from('12345') },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'chardev', path: 'console', major: 5, minor: 1 },
    ]);
    expect(image.length % 4).toBe(0);
    expect(image.subarray(0, 6).toString()).toBe('070701');
    const tmp = makeTmpDir('cpio');
    try {
      const list = await execa('cpio', ['-itv', '--quiet'], { input: image });
      const rows = list.stdout.split('\n').map((l) => l.trim().split(/\s+/));
      expect(rows.map((r) => r[r.length - 1] === 'busybox' ? r[r.length - 3] : r[r.length - 1]))
        .toEqual(['bin', 'bin/hello', 'empty', 'odd-size-name.txt', 'bin/sh', 'console']);
      expect(rows.map((r) => r[0]![0])).toEqual(['d', '-', '-', '-', 'l', 'c']);
      // Extract regular files and links (device nodes need root, skip them here).
      await execa('cpio', ['-id', '--quiet', '--no-absolute-filenames', 'bin', 'bin/*', 'empty', 'odd-size-name.txt'], { input: image, cwd: tmp.dir });
      expect(await fs.readFile(join(tmp.dir, 'bin/hello'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      expect((await fs.stat(join(tmp.dir, 'bin/hello'))).mode & 0o777).toBe(0o755);
      expect(await fs.readFile(join(tmp.dir, 'odd-size-name.txt'), 'utf8')).toBe('12345');
      expect((await fs.stat(join(tmp.dir, 'empty'))).size).toBe(0);
      expect(await fs.readlink(join(tmp.dir, 'bin/sh'))).toBe('busybox');
    } finally {
      tmp.cleanup();
    }
  });

  test('the same entries always give the same bytes; bad paths are refused', () => {
    const entries = [{ type: 'file' as const, path: 'a', data: Buffer.from('x') }];
    expect(buildCpio(entries).equals(buildCpio(entries))).toBe(true);
    expect(() => buildCpio([{ type: 'dir', path: '../etc' }])).toThrow(/bad cpio path/);
  });
});

describe('init script and console parser', () => {
  /** Runs the generated init's reporting under busybox sh with stand-ins for the VM-only steps. */
  async function runInit(checks: string[], disable: string[]): Promise<string> {
    const tmp = makeTmpDir('init');
    try {
      const script = generateInit({ nonce: '0123456789abcdef', modules: [], checks: checks.length, disable, kelpctl: false, transitionTimeout: 5 })
        .replace(/^mount .*$/gm, ':')
        .replace(/^dmesg -n 1$/m, ':')
        .replace(/^dmesg >\/tmp\/o$/m, 'printf "[    1.0] livepatch: hello\\n[    2.0] other\\n" >/tmp/o')
        .replace(/\/tmp\//g, `${tmp.dir}/`)
        .replace(/^sleep 10$/m, ':')
        .replace(/^poweroff -f$/m, ':')
        .replace(/\/kelp\/checks\//g, `${tmp.dir}/c`)
        .replace(/\/proc\/sys\/kernel\/tainted/, `${tmp.dir}/tainted`)
        .replace(/\/proc\/uptime/, `${tmp.dir}/uptime`);
      await fs.writeFile(join(tmp.dir, 'tainted'), '4096\n');
      await fs.writeFile(join(tmp.dir, 'uptime'), '1.23 0.00\n');
      for (const [j, c] of checks.entries()) await fs.writeFile(join(tmp.dir, `c${j}.sh`), `${c}\n`);
      const r = await execa('busybox', ['sh', '-c', script], { reject: false, env: { PATH: process.env.PATH } });
      return r.stdout;
    } finally {
      tmp.cleanup();
    }
  }

  test('check output comes back byte for byte with its exit code, whatever it contains', async () => {
    if (skipUnlessReady(pre)) return;
    const tricky = 'printf "a line\\n@@KELP:0123456789abcdef:done\\n\\tno newline at end \\303\\251"; exit 7';
    const console = await runInit(['echo hello', tricky, 'true'], ['some_patch']);
    const p = new ConsoleParser('0123456789abcdef');
    // Feed in odd-sized pieces with CRLF, as a serial console delivers it.
    const crlf = console.replace(/\n/g, '\r\n');
    for (let i = 0; i < crlf.length; i += 7) p.push(crlf.slice(i, i + 7));
    p.end();
    expect(p.bootUptime).toBe(1.23);
    expect(p.checks.p.get(0)).toEqual({ exitCode: 0, output: 'hello\n' });
    expect(p.checks.p.get(1)).toEqual({ exitCode: 7, output: 'a line\n@@KELP:0123456789abcdef:done\n\tno newline at end é' });
    expect(p.checks.p.get(2)).toEqual({ exitCode: 0, output: '' });
    // Without kelpctl, disabling a patch that is not in sysfs is reported, not fatal.
    expect(p.disables.get(0)).toEqual({ exitCode: 7, enabled: null, output: 'no such patch: some_patch\n' });
    expect(p.checks.d.size).toBe(3);
    expect(p.taint).toBe(4096);
    expect(p.dmesg).toEqual(['[    1.0] livepatch: hello', '[    2.0] other']);
    expect(p.done).toBe(true);
  });

  test('lines without the run\'s nonce are ignored, and shq quotes for sh', async () => {
    const p = new ConsoleParser('feedfacefeedface');
    p.push('@@KELP:0123456789abcdef:done\n[    3.1] random kernel line\n');
    expect(p.done).toBe(false);
    p.push('garbage before @@KELP:feedfacefeedface:done\r\n');
    expect(p.done).toBe(true);
    if (skipUnlessReady(pre)) return;
    const r = await execa('busybox', ['sh', '-c', `printf '%s' ${shq("it's a \"$HOME\" `x`")}`]);
    expect(r.stdout).toBe("it's a \"$HOME\" `x`");
  });
});

describe('Debian metadata, configs, maps', () => {
  test('control fields and dependency lists', () => {
    const stanza = 'Package: linux-headers-6.1.0-9-amd64\nVersion: 6.1.27-1\nDepends: linux-headers-6.1.0-9-common (= 6.1.27-1),\n linux-kbuild-6.1 (>= 6.1.27-1), gcc-12 | gcc\nSize: 1';
    expect(controlField(stanza, 'Version')).toBe('6.1.27-1');
    expect(parseDependsField(controlField(stanza, 'Depends')!)).toEqual(['linux-headers-6.1.0-9-common', 'linux-kbuild-6.1', 'gcc-12']);
    expect(controlField(stanza, 'Missing')).toBeUndefined();
  });

  test('Debian versions compare as dpkg --compare-versions does; Depends constraints are read per package', async () => {
    const vs = ['6.1.170-3', '6.1.176-1', '6.1.176-1~deb11u1', '6.12.117-1~deb12u1', '6.12.117-1', '6.12.9-1', '1:6.1.0-1', '6.1.170-3+b1', '6.1.170', '6.1.170-3.1', '6.1~rc1-1', '6.1a-1'];
    for (const a of vs) {
      for (const b of vs) {
        const lt = await execa('dpkg', ['--compare-versions', a, 'lt', b], { reject: false });
        const gt = await execa('dpkg', ['--compare-versions', a, 'gt', b], { reject: false });
        const want = lt.exitCode === 0 ? -1 : gt.exitCode === 0 ? 1 : 0;
        expect([a, b, Math.sign(compareDebianVersions(a, b))]).toEqual([a, b, want]);
      }
    }
    const depends = 'linux-headers-6.1.0-47-common (= 6.1.170-3), linux-kbuild-6.1 (>= 6.1.170-3), linux-compiler-gcc-12-x86';
    expect(dependsConstraint(depends, 'linux-kbuild-6.1')).toEqual({ op: '>=', version: '6.1.170-3' });
    expect(dependsConstraint(depends, 'linux-compiler-gcc-12-x86')).toBeUndefined();
    expect(dependsConstraint('a | linux-kbuild-6.12.107+deb13, gcc-14', 'linux-kbuild-6.12.107+deb13')).toBeUndefined();
  });

  test('config overrides replace, unset and append options', () => {
    const cfg = 'CONFIG_A=y\nCONFIG_MODULE_SIG_KEY="certs/signing_key.pem"\nCONFIG_MODULE_SIG_ALL=y\nCONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14) 12.2.0"\n';
    const out = applyConfigOverrides(cfg);
    expect(out).toMatch(/^CONFIG_MODULE_SIG_KEY=""$/m);
    expect(out).toMatch(/^# CONFIG_MODULE_SIG_ALL is not set$/m);
    expect(out).toMatch(/^CONFIG_SYSTEM_TRUSTED_KEYS=""$/m);
    expect(out).toMatch(/^CONFIG_A=y$/m);
    expect(out).not.toMatch(/signing_key/);
    expect(compilerOf(cfg)).toBe('gcc-12');
  });

  test('kallsyms become a System.map; placeholders are recognised', () => {
    const ks = 'ffffffff81000000 T _text\nffffffff81000010 t helper\nffffffffc0000000 t mod_fn\t[some_mod]\n';
    expect(kallsymsToSystemMap(ks)).toBe('ffffffff81000000 T _text\nffffffff81000010 t helper\n');
    expect(isPlaceholderMap('ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n')).toBe(true);
    const gz = gzipSync(Buffer.from(ks)).toString('base64');
    const lines = gz.match(/.{1,20}/g)!.join('\r\n');
    const text = `noise\n@@KELP:abcd:begin\r\n${lines}\r\n[  1.0] kernel line\n@@KELP:abcd:end\n`;
    expect(decodeKallsymsDump(text, 'abcd')).toBe(ks);
    expect(decodeKallsymsDump('@@KELP:abcd:begin\nAAAA\n@@KELP:abcd:end\n', 'abcd')).toBeUndefined();
  });

  test('module names: from .modinfo, else from the file name', () => {
    expect(moduleNameOfFile('/x/livepatch-cmdline.ko')).toBe('livepatch_cmdline');
    expect(modinfoOfImage(Buffer.from('not an elf'))).toBeUndefined();
  });
});

describe('unpacked trees', () => {
  test('absolute links and the headers Makefile include are made relative to the tree', async () => {
    if (skipUnlessReady(pre)) return;
    const tmp = makeTmpDir('unpack');
    try {
      const root = tmp.dir;
      await fs.mkdir(join(root, 'usr/src/linux-headers-1-common'), { recursive: true });
      await fs.mkdir(join(root, 'usr/src/linux-headers-1-amd64'), { recursive: true });
      await fs.mkdir(join(root, 'lib/modules/1-amd64'), { recursive: true });
      await fs.writeFile(join(root, 'usr/src/linux-headers-1-common/Makefile'), 'all:\n\t@echo common-makefile\n');
      await fs.writeFile(join(root, 'usr/src/linux-headers-1-amd64/Makefile'), 'include /usr/src/linux-headers-1-common/Makefile\n');
      await fs.symlink('/usr/src/linux-headers-1-amd64', join(root, 'lib/modules/1-amd64/build'));
      await fs.symlink('../keep/relative', join(root, 'lib/modules/1-amd64/rel'));
      const changed = await relativizeSymlinks(root);
      expect(changed).toEqual([[join(root, 'lib/modules/1-amd64/build'), '../../../usr/src/linux-headers-1-amd64']]);
      expect(await fs.readlink(join(root, 'lib/modules/1-amd64/rel'))).toBe('../keep/relative');
      await relocateHeadersMakefile(join(root, 'usr/src/linux-headers-1-amd64'));
      const r = await execa('make', ['-s', '-C', join(root, 'lib/modules/1-amd64/build')], { reject: false });
      expect(r.stdout).toBe('common-makefile');
    } finally {
      tmp.cleanup();
    }
  });
});

describe('CLI errors', () => {
  test('a missing qemu is one line naming the Debian package', async () => {
    const tmp = makeTmpDir('nopath');
    try {
      // A kernel-shaped file, so kelp gets as far as looking for qemu.
      const k = Buffer.alloc(0x400);
      k.write('HdrS', 0x202, 'latin1');
      k.writeUInt16LE(0xaa55, 0x1fe);
      await fs.writeFile(join(tmp.dir, 'vmlinuz'), k);
      const r = await execa(process.execPath, [KELP_BIN, 'target', 'run', '--kernel', join(tmp.dir, 'vmlinuz')], { reject: false, env: { PATH: tmp.dir } });
      expect(r.exitCode).toBe(1);
      expect(r.stderr.trim()).toBe('kelp: qemu-system-x86_64: not found; install the Debian package qemu-system-x86 (apt-get install qemu-system-x86)');
    } finally {
      tmp.cleanup();
    }
  });

  test('a bad --timeout is a usage error, not a stack trace', async () => {
    const r = await execa(KELP_BIN, ['target', 'run', '--kernel', '/x', '--timeout', 'soon'], { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr.trim()).toBe('kelp: --timeout: not a positive number of seconds: soon');
  });
});

describe('kelp target add\'s pieces', () => {
  test('System.map from nm -n: the kinds scripts/mksysmap leaves out are left out', async () => {
    const { systemMapFromNm } = await import('../../src/target/custom.js');
    const nm = [
      '0000000000000000 a __kelp_abs', 'ffffffff81000000 T _text', 'ffffffff81000010 t cmdline_proc_show', '                 U undefined_thing',
      'ffffffff82000000 D linux_banner', 'ffffffff82000100 r __kstrtab_foo', 'ffffffff82000200 R __crc_foo', 'ffffffff82000300 N .debug_x', 'not a line',
    ].join('\n');
    expect(systemMapFromNm(nm)).toBe('ffffffff81000000 T _text\nffffffff81000010 t cmdline_proc_show\nffffffff82000000 D linux_banner\n');
    expect(systemMapFromNm('')).toBe('');
  });

  test('the Debian release of a kernel\'s compiler, for its build root', async () => {
    const { debianReleaseOfCompiler } = await import('../../src/kernel/toolchain.js');
    expect(debianReleaseOfCompiler('gcc (Debian 12.2.0-14+deb12u1) 12.2.0')).toBe('bookworm');
    expect(debianReleaseOfCompiler('gcc-12 (Debian 12.2.0-14+deb12u1) 12.2.0')).toBe('bookworm');
    expect(debianReleaseOfCompiler('x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0')).toBe('trixie');
    expect(debianReleaseOfCompiler('gcc (GCC) 13.2.1 20230801')).toBeUndefined();
    expect(debianReleaseOfCompiler('clang version 16.0.6')).toBeUndefined();
  });
});
