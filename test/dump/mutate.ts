/**
 * Seeded mutations of ELF files for the dump fuzz tests: truncation, flipped
 * bytes, inflated counts, offsets past the end, circular sh_link, zero entry
 * sizes, overlapping tables, random symbols, relocations and notes.
 */
export interface Shdr { off: number; type: number; offset: number; size: number; link: number; entsize: number }

export function sectionHeaders(buf: Buffer): Shdr[] {
  if (buf.length < 64) return [];
  const shoff = Number(buf.readBigUInt64LE(0x28));
  let shnum = buf.readUInt16LE(0x3c);
  if (shoff === 0 || shoff + 64 > buf.length) return [];
  if (shnum === 0) shnum = Math.min(Number(buf.readBigUInt64LE(shoff + 0x20)), 100000);
  const out: Shdr[] = [];
  for (let i = 0; i < shnum && shoff + (i + 1) * 64 <= buf.length; i++) {
    const o = shoff + i * 64;
    out.push({ off: o, type: buf.readUInt32LE(o + 4), offset: Number(buf.readBigUInt64LE(o + 0x18)), size: Number(buf.readBigUInt64LE(o + 0x20)), link: buf.readUInt32LE(o + 0x28), entsize: Number(buf.readBigUInt64LE(o + 0x38)) });
  }
  return out;
}

export const MUTATIONS = [
  'truncate', 'flip', 'flip-header', 'flip-shdr', 'inflate-count', 'offset-past-end', 'circular-link', 'zero-entsize',
  'overlap', 'shstrndx', 'symbol', 'relocation', 'note', 'phdr', 'big-size',
] as const;

