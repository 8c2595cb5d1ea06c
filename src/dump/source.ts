/**
 * The bytes of the file being dumped. Small files are read whole; a large one
 * (the node binary is ~100 MB) gets a zero-filled buffer of its full size that
 * the kernel maps lazily, and only the blocks a printer asks for through
 * `need` are read into it. Offsets and lengths stay exactly those of the file,
 * so the reader's bounds checks behave as with a whole read, and peak memory
 * follows what the options touch (for `-s`: the symbol and string tables).
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';

const BLOCK = 1 << 16;

export class FileSource {
  private readonly loaded: Uint8Array | undefined;

  private constructor(readonly buf: Buffer, private readonly fd: number | undefined) {
    this.loaded = fd === undefined ? undefined : new Uint8Array(Math.ceil(buf.length / BLOCK));
  }

  /** A source over bytes already in memory. */
  static whole(buf: Buffer): FileSource {
    return new FileSource(buf, undefined);
  }

  /** Opens `file`; files of at least `sparseFrom` bytes are read on demand. */
  static open(file: string, sparseFrom: number): FileSource {
    const fd = openSync(file, 'r');
    let size: number;
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) {
        const e = new Error('is a directory') as NodeJS.ErrnoException;
        e.code = 'EISDIR';
        e.path = file;
        throw e;
      }
      size = st.size;
      if (!st.isFile() || size < sparseFrom) {
        closeSync(fd);
        return new FileSource(readFileSync(file), undefined);
      }
    } catch (err) {
      try { closeSync(fd); } catch { /* already closed */ }
      throw err;
    }
    return new FileSource(Buffer.alloc(size), fd);
  }

  /** Makes bytes [off, off + len) of the file (clamped to it) available in `buf`. */
  need(off: number, len: number | bigint): void {
    const loaded = this.loaded;
    if (loaded === undefined) return;
    const size = this.buf.length;
    if (!(off >= 0) || off >= size) return;
    const n = typeof len === 'bigint' ? (len > BigInt(size) ? size : Number(len)) : len;
    if (!(n > 0)) return;
    const end = Math.min(size, off + n);
    for (let b = Math.floor(off / BLOCK); b * BLOCK < end; b++) {
      if (loaded[b]) continue;
      // Read runs of missing blocks in one call.
      let e = b;
      while ((e + 1) * BLOCK < end && !loaded[e + 1]) e++;
      const start = b * BLOCK;
      const stop = Math.min(size, (e + 1) * BLOCK);
      let done = 0;
      while (start + done < stop) {
        const r = readSync(this.fd!, this.buf, start + done, stop - start - done, start + done);
        if (r <= 0) break;
        done += r;
      }
      for (let k = b; k <= e; k++) loaded[k] = 1;
      b = e;
    }
  }

  close(): void {
    if (this.fd !== undefined) {
      try { closeSync(this.fd); } catch { /* ignore */ }
    }
  }
}

/** Loads what ElfFile.parse reads: the file header, both header tables and the section name table. */
export function preloadHeaders(src: FileSource): void {
  const buf = src.buf;
  src.need(0, 64);
  if (buf.length < 64 || buf[4] !== 2 || buf[5] !== 1) return;
  const phoff = buf.readBigUInt64LE(0x20);
  const shoff = buf.readBigUInt64LE(0x28);
  let phnum = buf.readUInt16LE(0x38);
  let shnum = buf.readUInt16LE(0x3c);
  let shstrndx = buf.readUInt16LE(0x3e);
  const size = BigInt(buf.length);
  if (shoff !== 0n && shoff < size) {
    const so = Number(shoff);
    src.need(so, 64);
    if (so + 64 <= buf.length) {
      if (shnum === 0) shnum = Math.min(Number(buf.readBigUInt64LE(so + 0x20) & 0xffffffffn), buf.length);
      if (shstrndx === 0xffff) shstrndx = buf.readUInt32LE(so + 0x28);
      if (phnum === 0xffff) phnum = buf.readUInt32LE(so + 0x2c);
    }
    src.need(so, Math.min(shnum * 64, buf.length));
    if (shstrndx !== 0 && shstrndx < shnum) {
      const h = so + shstrndx * 64;
      if (h + 64 <= buf.length) {
        const off = buf.readBigUInt64LE(h + 0x18);
        const len = buf.readBigUInt64LE(h + 0x20);
        if (off < size) src.need(Number(off), len);
      }
    }
  }
  if (phoff < size) src.need(Number(phoff), Math.min(phnum * 56, buf.length));
}
