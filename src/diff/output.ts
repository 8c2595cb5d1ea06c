/**
 * The output object: included sections (whole, or the included symbols'
 * ranges of a shared data section), the kept special-section entries, the
 * defined functions and data, undefined references and `.klp.sym`
 * placeholders, `import_ns` entries of `.modinfo`, and `.kelp.meta`.
 * Everything is emitted in the patched object's order, so the same inputs
 * give the same bytes.
 */
import { ElfObject, ElfSymbol, Section } from '../../elf/model.js';
import {
  ET_REL, SHF_GROUP, SHF_INFO_LINK, SHF_LINK_ORDER, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS, SHT_RELA, SHT_STRTAB, SHT_SYMTAB,
  STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FILE, STT_NOTYPE, STT_SECTION,
} from '../../elf/constants.js';
import { META_SECTION, klpSymbolName, type DiffMeta, type KlpSymbol } from '../patch/meta.js';
import type { DiffContext } from './context.js';
import type { Inclusion } from './include.js';
import type { DRel, DSec, DSym } from './model.js';

interface Placed {
  out: Section;
  /** Offset of the source range in the output section minus its offset in the source. */
  delta: number;
  from: number;
  to: number;
}

export function buildOutput(ctx: DiffContext, inc: Inclusion, meta: DiffMeta, outFile: string): ElfObject {
  const P = ctx.patched;
  const h = P.elf.header;
  const out = new ElfObject(outFile, { ident: Buffer.from(h.ident), type: ET_REL, machine: h.machine, version: h.version, entry: 0n, flags: h.flags });
  const placed = new Map<DSec, Placed[]>();
  const jobs: Array<{ src: DSec; out: Section; rels: Array<{ r: DRel; offset: number }> }> = [];

  const newSection = (src: DSec): Section => {
    const s = new Section(src.name, src.s.type, src.s.flags & ~SHF_GROUP);
    s.align = src.s.align;
    s.entsize = src.s.entsize;
    return s;
  };

  for (const sec of P.sections) {
    if (sec.isStructural) continue;
    if (inc.whole.has(sec)) {
      const s = newSection(sec);
      if (sec.isNobits) s.nobitsSize = sec.size;
      else s.data = Buffer.from(sec.data);
      out.addSection(s);
      placed.set(sec, [{ out: s, delta: 0, from: 0, to: sec.size }]);
      jobs.push({ src: sec, out: s, rels: sec.relocs.map((r) => ({ r, offset: r.offset })) });
      continue;
    }
    const chunk = inc.chunks.get(sec);
    if (chunk && chunk.size > 0) {
      const s = newSection(sec);
      const syms = [...chunk].sort((a, b) => a.value - b.value || a.order - b.order);
      const parts: Buffer[] = [];
      const places: Placed[] = [];
      const rels: Array<{ r: DRel; offset: number }> = [];
      let off = 0;
      let lastEnd = -1;
      for (const sym of syms) {
        const from = sym.value;
        const to = sym.value + sym.size;
        if (from < lastEnd) continue; // overlapping alias: already placed
        const align = Math.max(1, sec.s.align);
        const pad = (align - (off % align)) % align;
        if (pad && !sec.isNobits) parts.push(Buffer.alloc(pad));
        off += pad;
        if (!sec.isNobits) parts.push(sec.data.subarray(from, to));
        places.push({ out: s, delta: off - from, from, to });
        for (const r of sec.relocsIn(from, to)) rels.push({ r, offset: r.offset - from + off });
        off += to - from;
        lastEnd = to;
      }
      if (sec.isNobits) s.nobitsSize = off;
      else s.data = Buffer.concat(parts);
      out.addSection(s);
      placed.set(sec, places);
      jobs.push({ src: sec, out: s, rels });
      continue;
    }
    const kept = inc.special.get(sec);
    if (kept && kept.length > 0) {
      const spec = ctx.specs.get(sec.name)!;
      const s = newSection(sec);
      const size = spec.size;
      const parts: Buffer[] = [];
      const rels: Array<{ r: DRel; offset: number }> = [];
      kept.forEach((i, n) => {
        const entry = Buffer.alloc(size);
        sec.data.copy(entry, 0, i * size, Math.min((i + 1) * size, sec.size));
        parts.push(entry);
        for (const r of sec.relocsIn(i * size, (i + 1) * size)) rels.push({ r, offset: r.offset - i * size + n * size });
      });
      s.data = Buffer.concat(parts);
      if (sec.s.flags & SHF_LINK_ORDER && sec.s.link) {
        const linked = P.secOf.get(sec.s.link);
        const pl = linked ? placed.get(linked) : undefined;
        if (!pl) continue;
        s.link = pl[0].out;
      }
      out.addSection(s);
      jobs.push({ src: sec, out: s, rels });
    }
  }

  // .modinfo: the namespaces the patched code imports.
  const modinfo = P.sections.find((s) => s.name === '.modinfo' && !s.isRelocation);
  if (modinfo && !modinfo.isNobits) {
    // Built-in objects prefix their keys with the module name (`proc.import_ns=X`).
    const entries = modinfo.data.toString('latin1').split('\0')
      .map((e) => /^(?:[\w-]+\.)?(import_ns=.*)$/.exec(e)?.[1]).filter((e): e is string => e !== undefined);
    if (entries.length > 0) {
      const s = new Section('.modinfo', SHT_PROGBITS, modinfo.s.flags & ~SHF_GROUP);
      s.align = 1;
      s.data = Buffer.from(entries.map((e) => `${e}\0`).join(''), 'latin1');
      out.addSection(s);
    }
  }

  // Symbols: the source file, section symbols, then defined symbols in the patched order.
  const symtab = new Section('.symtab', SHT_SYMTAB);
  const strtab = new Section('.strtab', SHT_STRTAB);
  symtab.link = strtab;
  symtab.entsize = 24;
  symtab.align = 8;
  out.symtab = symtab;
  if (P.sourceFile !== null) {
    const f = new ElfSymbol(P.sourceFile, STB_LOCAL, STT_FILE);
    f.shndx = 0xfff1;
    out.addSymbol(f);
  }
  const secsyms = new Map<Section, ElfSymbol>();
  for (const s of out.sections) {
    const sym = new ElfSymbol('', STB_LOCAL, STT_SECTION);
    sym.section = s;
    out.addSymbol(sym);
    secsyms.set(s, sym);
  }
  const defined = new Map<DSym, ElfSymbol>();
  for (const sym of P.symbols) {
    if (!sym.include || !sym.sec) continue;
    const where = locate(placed, sym.sec, sym.value);
    if (!where) continue;
    // A replacement keeps its name but must not clash with the global it replaces.
    const replaces = sym.twin !== null && sym.isFunc;
    const e = new ElfSymbol(sym.name, replaces ? STB_LOCAL : sym.elf.bind, sym.elf.type);
    e.other = sym.elf.other;
    e.section = where.out;
    e.value = BigInt(sym.value + where.delta);
    e.size = sym.elf.size;
    out.addSymbol(e);
    defined.set(sym, e);
  }
  const undefs = new Map<string, ElfSymbol>();
  const klpSymbols: KlpSymbol[] = [];
  const undef = (name: string, bind: number): ElfSymbol => {
    let e = undefs.get(name);
    if (!e) {
      e = new ElfSymbol(name, bind, STT_NOTYPE);
      e.shndx = SHN_UNDEF;
      undefs.set(name, e);
      out.addSymbol(e);
    }
    return e;
  };

  const relaSections: Section[] = [];
  for (const job of jobs) {
    if (job.rels.length === 0) continue;
    const rela = new Section(`.rela${job.out.name}`, SHT_RELA, SHF_INFO_LINK);
    rela.link = symtab;
    rela.infoSection = job.out;
    rela.entsize = 24;
    rela.align = 8;
    rela.relocations = [];
    for (const { r, offset } of job.rels) {
      let symbol: ElfSymbol | null = null;
      let addend = r.addend;
      const t = r.sym;
      if (t) {
        const res = inc.resolutions.get(t) ?? inc.resolve(t, job.src, r);
        if (res.kind === 'self') {
          const d = defined.get(t);
          if (d) symbol = d;
          else {
            const base = t.isSection ? 0 : t.value;
            const at = locate(placed, t.sec!, base + Number(r.addend));
            const where = at ?? locate(placed, t.sec!, base);
            if (!where) continue; // refused elsewhere
            symbol = secsyms.get(where.out)!;
            addend = BigInt(base + where.delta) + r.addend;
          }
        } else if (res.kind === 'undef') {
          symbol = undef(res.name, t.elf.bind === STB_WEAK ? STB_WEAK : STB_GLOBAL);
        } else if (res.kind === 'klp') {
          const name = klpSymbolName(res.object, res.name, res.sympos);
          if (!undefs.has(name)) klpSymbols.push({ placeholder: name, object: res.object, name: res.name, sympos: res.sympos });
          symbol = undef(name, STB_GLOBAL);
        } else continue;
      }
      rela.relocations.push({ offset: BigInt(offset), type: r.type, symbol, addend });
    }
    relaSections.push(rela);
  }
  meta.klpSymbols = klpSymbols;
  for (const r of relaSections) out.addSection(r);

  const metaSec = new Section(META_SECTION, SHT_PROGBITS, 0);
  metaSec.align = 1;
  metaSec.data = Buffer.from(`${JSON.stringify(meta)}\n`, 'utf8');
  out.addSection(metaSec);
  if (P.sections.some((s) => s.name === '.note.GNU-stack')) {
    const ns = new Section('.note.GNU-stack', SHT_PROGBITS, 0);
    out.addSection(ns);
  }
  out.addSection(symtab);
  out.addSection(strtab);
  void SHT_NOBITS;
  return out;
}

function locate(placed: Map<DSec, Placed[]>, sec: DSec, off: number): Placed | null {
  const list = placed.get(sec);
  if (!list) return null;
  for (const p of list) if (off >= p.from && (off < p.to || (off === p.to && p.from === p.to) || (list.length === 1 && off <= p.to))) return p;
  return null;
}
