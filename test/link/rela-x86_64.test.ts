import {
  R_X86_64_32, R_X86_64_32S, R_X86_64_64, R_X86_64_GOTPCREL, R_X86_64_NONE, R_X86_64_PC32, R_X86_64_PC64,
  R_X86_64_PLT32, R_X86_64_REX_GOTPCRELX,
} from '../../elf/constants.js';
import { computeRelocation, describeRelocation, isSupportedRelocation, relocationName, supportedRelocations } from '../../rela/x86_64.js';

const KERNEL_TEXT = 0xffffffff81000000n;
const MODULE_AREA = 0xffffffffc0000000n;

describe('rela/x86_64 descriptors', () => {
  test('the module loader\'s types, in type order, with their size and formula', () => {
    expect(supportedRelocations().map((d) => [d.name, d.size, d.formula])).toEqual([
      ['R_X86_64_NONE', 0, 'none'],
      ['R_X86_64_64', 8, 'S + A'],
      ['R_X86_64_PC32', 4, 'S + A - P'],
      ['R_X86_64_PLT32', 4, 'S + A - P'],
      ['R_X86_64_32', 4, 'S + A'],
      ['R_X86_64_32S', 4, 'S + A'],
      ['R_X86_64_PC64', 8, 'S + A - P'],
    ]);
  });

  test('PC-relative, signedness and the kernel\'s range checks', () => {
    expect(describeRelocation(R_X86_64_PC32)).toMatchObject({ pcRelative: true, signed: true, kernelCheck: 'none' });
    expect(describeRelocation(R_X86_64_32)).toMatchObject({ pcRelative: false, signed: false, kernelCheck: 'unsigned32' });
    expect(describeRelocation(R_X86_64_32S)).toMatchObject({ pcRelative: false, signed: true, kernelCheck: 'signed32' });
    expect(describeRelocation(R_X86_64_64)).toMatchObject({ pcRelative: false, kernelCheck: 'none' });
  });

  test('types the loader refuses have no descriptor', () => {
    expect(describeRelocation(R_X86_64_GOTPCREL)).toBeUndefined();
    expect(isSupportedRelocation(R_X86_64_REX_GOTPCRELX)).toBe(false);
    expect(isSupportedRelocation(R_X86_64_PLT32)).toBe(true);
    expect(relocationName(R_X86_64_REX_GOTPCRELX)).toBe('R_X86_64_REX_GOTPCRELX');
    expect(relocationName(200)).toBe('R_X86_64_<200>');
    expect(() => computeRelocation(R_X86_64_GOTPCREL, 0n, 0n, 0n)).toThrow(/not a relocation type/);
  });
});

describe('computeRelocation', () => {
  test('PC32 from module code to a vmlinux symbol: S + A - P, little-endian', () => {
    const S = KERNEL_TEXT + 0x1234n;
    const P = MODULE_AREA + 0x10n;
    const r = computeRelocation(R_X86_64_PC32, S, -4n, P);
    expect(r.value).toBe(BigInt.asUintN(64, S - 4n - P));
    expect(r.overflow).toBe(false);
    expect(r.kernelRefuses).toBe(false);
    expect(r.bytes.readInt32LE(0)).toBe(Number(S - 4n - P));
  });

  test('PLT32 computes as PC32', () => {
    const a = computeRelocation(R_X86_64_PC32, KERNEL_TEXT, -4n, MODULE_AREA);
    const b = computeRelocation(R_X86_64_PLT32, KERNEL_TEXT, -4n, MODULE_AREA);
    expect(b.value).toBe(a.value);
    expect(b.bytes).toEqual(a.bytes);
  });

  test('PC32 beyond ±2 GiB overflows, which the kernel itself does not check', () => {
    const r = computeRelocation(R_X86_64_PC32, 0x100000000n, 0n, 0n);
    expect(r.overflow).toBe(true);
    expect(r.kernelRefuses).toBe(false);
    const edge = computeRelocation(R_X86_64_PC32, 0x7fffffffn, 0n, 0n);
    expect(edge.overflow).toBe(false);
    expect(computeRelocation(R_X86_64_PC32, 0n, 0n, 0x80000001n).overflow).toBe(true);
    expect(computeRelocation(R_X86_64_PC32, 0n, 0n, 0x80000000n).overflow).toBe(false);
  });

  test('32S: kernel addresses fit sign-extended, user-range ones do not', () => {
    const ok = computeRelocation(R_X86_64_32S, KERNEL_TEXT, 8n, 0n);
    expect(ok.overflow).toBe(false);
    expect(ok.kernelRefuses).toBe(false);
    expect(ok.bytes.readUInt32LE(0)).toBe(0x81000008);
    const bad = computeRelocation(R_X86_64_32S, 0x80000000n, 0n, 0n);
    expect(bad.overflow).toBe(true);
    expect(bad.kernelRefuses).toBe(true);
  });

  test('32: zero-extended, so a kernel address overflows and the kernel refuses it', () => {
    expect(computeRelocation(R_X86_64_32, 0xfffffffen, 1n, 0n)).toMatchObject({ overflow: false, kernelRefuses: false });
    expect(computeRelocation(R_X86_64_32, KERNEL_TEXT, 0n, 0n)).toMatchObject({ overflow: true, kernelRefuses: true });
    expect(computeRelocation(R_X86_64_32, 0xffffffffn, 1n, 0n)).toMatchObject({ overflow: true, kernelRefuses: true });
  });

  test('64 and PC64 wrap in 64 bits and never overflow', () => {
    const r = computeRelocation(R_X86_64_64, KERNEL_TEXT, 0x10n, 0n);
    expect(r.bytes.readBigUInt64LE(0)).toBe(KERNEL_TEXT + 0x10n);
    expect(r.overflow).toBe(false);
    const pc = computeRelocation(R_X86_64_PC64, 0n, 0n, 8n);
    expect(pc.value).toBe(0xfffffffffffffff8n);
    expect(pc.bytes.readBigInt64LE(0)).toBe(-8n);
  });

  test('NONE writes nothing', () => {
    expect(computeRelocation(R_X86_64_NONE, 1n, 2n, 3n)).toEqual({ value: 0n, bytes: Buffer.alloc(0), overflow: false, kernelRefuses: false });
  });
});
