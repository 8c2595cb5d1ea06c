/**
 * The diff's view of one object: sections and symbols wrapped with what the
 * passes compute (twin in the other object, status, inclusion), relocations
 * with plain-number offsets, lookups in hash maps.
 */
import { ElfObject, ElfSymbol, Section } from '../../elf/model.js';
import {
  SHF_ALLOC, SHF_EXECINSTR, SHF_STRINGS, SHF_WRITE, SHT_GROUP, SHT_NOBITS, SHT_REL, SHT_RELA,
  SHT_STRTAB, SHT_SYMTAB, SHT_SYMTAB_SHNDX, STB_LOCAL, STT_FILE, STT_FUNC, STT_OBJECT, STT_SECTION, STT_TLS,
} from '../../elf/constants.js';

export type Status = 'same' | 'changed' | 'new';

export interface DRel {
  offset: number;
  type: number;
  sym: DSym | null;
  addend: bigint;
}

export class DSym {
  twin: DSym | null = null;
  status: Status = 'new';
  sec: DSec | null = null;
  /** For a compiler-made child (`.cold`, fentry-less `.part.N`): its parent. */
  parent: DSym | null = null;
  children: DSym[] = [];
  /** The `__pfx_<name>` padding symbol in front of the function, if any. */
  prefix: DSym | null = null;
  /** The function this `__pfx_` symbol prefixes. */
  prefixOf: DSym | null = null;
  /** Another name for the function or object that owns this section (same place, same size). */
  aliasOf: DSym | null = null;
  include = false;
  ignored = false;
  forced = false;
  /** Why a function changed (for the report). */
  reasons: string[] = [];
  /** A function whose only differences are `__LINE__` immediates. */
  lineOnly = false;

  constructor(readonly obj: Kelf, readonly elf: ElfSymbol, readonly order: number) {}

  get name(): string { return this.elf.name; }
  get value(): number { return Number(this.elf.value); }
  get size(): number { return Number(this.elf.size); }
  get isFunc(): boolean { return this.elf.type === STT_FUNC; }
  get isData(): boolean { return this.elf.type === STT_OBJECT || this.elf.type === STT_TLS; }
  get isSection(): boolean { return this.elf.type === STT_SECTION; }
  get isFile(): boolean { return this.elf.type === STT_FILE; }
  get isLocal(): boolean { return this.elf.bind === STB_LOCAL; }
  get isUndefined(): boolean { return this.elf.isUndefined; }
  /** Named: a symbol the correlation pass matches by name. */
  get isNamed(): boolean { return !this.isSection && !this.isFile && this.name !== ''; }
}

export class DSec {
  twin: DSec | null = null;
  status: Status = 'new';
  /** The relocation section that applies to this one. */
  rela: DSec | null = null;
  /** For a relocation section: the section it applies to. */
  base: DSec | null = null;
  secsym: DSym | null = null;
  /** The one function or object this section holds (`-ffunction-sections`/`-fdata-sections`). */
  bundled: DSym | null = null;
  /** Function and data symbols defined here, by value. */
  syms: DSym[] = [];
  /** Relocations applying to this section (canonical form after the canonicalise pass), by offset. */
  relocs: DRel[] = [];
  ignored = false;
  /** Instruction end offsets, decoded on demand. */
  insnEnds: Uint32Array | null = null;

  constructor(readonly obj: Kelf, readonly s: Section, readonly order: number) {}

  get name(): string { return this.s.name; }
  get size(): number { return this.s.size; }
  get data(): Buffer { return this.s.data; }
  get isText(): boolean { return (this.s.flags & SHF_EXECINSTR) !== 0; }
  get isStrings(): boolean { return (this.s.flags & SHF_STRINGS) !== 0; }
  get isWritable(): boolean { return (this.s.flags & SHF_WRITE) !== 0; }
  get isAlloc(): boolean { return (this.s.flags & SHF_ALLOC) !== 0; }
  get isNobits(): boolean { return this.s.type === SHT_NOBITS; }
  get isRelocation(): boolean { return this.s.type === SHT_RELA || this.s.type === SHT_REL; }
  /** Tables and groups: never compared or copied as such. */
  get isStructural(): boolean {
    const t = this.s.type;
    return t === SHT_SYMTAB || t === SHT_STRTAB || t === SHT_SYMTAB_SHNDX || t === SHT_GROUP || this.isRelocation;
  }

