/**
 * Compressed target files: Debian 6.12's modules (.ko.xz) and the vmlinux
 * inside a bzImage (xz on Debian's 6.1, zstd on its 6.12). Real xz, zstd and
 * gzip output; a module built by gcc; bzImages laid out as the x86 boot
 * protocol says (setup_sects, "HdrS", payload_offset/payload_length, and
 * kbuild's 4-byte size trailer for xz and zstd).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ensureDebianPackages } from '../support/prereq.js';
import { DECOMPRESS_PACKAGES } from '../../src/target/packages.js';
import { compressionOf, moduleStem, readMaybeCompressed } from '../../src/util/decompress.js';
import { readKernelElf } from '../../src/target/kernel-image.js';
import { identifyModule } from '../../src/target/modinfo.js';
import { readSymbolTable } from '../../src/symbols/read.js';
import { moduleNameOfFile } from '../../src/kmod/names.js';
import { withDependencies } from '../../src/build/module-deps.js';

let dir: string;
let ko: string;

beforeAll(async () => {
  await ensureDebianPackages([...DECOMPRESS_PACKAGES, 'gcc', 'binutils']);
  dir = mkdtempSync(join(tmpdir(), 'kelp-compressed-'));
  const c = join(dir, 'm.c');
  writeFileSync(c, [
    'int used_by_test(int x) { return x + 1; }',
    'static const char modinfo[] __attribute__((section(".modinfo"), used)) = "name=demo_mod\\0depends=dep_a\\0vermagic=6.12.95+deb12-amd64 SMP preempt mod_unload modversions ";',
  ].join('\n'));
  ko = join(dir, 'demo-mod.ko');
  execFileSync('gcc', ['-c', c, '-o', ko]);
  execFileSync('xz', ['-k', '--check=crc32', ko]);
  const dep = join(dir, 'dep_a.ko');
  writeFileSync(join(dir, 'd.c'), 'static const char modinfo[] __attribute__((section(".modinfo"), used)) = "name=dep_a\\0depends=";\n');
  execFileSync('gcc', ['-c', join(dir, 'd.c'), '-o', dep]);
  execFileSync('xz', ['--check=crc32', dep]);
}, 900_000);

/** A bzImage: boot sector and setup header, then the payload `compressed` at payload_offset. */
function bzImage(compressed: Buffer, trailer: number | null): Buffer {
  const setupSects = 3;
  const head = Buffer.alloc((setupSects + 1) * 512);
  head[0x1f1] = setupSects;
  head.writeUInt16LE(0xaa55, 0x1fe);
  head.writeUInt32LE(0x53726448, 0x202);
  head.writeUInt16LE(0x020f, 0x206);
  const pad = Buffer.alloc(0x100, 0x90);
  const payload = trailer === null ? compressed : Buffer.concat([compressed, Buffer.from(Uint32Array.of(trailer).buffer)]);
  head.writeUInt32LE(pad.length, 0x248);
  head.writeUInt32LE(payload.length, 0x24c);
  return Buffer.concat([head, pad, payload, Buffer.alloc(64, 0xcc)]);
}

describe('compressed files', () => {
  test('the format is told by the magic, not the name', () => {
    expect(compressionOf(readFileSync(`${ko}.xz`))).toBe('xz');
    expect(compressionOf(readFileSync(ko))).toBeNull();
    expect(readMaybeCompressed(`${ko}.xz`)).toEqual(readFileSync(ko));
    expect(moduleStem('ext4.ko.xz')).toBe('ext4');
    expect(moduleStem('ext4.ko')).toBe('ext4');
    expect(moduleStem('ext4.o')).toBeNull();
  });

  test('a corrupt .ko.xz is one clear error naming the file', () => {
    const bad = join(dir, 'bad.ko.xz');
    writeFileSync(bad, readFileSync(`${ko}.xz`).subarray(0, 60));
    expect(() => readMaybeCompressed(bad)).toThrow(/cannot decompress \(xz\)/);
  });

  test('modinfo, module names, symbols and dependencies of a .ko.xz', async () => {
    const id = await identifyModule(`${ko}.xz`);
    expect(id).toMatchObject({ name: 'demo_mod', isModule: true, vermagic: expect.stringMatching(/^6\.12\.95/) });
    expect(moduleNameOfFile('/x/demo-mod.ko.xz')).toBe('demo_mod');
    expect(readSymbolTable(`${ko}.xz`).symbols.some((s) => s.name === 'used_by_test' && s.defined)).toBe(true);
    const order = withDependencies([`${ko}.xz`], (n) => (n === 'dep_a' ? join(dir, 'dep_a.ko.xz') : undefined));
    expect(order.order).toEqual([join(dir, 'dep_a.ko.xz'), `${ko}.xz`]);
  });

  test.each(['xz', 'zstd', 'gzip'] as const)('the vmlinux ELF inside a %s bzImage', (c) => {
    const elf = readFileSync(ko);
    const packed = c === 'gzip' ? gzipSync(elf)
      : execFileSync(c, c === 'xz' ? ['-c', '--check=crc32'] : ['-c', '-q'], { input: elf });
    const img = join(dir, `vmlinuz-${c}`);
    writeFileSync(img, bzImage(packed, c === 'gzip' ? null : elf.length));
    expect(readKernelElf(img)).toEqual(elf);
  });

  test('a bzImage whose size trailer disagrees, or that is not one', () => {
    const elf = readFileSync(ko);
    const img = join(dir, 'vmlinuz-bad');
    writeFileSync(img, bzImage(execFileSync('xz', ['-c', '--check=crc32'], { input: elf }), elf.length + 1));
    expect(() => readKernelElf(img)).toThrow(/not the \d+ its size trailer says/);
    const junk = join(dir, 'junk');
    writeFileSync(junk, Buffer.alloc(4096, 1));
    expect(() => readKernelElf(junk)).toThrow(/neither an ELF vmlinux nor an x86 bzImage/);
  });
});
