/**
 * A writer for the "newc" cpio format the kernel unpacks as an initramfs:
 * a 110-byte ASCII header (magic 070701, thirteen 8-digit hex fields), the
 * NUL-terminated name, and the data, each padded to 4 bytes; ends with
 * TRAILER!!!. Entries get fixed owners, times and inode numbers so the same
 * inputs always give the same archive.
 */

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;

export type CpioEntry =
  | { type: 'dir'; path: string; mode?: number }
  | { type: 'file'; path: string; data: Uint8Array; mode?: number }
  | { type: 'symlink'; path: string; target: string }
  | { type: 'chardev'; path: string; major: number; minor: number; mode?: number };

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, '0');
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/** Builds a newc archive from `entries`, in the order given. */
export function buildCpio(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const add = (name: string, mode: number, data: Uint8Array, nlink: number, rdev: [number, number] = [0, 0]): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const header =
      '070701' +
      hex8(name === 'TRAILER!!!' ? 0 : ino++) +
      hex8(mode) +
      hex8(0) + hex8(0) + // uid, gid
      hex8(nlink) +
      hex8(0) + // mtime
      hex8(data.length) +
      hex8(0) + hex8(0) + // dev major/minor
      hex8(rdev[0]) + hex8(rdev[1]) +
      hex8(nameBytes.length) +
      hex8(0); // check
    parts.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)));
    if (data.length > 0) parts.push(Buffer.from(data.buffer, data.byteOffset, data.length), Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, '');
    if (name === '' || name.split('/').some((c) => c === '..')) throw new Error(`bad cpio path: ${e.path}`);
    switch (e.type) {
      case 'dir': add(name, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), 2); break;
      case 'file': add(name, S_IFREG | (e.mode ?? 0o644), e.data, 1); break;
      case 'symlink': add(name, S_IFLNK | 0o777, Buffer.from(e.target, 'utf8'), 1); break;
      case 'chardev': add(name, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), 1, [e.major, e.minor]); break;
    }
  }
  add('TRAILER!!!', 0, new Uint8Array(0), 1);
  return Buffer.concat(parts);
}
