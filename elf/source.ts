/**
 * The bytes of an ELF file, for every reader in elf/ and for kelp dump. A
 * source's `buf` always spans the whole file, so offsets and lengths are
 * those of the file and bounds checks behave alike however it was read:
 *
 *  - whole: the file is in memory (a Buffer given, or a small file read at once);
 *  - on demand: a large file gets a buffer of its full size that the kernel
 *    maps lazily; only the blocks asked for through `need` are read into it
 *    (a block map remembers which), so pages no reader touches stay untouched.
 *    `peek` reads a region into a reusable read-ahead window instead, for
 *    bytes looked at once (header tables, relocation entries copied elsewhere).
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { ElfFormatError } from './errors.js';

/** The granule of on-demand reads (a page). */
const BLOCK = 4096;
/** The read-ahead window of `peek`. */
const WINDOW = 64 * 1024;

export class ByteSource {
  /** Which blocks of `buf` hold the file's bytes (undefined: all of them). */
  private readonly loaded: Uint8Array | undefined;
  private fd: number | undefined;
  private window: Buffer | null = null;
  private windowAt = 0;
  private windowLen = 0;

  private constructor(readonly buf: Buffer, readonly file: string, fd: number | undefined) {
    this.fd = fd;
    this.loaded = fd === undefined ? undefined : new Uint8Array(Math.ceil(buf.length / BLOCK));
  }

  /** A source over bytes already in memory. */
  static whole(buf: Buffer, file = ''): ByteSource {
    return new ByteSource(buf, file, undefined);
  }

  /** Opens `file`: read whole below `onDemandFrom` bytes (default: always on demand); `close` it when done. */
  static open(file: string, onDemandFrom = 0): ByteSource {
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
      if (!st.isFile() || size < onDemandFrom) {
        closeSync(fd);
        return new ByteSource(readFileSync(file), file, undefined);
      }
    } catch (err) {
      try { closeSync(fd); } catch { /* already closed */ }
      throw err;
    }
    // Zero-filled (a byte never read is 0, never stale memory) and lazily mapped: untouched pages stay unmapped.
    return new ByteSource(Buffer.alloc(size), file, fd);
  }

  /** True when the file is read on demand (and `buf` holds only what was asked for). */
  get onDemand(): boolean {
    return this.loaded !== undefined;
  }

  /** True when bytes [off, off + len) are in `buf`. */
  has(off: number, len: number): boolean {
    const loaded = this.loaded;
    if (loaded === undefined) return true;
    const end = Math.min(this.buf.length, off + len);
    for (let b = Math.floor(off / BLOCK); b * BLOCK < end; b++) if (!loaded[b]) return false;
    return true;
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
      this.read(this.buf, start, stop - start, start);
      for (let k = b; k <= e; k++) loaded[k] = 1;
      b = e;
    }
  }

  /**
   * Bytes [off, off + len) of the file: a view of `buf` when they are in it;
   * otherwise a view of a 64 KiB read-ahead window (neighbouring reads share
   * one system call) that stays valid until the next `peek`.
   */
  peek(off: number, len: number): Buffer {
    if (this.fd === undefined || this.has(off, len)) return this.buf.subarray(off, off + len);
    const w = this.window;
    if (w && off >= this.windowAt && off + len <= this.windowAt + this.windowLen) return w.subarray(off - this.windowAt, off - this.windowAt + len);
    const size = Math.max(WINDOW, len);
    const buf = w && w.length >= size ? w : Buffer.allocUnsafeSlow(size);
    const want = Math.min(size, this.buf.length - off);
    this.read(buf, 0, want, off);
    this.window = buf;
    this.windowAt = off;
    this.windowLen = want;
    return buf.subarray(0, len);
  }

  /** Closes the file of `open` (bytes already read stay available). */
  close(): void {
    if (this.fd !== undefined) {
      try { closeSync(this.fd); } catch { /* ignore */ }
      this.fd = undefined;
      this.window = null;
    }
  }

  private read(into: Buffer, at: number, len: number, pos: number): void {
    if (this.fd === undefined) throw new ElfFormatError(this.file, 'file', `read at offset 0x${pos.toString(16)} after close`);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, into, at + done, len - done, pos + done);
      if (n <= 0) throw new ElfFormatError(this.file, 'file', `short read at offset 0x${(pos + done).toString(16)}`);
      done += n;
    }
  }
}
