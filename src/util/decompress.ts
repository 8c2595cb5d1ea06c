/**
 * Reading files that may be compressed: Debian's 6.12 modules ship as
 * `.ko.xz` (CONFIG_MODULE_COMPRESS_XZ), some kernels compress with zstd or
 * gzip, and a bzImage carries its vmlinux compressed. The format is told by
 * the magic bytes, not the name; gzip is decoded in process, xz and zstd by
 * their Debian tools (xz-utils, zstd), with a bounded output.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { KelpError } from '../errors.js';
import { requireTool } from '../target/tools.js';
import { systemMessage } from './system-error.js';

export type Compression = 'xz' | 'zstd' | 'gzip';

/** Decompressed sizes above this are refused (a kernel image is ~60 MiB, a module a few MiB). */
export const MAX_DECOMPRESSED = 1 << 30;

/** The compression of `buf` by its magic, or null. */
export function compressionOf(buf: Buffer, at = 0): Compression | null {
  if (buf.length >= at + 6 && buf[at] === 0xfd && buf.toString('latin1', at + 1, at + 6) === '7zXZ\0') return 'xz';
  if (buf.length >= at + 4 && buf.readUInt32LE(at) === 0xfd2fb528) return 'zstd';
  if (buf.length >= at + 3 && buf[at] === 0x1f && buf[at + 1] === 0x8b && buf[at + 2] === 0x08) return 'gzip';
  return null;
}

/** The module file names kelp recognises: `name.ko` and its compressed forms. */
export const MODULE_SUFFIXES = ['.ko', '.ko.xz', '.ko.zst', '.ko.gz'] as const;

/** `name` without a module suffix (`ext4.ko.xz` → `ext4`), or null when it is not a module file name. */
export function moduleStem(file: string): string | null {
  for (const s of MODULE_SUFFIXES) if (file.endsWith(s)) return file.slice(0, -s.length);
  return null;
}

/** Decompresses `buf` (format `c`); `file` names it in errors. */
export function decompress(buf: Buffer, c: Compression, file: string): Buffer {
  if (c === 'gzip') {
    try {
      return gunzipSync(buf, { maxOutputLength: MAX_DECOMPRESSED });
    } catch (e) {
      throw new KelpError(`cannot decompress (gzip): ${(e as Error).message}`, file);
    }
  }
  const tool = c === 'xz' ? 'xz' : 'zstd';
  // xz: --single-stream stops at the end of the first stream.
  const args = c === 'xz' ? ['-dc', '--single-stream', '-q'] : ['-dc', '-q'];
  const r = spawnSync(requireTool(tool), args, { input: buf, maxBuffer: MAX_DECOMPRESSED, stdio: ['pipe', 'pipe', 'pipe'] });
  if (r.error) throw new KelpError(`cannot decompress (${c}): ${(r.error as NodeJS.ErrnoException).code === 'ENOBUFS' ? `more than ${MAX_DECOMPRESSED} bytes` : r.error.message}`, file);
  if (r.status !== 0) {
    const why = r.stderr.toString('utf8').trim().split('\n').pop() ?? `${tool} exited ${r.status}`;
    throw new KelpError(`cannot decompress (${c}): ${why}`, file);
  }
  return r.stdout;
}

/** The contents of `file`, decompressed when its magic says it is xz, zstd or gzip. */
export function readMaybeCompressed(file: string): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new KelpError(systemMessage(e as NodeJS.ErrnoException), file);
  }
  const c = compressionOf(buf);
  return c === null ? buf : decompress(buf, c, file);
}
