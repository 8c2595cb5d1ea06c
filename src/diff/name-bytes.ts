/** Name comparisons and hashes on a file buffer's bytes, without making strings. */

/** True when the bytes at `at` start with `prefix` (ASCII). */
export function startsWith(b: Buffer, at: number, prefix: string): boolean {
  if (at + prefix.length > b.length) return false;
  for (let k = 0; k < prefix.length; k++) if (b[at + k] !== prefix.charCodeAt(k)) return false;
  return true;
}

/** FNV-1a over bytes [s, e). */
export function hashBytes(b: Buffer, s: number, e: number): number {
  let h = 0x811c9dc5;
  for (let k = s; k < e; k++) h = Math.imul(h ^ b[k], 0x01000193);
  return h >>> 0;
}

/** FNV-1a over a name's characters (as bytes: names are ASCII), equal to hashBytes over its bytes. */
export function hashString(name: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ (name.charCodeAt(k) & 0xff), 0x01000193);
  return h >>> 0;
}

export function sameBytes(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): boolean {
  if (ae - as !== be - bs) return false;
  for (let k = 0; k < ae - as; k++) if (a[as + k] !== b[bs + k]) return false;
  return true;
}
