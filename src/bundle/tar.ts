/**
 * A deterministic ustar writer: the same entries give the same bytes. Every
 * entry is owned by root (uid/gid 0, "root"), carries one fixed mtime, and
 * comes in the order given (callers sort); directories are 0755, files 0644.
 * The archive ends with two zero blocks and is padded to 10240-byte records,
 * as GNU tar and busybox tar write and read it.
 */

export interface TarEntry {
  /** Path inside the archive, '/'-separated, no leading '/'; directories end without '/'. */
  path: string;
  /** File contents; undefined for a directory. */
  data?: Buffer;
}

const BLOCK = 512;
const RECORD = 20 * BLOCK;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as POSIX ustar numeric fields are written.
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`tar: ${value} does not fit in ${width} bytes`);
  return `${digits.padStart(width - 1, '0')}\0`;
}

/** Splits a path into ustar's prefix (155 bytes) and name (100 bytes) fields. */
function splitPath(path: string): { prefix: string; name: string } {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', name: path };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { prefix, name };
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

function header(path: string, type: '0' | '5', size: number, mode: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { prefix, name } = splitPath(type === '5' ? `${path}/` : path);
  const put = (offset: number, text: string) => { h.write(text, offset, 'utf8'); };
  put(0, name);
  put(100, octal(mode, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, octal(size, 12));
  put(136, octal(mtime, 12));
  put(148, '        '); // the checksum counts its own field as spaces
  put(156, type);
  put(257, 'ustar\0');
  put(263, '00');
  put(265, 'root');
  put(297, 'root');
  put(329, octal(0, 8));
  put(337, octal(0, 8));
  put(345, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  put(148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** The archive's bytes. `mtime` (seconds since the epoch) is every entry's. */
export function writeTar(entries: readonly TarEntry[], mtime: number): Buffer {
  const parts: Buffer[] = [];
  const seen = new Set<string>();
  for (const e of entries) {
    if (e.path === '' || e.path.startsWith('/') || e.path.endsWith('/') || e.path.split('/').some((c) => c === '' || c === '.' || c === '..')) {
      throw new Error(`tar: bad entry path ${JSON.stringify(e.path)}`);
    }
    if (seen.has(e.path)) throw new Error(`tar: duplicate entry ${e.path}`);
    seen.add(e.path);
    if (e.data === undefined) {
      parts.push(header(e.path, '5', 0, 0o755, mtime));
      continue;
    }
    parts.push(header(e.path, '0', e.data.length, 0o644, mtime), e.data);
    const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  const size = parts.reduce((n, b) => n + b.length, 0);
  const padded = Math.ceil(size / RECORD) * RECORD;
  parts.push(Buffer.alloc(padded - size));
  return Buffer.concat(parts);
}
