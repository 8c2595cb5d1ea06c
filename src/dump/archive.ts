/**
 * ar archives as readelf reads them: regular (`!<arch>`) and thin
 * (`!<thin>`) archives, the symbol index (`/` or `/SYM64/`), the long name
 * table (`//`), and the members in order, each named `lib.a(member.o)` or,
 * in a thin archive, `thin.a[member.o]` with its bytes in a file beside it.
 */
import { basename } from 'node:path';
import { KelpError } from '../errors.js';
import { DumpUnsupportedError } from './names.js';

export const ARMAG = '!<arch>\n';
export const ARMAGT = '!<thin>\n';
const HDR = 60;

/** The kind of archive `buf` starts with, if any. */
export function archiveKind(buf: Buffer): 'regular' | 'thin' | undefined {
  if (buf.length < 8) return undefined;
  const magic = buf.toString('latin1', 0, 8);
  return magic === ARMAG ? 'regular' : magic === ARMAGT ? 'thin' : undefined;
}

/** C strtoul(s, NULL, 10) of a header field (leading blanks, then digits). */
function strtoul(s: string): { value: number; end: number } {
  let i = 0;
  while (i < s.length && /[ \t\n\v\f\r]/.test(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') neg = s[i++] === '-';
  const start = i;
  while (i < s.length && s[i] >= '0' && s[i] <= '9') i++;
  const v = i > start ? Number(s.slice(start, i)) : 0;
  if (neg && v !== 0) return { value: -1, end: i };
  return { value: i > start ? v : 0, end: i > start ? i : 0 };
}

export interface ArchiveIndex {
  /** Member header offsets, one per symbol. */
  readonly offsets: number[];
  /** The symbol name table. */
  readonly symbols: Buffer;
  readonly sym64: boolean;
}

export interface ArchiveMember {
  /** `lib.a(name)` or `thin.a[name]`. */
  readonly qualifiedName: string;
  /** The member's name as stored. */
  readonly name: string;
  /** Offset of its bytes in the archive (regular archives). */
  readonly offset: number;
  readonly size: number;
}

export class Archive {
  readonly thin: boolean;
  /** The symbol index, when it was read. */
  index: ArchiveIndex | undefined;
  /** Whether the archive starts with an index (read or not). */
  hasIndex = false;
  private longnames: Buffer | undefined;
  /** Offset of the first member after the index and the long name table. */
  private first = 8;

  constructor(private readonly buf: Buffer, readonly file: string, thin: boolean, readIndex: boolean) {
    this.thin = thin;
    this.setup(readIndex);
  }

  private fail(msg: string): never {
    throw new KelpError(msg, this.file);
  }

  private header(off: number): string | undefined {
    if (off + HDR > this.buf.length) {
      if (off >= this.buf.length) return undefined;
      this.fail('failed to read archive header');
    }
    return this.buf.toString('latin1', off, off + HDR);
  }

  private setup(readIndex: boolean): void {
    let off = 8;
    let h = this.header(off);
    if (h === undefined) return;
    const sym64 = h.startsWith('/SYM64/         ');
    if (h.startsWith('/               ') || sym64) {
      this.hasIndex = true;
      const width = sym64 ? 8 : 4;
      let size = strtoul(h.slice(48, 58)).value;
      if (size < 0) this.fail(`invalid archive header size: ${size}`);
      size += size & 1;
      const body = off + HDR;
      if (readIndex) {
        if (size < width) this.fail('the archive index is empty');
        if (body + width > this.buf.length) this.fail('failed to read archive index');
        const count = Number(sym64 ? this.buf.readBigUInt64BE(body) : this.buf.readUInt32BE(body));
        let rest = size - width;
        if (rest < count * width || rest < count) {
          this.fail(`the archive index is supposed to have 0x${count.toString(16)} entries of ${width} bytes, but the size is only 0x${rest.toString(16)}`);
        }
        if (body + width + count * width > this.buf.length) this.fail('failed to read archive index');
        const offsets: number[] = new Array(count);
        for (let i = 0; i < count; i++) {
          const p = body + width + i * width;
          offsets[i] = Number(sym64 ? this.buf.readBigUInt64BE(p) : this.buf.readUInt32BE(p));
        }
        rest -= count * width;
        if (rest < 1) this.fail('the archive has an index but no symbols');
        const symStart = body + width + count * width;
        if (symStart + rest > this.buf.length) this.fail('failed to read archive index symbol table');
        this.index = { offsets, symbols: this.buf.subarray(symStart, symStart + rest), sym64 };
      }
      off = body + size;
      if (off + HDR > this.buf.length && off < this.buf.length) this.fail('failed to read archive header following archive index');
      h = this.header(off);
      if (h === undefined) {
        this.first = off;
        return;
      }
    }
    if (h.startsWith('//              ')) {
      const size = strtoul(h.slice(48, 58)).value;
      if (size < 8) this.fail(`long name table is too small, (size = ${size})`);
      if (size > this.buf.length) this.fail(`long name table is too big, (size = 0x${size.toString(16)})`);
      if (off + HDR + size > this.buf.length) this.fail('failed to read long symbol name string table');
      this.longnames = this.buf.subarray(off + HDR, off + HDR + size);
      off += HDR + size + (size & 1);
    }
    this.first = off;
  }

  /** The stored name of the member whose header is at `off` (readelf's get_archive_member_name). */
  private memberName(h: string): string {
    if (h[0] === '/') {
      const names = this.longnames;
      if (!names || names.length === 0) throw new KelpError('archive member uses long names, but no longname table found', this.file);
      const { value: k, end } = strtoul(h.slice(1, 58));
      if (this.thin && h[1 + end] === ':' && strtoul(h.slice(2 + end, 58)).value !== 0) {
        throw new DumpUnsupportedError(this.file, 'a thin archive member inside a nested archive');
      }
      if (k > names.length || k < 0) throw new KelpError(`found long name index (${k}) beyond end of long name table`, this.file);
      let j = k;
      while (j < names.length && names[j] !== 0x0a && names[j] !== 0) j++;
      if (j > 0 && names[j - 1] === 0x2f) j--;
      return names.toString('latin1', k, Math.max(k, j));
    }
    const slash = h.indexOf('/');
    return slash >= 0 && slash < 16 ? h.slice(0, slash) : h.slice(0, 16);
  }

  private qualify(name: string): string {
    return this.thin ? `${this.file}[${name}]` : `${this.file}(${name})`;
  }

  /** The qualified name of the member whose header is at `off` (for the index listing). */
  qualifiedNameAt(off: number): string {
    if (off < 0 || off + HDR > this.buf.length) this.fail('failed to read archive header');
    const h = this.buf.toString('latin1', off, off + HDR);
    if (h.slice(58, 60) !== '`\n') this.fail('did not find a valid archive header');
    return this.qualify(this.memberName(h));
  }

  /** The members in order. */
  *members(): Generator<ArchiveMember> {
    let off = this.first;
    for (;;) {
      const h = this.header(off);
      if (h === undefined) return;
      if (h.slice(58, 60) !== '`\n') this.fail('did not find a valid archive header');
      off += HDR;
      const size = strtoul(h.slice(48, 58)).value;
      if (size < 0) throw new DumpUnsupportedError(this.file, 'a negative archive member size');
      const name = this.memberName(h);
      yield { qualifiedName: this.qualify(name), name, offset: off, size };
      if (!this.thin) off += (size + 1) & ~1;
    }
  }
}

/** Where a thin archive's member lives: its name as given, or beside the archive (readelf's adjust_relative_path). */
export function thinMemberPath(archive: string, name: string): string {
  if (name.startsWith('/')) return name;
  const base = basename(archive);
  if (base === archive) return name;
  return archive.slice(0, archive.length - base.length) + name;
}