  /** The function or data symbol covering `off`, by binary search. */
  symbolAt(off: number): DSym | null {
    const a = this.syms;
    let lo = 0;
    let hi = a.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid].value <= off) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Several symbols may start at the same place (aliases): prefer a sized one covering off.
    for (let i = best; i >= 0 && i > best - 4; i--) {
      const s = a[i];
      if (s.value <= off && (off < s.value + s.size || (s.size === 0 && off === s.value))) return s;
    }
    return null;
  }

  /** Relocations with offsets in [from, to), by binary search. */
  relocsIn(from: number, to: number): DRel[] {
    const a = this.relocs;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (a[mid].offset < from) lo = mid + 1;
      else hi = mid;
    }
    const out: DRel[] = [];
    for (let i = lo; i < a.length && a[i].offset < to; i++) out.push(a[i]);
    return out;
  }
}

export class Kelf {
  readonly sections: DSec[] = [];
  readonly symbols: DSym[] = [];
  readonly symOf = new Map<ElfSymbol, DSym>();
  readonly secOf = new Map<Section, DSec>();
  readonly byName = new Map<string, DSym[]>();
  readonly secByName = new Map<string, DSec[]>();
  /** The first FILE symbol's name: the source file. */
  readonly sourceFile: string | null;

  constructor(readonly file: string, readonly elf: ElfObject) {
    elf.sections.forEach((s, i) => {
      const d = new DSec(this, s, i);
      this.sections.push(d);
      this.secOf.set(s, d);
      pushMap(this.secByName, s.name, d);
    });
    for (const d of this.sections) {
      if (d.isRelocation && d.s.infoSection) {
        const base = this.secOf.get(d.s.infoSection)!;
        d.base = base;
        base.rela = d;
      }
    }
    let source: string | null = null;
    elf.symbols.forEach((e, i) => {
      const sym = new DSym(this, e, i);
      this.symbols.push(sym);
      this.symOf.set(e, sym);
      if (e.section) sym.sec = this.secOf.get(e.section) ?? null;
      if (sym.isFile && source === null) source = e.name;
      if (sym.isSection && sym.sec && !sym.sec.secsym) sym.sec.secsym = sym;
      if (sym.isNamed) pushMap(this.byName, e.name, sym);
      if (sym.sec && sym.isNamed && !sym.isSection) sym.sec.syms.push(sym);
    });
    this.sourceFile = source;
    for (const d of this.sections) {
      if (d.syms.length > 1) d.syms.sort((a, b) => a.value - b.value || a.order - b.order);
      const rs = d.rela?.s.relocations;
      if (rs) {
        d.relocs = rs.map((r) => ({ offset: Number(r.offset), type: r.type, sym: r.symbol ? this.symOf.get(r.symbol)! : null, addend: r.addend }));
        let sorted = true;
        for (let i = 1; i < d.relocs.length; i++) if (d.relocs[i].offset < d.relocs[i - 1].offset) { sorted = false; break; }
        if (!sorted) d.relocs.sort((a, b) => a.offset - b.offset);
      }
    }
  }

  /** `file: sym+0xoff` for messages. */
  where(sec: DSec, off: number): string {
    const s = sec.symbolAt(off);
    if (s) return `${this.file}: ${s.name}+0x${(off - s.value).toString(16)}`;
    return `${this.file}: ${sec.name}+0x${off.toString(16)}`;
  }
}

export function pushMap<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** The orig/patched pair the passes work on. */
export interface Pair {
  orig: Kelf;
  patched: Kelf;
}
