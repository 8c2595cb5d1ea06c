/**
 * String tables: a bounds-checked view over a SHT_STRTAB section, and the
 * builder the writer uses (deduplicated and tail-merged, as GNU as and ld do,
 * so a rewritten object keeps the sizes and offsets of the original).
 */

/** A view of one string table inside the file buffer. Strings decode as latin1, one char per byte. */
export class StringTable {
  constructor(
    private readonly buf: Buffer,
    /** File offset of the table. */
    readonly offset: number,
    /** Size of the table in bytes (already checked to lie within the file). */
    readonly size: number,
  ) {}

  /** The string at `off`, or undefined when `off` is outside the table. A string without a NUL ends at the table's end. */
  tryGet(off: number): string | undefined {
    if (off >= this.size || off < 0) return undefined;
    const start = this.offset + off;
    const end = this.offset + this.size;
    let nul = this.buf.indexOf(0, start);
    if (nul < 0 || nul > end) nul = end;
    return this.buf.toString('latin1', start, nul);
  }

  /** True when the string at `off` is NUL-terminated inside the table. */
  isTerminated(off: number): boolean {
    if (off >= this.size || off < 0) return false;
    const nul = this.buf.indexOf(0, this.offset + off);
    return nul >= 0 && nul < this.offset + this.size;
  }
}

/**
 * Collects strings and lays them out: each distinct string once, and a string
 * that is the tail of another longer string shares the longer one's bytes.
 * Kept strings are placed in first-insertion order after the leading NUL.
 */
export class StringTableBuilder {
  private readonly ids = new Map<string, number>();
  private readonly strings: string[] = [];
  private offsets: Int32Array | undefined;
  private bytes: Buffer | undefined;

  /** Adds a string (latin1) and returns its id; the empty string is id -1 (offset 0). */
  add(s: string): number {
    if (s.length === 0) return -1;
    let id = this.ids.get(s);
    if (id === undefined) {
      if (this.offsets) throw new Error('StringTableBuilder: add after finish');
      id = this.strings.length;
      this.strings.push(s);
      this.ids.set(s, id);
    }
    return id;
  }

  /** Computes the layout. Returns the table size in bytes. */
  finish(): number {
    const strings = this.strings;
    const n = strings.length;
    const order = Array.from({ length: n }, (_, i) => i);
    // Sort by the reversed strings (compared from their last character), so that
    // a string that is the tail of another sorts right before a string it is the tail of.
    order.sort((a, b) => compareReversed(strings[a], strings[b]));
    const host = new Int32Array(n).fill(-1);
    for (let k = n - 2; k >= 0; k--) {
      const a = order[k];
      const b = order[k + 1];
      if (strings[b].endsWith(strings[a])) host[a] = host[b] >= 0 ? host[b] : b;
    }
    const offsets = new Int32Array(n);
    let size = 1;
    for (let i = 0; i < n; i++) {
      if (host[i] < 0) {
        offsets[i] = size;
        size += strings[i].length + 1;
      }
    }
    for (let i = 0; i < n; i++) {
      const h = host[i];
      if (h >= 0) offsets[i] = offsets[h] + strings[h].length - strings[i].length;
    }
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < n; i++) if (host[i] < 0) bytes.write(strings[i], offsets[i], 'latin1');
    this.offsets = offsets;
    this.bytes = bytes;
    return size;
  }

  /** The offset of a string id returned by add(). */
  offsetOf(id: number): number {
    if (id < 0) return 0;
    if (!this.offsets) throw new Error('StringTableBuilder: offsetOf before finish');
    return this.offsets[id];
  }

  /** The table's bytes (after finish). */
  data(): Buffer {
    if (!this.bytes) throw new Error('StringTableBuilder: data before finish');
    return this.bytes;
  }
}

/** Orders strings as their reversals would sort: by last character, then the one before, ... */
function compareReversed(a: string, b: string): number {
  let i = a.length - 1;
  let j = b.length - 1;
  while (i >= 0 && j >= 0) {
    const d = a.charCodeAt(i) - b.charCodeAt(j);
    if (d !== 0) return d;
    i--;
    j--;
  }
  return i < 0 ? (j < 0 ? 0 : -1) : 1;
}
