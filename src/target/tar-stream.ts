/**
 * A streaming reader of tar archives (POSIX ustar, pax extended headers and
 * GNU long names, as GNU tar writes them): yields each member with its data,
 * so that a caller can decide per member what to write. Members are yielded
 * in archive order; a regular file's data is one Buffer (source files are
 * small). Paths are checked: none absolute, none leaving the archive's root.
 */
import { TargetError } from './errors.js';

export type TarKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TarMember {
  path: string;
  kind: TarKind;
  mode: number;
  mtime: number;
  /** symlink/hardlink: the target as stored. */
  linkname: string;
  /** file: its bytes. */
  data: Buffer;
}

const BLOCK = 512;

function field(h: Buffer, at: number, len: number): string {
  const end = h.indexOf(0, at);
  return h.toString('utf8', at, end < 0 || end > at + len ? at + len : end);
}

function octal(h: Buffer, at: number, len: number, what: string, archive: string): number {
  if ((h[at]! & 0x80) !== 0) {
    // base-256 (GNU): big-endian after the marker bit
    let v = h[at]! & 0x7f;
    for (let i = 1; i < len; i++) v = v * 256 + h[at + i]!;
    return v;
  }
  const t = field(h, at, len).trim();
  if (t === '') return 0;
  if (!/^[0-7]+$/.test(t)) throw new TargetError(`tar header with a bad ${what} field ${JSON.stringify(t)}`, archive);
  return parseInt(t, 8);
}

function checkPath(p: string, archive: string): string {
  const clean = p.replace(/^\.\//, '').replace(/\/+$/, '');
  if (clean === '' || clean.startsWith('/') || clean.split('/').includes('..')) throw new TargetError(`member ${JSON.stringify(p)} leaves the archive's directory`, archive);
  return clean;
}

/** pax records: "LEN key=value\n" … */
function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    if (sp < 0) break;
    const len = Number(data.toString('ascii', at, sp));
    if (!Number.isInteger(len) || len <= 0) break;
    const rec = data.toString('utf8', sp + 1, at + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

/** Reads the members of the tar stream `chunks` (e.g. a decompressor's stdout); `archive` names it in errors. */
export async function* readTar(chunks: AsyncIterable<Buffer>, archive: string): AsyncGenerator<TarMember> {
  let buf = Buffer.alloc(0);
  const it = chunks[Symbol.asyncIterator]();
  let ended = false;
  /** Makes `n` bytes available at the start of buf; false at the end of the stream. */
  const need = async (n: number): Promise<boolean> => {
    const parts: Buffer[] = [buf];
    let have = buf.length;
    while (have < n && !ended) {
      const r = await it.next();
      if (r.done === true) {
        ended = true;
        break;
      }
      parts.push(r.value);
      have += r.value.length;
    }
    if (parts.length > 1) buf = Buffer.concat(parts);
    return buf.length >= n;
  };
  const take = (n: number): Buffer => {
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax = new Map<string, string>();
  for (;;) {
    if (!(await need(BLOCK))) {
      if (buf.length === 0) return; // some writers end without the two zero blocks
      throw new TargetError('ends inside a tar header', archive);
    }
    const h = Buffer.from(take(BLOCK));
    if (h.every((b) => b === 0)) return;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== octal(h, 148, 8, 'checksum', archive)) throw new TargetError('tar header checksum mismatch (not a tar archive, or damaged)', archive);
    const type = String.fromCharCode(h[156]!);
    const size = pax.has('size') ? Number(pax.get('size')) : octal(h, 124, 12, 'size', archive);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    if (!(await need(padded))) throw new TargetError('ends inside a member', archive);
    const data = Buffer.from(take(padded).subarray(0, size));
    if (type === 'L') { longName = field(data, 0, data.length); continue; }
    if (type === 'K') { longLink = field(data, 0, data.length); continue; }
    if (type === 'x') { pax = paxRecords(data); continue; }
    if (type === 'g') continue;
    const posix = h.toString('latin1', 257, 263) === 'ustar\0';
    const prefix = posix ? field(h, 345, 155) : '';
    const rawName = pax.get('path') ?? longName ?? (prefix !== '' ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    const linkname = pax.get('linkpath') ?? longLink ?? field(h, 157, 100);
    const mtime = pax.has('mtime') ? Number(pax.get('mtime')) : octal(h, 136, 12, 'mtime', archive);
    const kind: TarKind = type === '0' || type === '\0' || type === '7' ? 'file' : type === '5' ? 'dir' : type === '2' ? 'symlink' : type === '1' ? 'hardlink' : 'other';
    longName = undefined;
    longLink = undefined;
    pax = new Map();
    yield { path: checkPath(rawName, archive), kind, mode: octal(h, 100, 8, 'mode', archive) & 0o7777, mtime, linkname, data: kind === 'file' ? data : Buffer.alloc(0) };
  }
}
