/**
 * readelf -z: the contents of a compressed section as -x and -p show them.
 * SHF_COMPRESSED sections carry an Elf64_Chdr (ELFCOMPRESS_ZLIB or
 * ELFCOMPRESS_ZSTD, and the uncompressed size); the older `.zdebug` form
 * starts with "ZLIB" and a big-endian size. Decompressed data must be exactly
 * the size the header gives.
 */
import { inflateSync } from 'node:zlib';
import { createRequire } from 'node:module';
import type { DumpContext } from './context.js';
import type { SectionHeader } from '../../elf/reader.js';
import { KelpError } from '../errors.js';

const SHF_COMPRESSED = 0x800;
const ELFCOMPRESS_ZLIB = 1;
const ELFCOMPRESS_ZSTD = 2;
/** Larger claimed sizes are refused rather than allocated. */
const MAX_SIZE = 1 << 30;

let zstd: ((data: Uint8Array, out?: Uint8Array) => Uint8Array) | undefined;

function zstdDecompress(data: Buffer, size: number): Buffer {
  if (!zstd) zstd = (createRequire(import.meta.url)('fzstd') as { decompress: typeof zstd }).decompress;
  const out = new Uint8Array(size);
  const r = zstd!(data, out);
  if (r.length !== size) throw new Error('short output');
  return Buffer.from(r.buffer, r.byteOffset, r.length);
}

/**
 * The bytes -x/-p show with -z: decompressed when the section is compressed,
 * else as stored. Throws a KelpError (readelf's "Unable to decompress section")
 * when the data does not decompress to the size its header gives.
 */
export function decompressedContents(ctx: DumpContext, s: SectionHeader, data: Buffer): Buffer {
  let size = 0n;
  let body = data;
  let zstdData = false;
  if ((s.sh_flags & SHF_COMPRESSED) !== 0) {
    if (data.length < 24) throw new KelpError('compressed section is too small even for a compression header', ctx.file);
    const type = data.readUInt32LE(0);
    if (type === ELFCOMPRESS_ZSTD) zstdData = true;
    else if (type !== ELFCOMPRESS_ZLIB) throw new KelpError(`section '${ctx.sectionName(s)}' has unsupported compress type: ${type}`, ctx.file);
    size = data.readBigUInt64LE(8);
    body = data.subarray(24);
  } else if (data.length > 12 && data.toString('latin1', 0, 5) === 'ZLIB\0') {
    size = data.readBigUInt64BE(4);
    body = data.subarray(12);
  }
  if (size === 0n) return data;
  const fail = () => new KelpError(`unable to decompress section ${ctx.sectionName(s)}`, ctx.file);
  if (size > BigInt(MAX_SIZE)) throw fail();
  const n = Number(size);
  try {
    const out = zstdData ? zstdDecompress(body, n) : inflateSync(body, { maxOutputLength: n + 1 });
    if (out.length !== n) throw fail();
    return out;
  } catch (err) {
    if (err instanceof KelpError) throw err;
    throw fail();
  }
}