/** One deterministic mutation of `src`. */
export function mutate(src: Buffer, kind: (typeof MUTATIONS)[number], r: () => number): Buffer {
  const buf = Buffer.from(src);
  const int = (n: number) => Math.floor(r() * n);
  const shdrs = sectionHeaders(buf);
  const pick = (pred: (s: Shdr) => boolean = () => true): Shdr | undefined => {
    const c = shdrs.filter(pred);
    return c.length ? c[int(c.length)] : undefined;
  };
  const huge = (): bigint => [0xffffffffffffffffn, 0x7fffffffffffffffn, BigInt(buf.length) + BigInt(int(64)), 0x100000000n, BigInt(buf.length) * 1000n][int(5)];
  switch (kind) {
    case 'truncate':
      return buf.subarray(0, int(buf.length));
    case 'flip':
      for (let k = 1 + int(8); k > 0; k--) buf[int(buf.length)] ^= 1 << int(8);
      return buf;
    case 'flip-header':
      for (let k = 1 + int(3); k > 0; k--) buf[int(64)] = int(256);
      return buf;
    case 'flip-shdr': {
      const s = pick();
      if (s) for (let k = 1 + int(3); k > 0; k--) buf[s.off + int(64)] = int(256);
      return buf;
    }
    case 'inflate-count': {
      const which = int(3);
      if (which === 0) buf.writeUInt16LE(buf.readUInt16LE(0x3c) + 1 + int(5000), 0x3c);
      else if (which === 1) buf.writeUInt16LE(1 + int(0xffff), 0x38);
      else {
        const s = pick((x) => x.type !== 8);
        if (s) buf.writeBigUInt64LE(BigInt(s.size) * BigInt(2 + int(100)) + BigInt(int(24)), s.off + 0x20);
      }
      return buf;
    }
    case 'offset-past-end': {
      const s = pick();
      const which = int(3);
      if (which === 0 && s) buf.writeBigUInt64LE(huge(), s.off + 0x18);
      else if (which === 1) buf.writeBigUInt64LE(huge(), 0x28);
      else buf.writeBigUInt64LE(huge(), 0x20);
      return buf;
    }
    case 'circular-link': {
      const s = pick((x) => x.type === 2 || x.type === 11 || x.type === 4 || x.type === 9 || x.type === 17 || x.type === 18);
      if (s) {
        const target = [shdrs.indexOf(s), int(shdrs.length), shdrs.findIndex((x) => x.type === 4 || x.type === 9), shdrs.length + int(10)][int(4)];
        buf.writeUInt32LE(Math.max(0, target), s.off + 0x28);
      }
      return buf;
    }
    case 'zero-entsize': {
      const s = pick((x) => x.entsize !== 0) ?? pick();
      if (s) buf.writeBigUInt64LE(BigInt([0, 1, 7, 23, 25, 4096][int(6)]), s.off + 0x38);
      return buf;
    }
    case 'overlap': {
      const a = pick((x) => x.type !== 0);
      const b = pick((x) => x.type !== 0);
      if (a && b) {
        buf.writeBigUInt64LE(BigInt(b.offset), a.off + 0x18);
        if (r() < 0.5) buf.writeBigUInt64LE(BigInt(b.size), a.off + 0x20);
      }
      return buf;
    }
    case 'shstrndx':
      buf.writeUInt16LE([0, int(shdrs.length + 2), 0xffff, int(0x10000)][int(4)], 0x3e);
      return buf;
    case 'symbol': {
      const s = pick((x) => x.type === 2 || x.type === 11);
      if (s && s.size >= 24 && s.offset + s.size <= buf.length) {
        for (let k = 1 + int(6); k > 0; k--) {
          const e = s.offset + 24 * int(Math.floor(s.size / 24));
          const field = int(4);
          if (field === 0) buf.writeUInt32LE(int(2) ? int(0x100000) : 0xffffffff - int(10), e);
          else if (field === 1) buf[e + 4] = int(256);
          else if (field === 2) buf[e + 5] = int(256);
          else buf.writeUInt16LE([0, 0xfff1, 0xfff2, 0xff20, 0xffff, 0xff02, 0xff00 + int(256), int(0x10000)][int(8)], e + 6);
        }
      }
      return buf;
    }
    case 'relocation': {
      const s = pick((x) => x.type === 4 || x.type === 9);
      if (s && s.size >= 16 && s.offset + s.size <= buf.length) {
        const ent = s.type === 4 ? 24 : 16;
        for (let k = 1 + int(4); k > 0; k--) {
          const e = s.offset + ent * int(Math.floor(s.size / ent));
          if (e + ent > buf.length) break;
          const field = int(3);
          if (field === 0) buf.writeUInt32LE(int(2) ? int(0x100000) : int(300), e + 12);
          else if (field === 1) buf.writeUInt32LE(int(300), e + 8);
          else if (ent === 24) buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(int(0x7fffffff)) * (r() < 0.5 ? -1n : 1n) * 0x10001n), e + 16);
        }
      }
      return buf;
    }
    case 'note': {
      const s = pick((x) => x.type === 7);
      if (s && s.size >= 12 && s.offset + 12 <= buf.length) {
        const o = s.offset + 4 * int(Math.max(1, Math.floor(s.size / 4) - 2));
        if (o + 4 <= buf.length) buf.writeUInt32LE([0, 1, 3, 4, 5, 0x100, 0xffffffff, int(64)][int(8)], o);
      }
      return buf;
    }
    case 'phdr': {
      const phoff = Number(buf.readBigUInt64LE(0x20));
      const phnum = buf.readUInt16LE(0x38);
      if (phnum > 0 && phoff + phnum * 56 <= buf.length) {
        const o = phoff + 56 * int(phnum);
        const field = int(4);
        if (field === 0) buf.writeUInt32LE([0, 1, 2, 3, 4, 6, 7, 0x6474e550, 0x6474e553, int(0x80000000)][int(10)], o);
        else if (field === 1) buf.writeBigUInt64LE(huge(), o + 8);
        else if (field === 2) buf.writeBigUInt64LE(huge(), o + 32);
        else buf.writeBigUInt64LE(BigInt(int(2) ? 0 : 1 << int(20)), o + 48);
      }
      return buf;
    }
    case 'big-size': {
      const s = pick();
      if (s) buf.writeBigUInt64LE(huge(), s.off + 0x20);
      return buf;
    }
  }
}

