/**
 * The vmlinux ELF inside an x86 bzImage (Debian's /boot/vmlinuz-*). The
 * x86 decompressor boots an ELF file: arch/x86/boot/compressed carries
 * vmlinux stripped of symbols and debug information (`objcopy -R .comment
 * -S`), but with its section headers, so the kernel's own tables (like
 * `.ibt_endbr_seal`) and its text are there at their link-time addresses.
 *
 * The setup header says where the payload is: `setup_sects` at 0x1f1 (0
 * means 4) gives the protected-mode start, (setup_sects + 1) * 512, and
 * `payload_offset`/`payload_length` at 0x248/0x24c locate the compressed
 * stream from there. For xz and zstd, kbuild appends the decompressed size
 * (4 bytes, little-endian) after the stream; gzip records it itself.
 */
import { readFileSync } from 'node:fs';
import { KelpError } from '../errors.js';
import { compressionOf, decompress } from '../util/decompress.js';
import { systemMessage } from '../util/system-error.js';

const ELF_MAGIC = 0x464c457f;
const HDRS_MAGIC = 0x53726448; // "HdrS"

/** True when `buf` starts like a bzImage (boot sector signature and the setup header's magic). */
export function isBzImage(buf: Buffer): boolean {
  return buf.length > 0x250 && buf.readUInt16LE(0x1fe) === 0xaa55 && buf.readUInt32LE(0x202) === HDRS_MAGIC;
}

/** The vmlinux ELF of a bzImage buffer. */
export function vmlinuxOfBzImage(buf: Buffer, file: string): Buffer {
  const sects = buf[0x1f1] === 0 ? 4 : buf[0x1f1];
  const base = (sects + 1) * 512;
  const version = buf.readUInt16LE(0x206);
  if (version < 0x208) throw new KelpError(`boot protocol ${version >> 8}.${version & 0xff} has no payload fields (2.08 or later needed)`, file);
  const off = base + buf.readUInt32LE(0x248);
  const len = buf.readUInt32LE(0x24c);
  if (off + len > buf.length || len < 8) throw new KelpError(`the payload (0x${off.toString(16)}+0x${len.toString(16)}) lies outside the file`, file);
  const c = compressionOf(buf, off);
  if (c === null) throw new KelpError(`the payload's compression (magic ${buf.toString('hex', off, off + 4)}) is not one kelp reads (xz, zstd, gzip)`, file);
  const payload = buf.subarray(off, c === 'gzip' ? off + len : off + len - 4);
  const out = decompress(payload, c, file);
  if (out.length < 64 || out.readUInt32LE(0) !== ELF_MAGIC) throw new KelpError('the decompressed payload is not an ELF file', file);
  if (c !== 'gzip' && out.length !== buf.readUInt32LE(off + len - 4)) {
    throw new KelpError(`the decompressed payload has ${out.length} bytes, not the ${buf.readUInt32LE(off + len - 4)} its size trailer says`, file);
  }
  return out;
}

/** A kernel image as an ELF buffer: vmlinux as is, a bzImage unpacked. */
export function readKernelElf(file: string): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new KelpError(systemMessage(e as NodeJS.ErrnoException), file);
  }
  if (buf.length >= 4 && buf.readUInt32LE(0) === ELF_MAGIC) return buf;
  if (isBzImage(buf)) return vmlinuxOfBzImage(buf, file);
  throw new KelpError('neither an ELF vmlinux nor an x86 bzImage', file);
}
