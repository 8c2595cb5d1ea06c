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
  ET_REL, SHF_ALLOC, SHF_EXECINSTR, SHF_GROUP, SHF_INFO_LINK, SHF_LINK_ORDER, SHN_UNDEF, SHT_PROGBITS, SHT_RELA, SHT_STRTAB, SHT_SYMTAB,
  R_X86_64_PC32, R_X86_64_PLT32, STB_GLOBAL, STB_LOCAL, STB_WEAK, STT_FILE, STT_FUNC, STT_NOTYPE, STT_SECTION,
} from '../../elf/constants.js';
import { isJumpRel32 } from '../../rela/insn.js';
import { isObjtoolAnnotation } from '../../rela/special-sections.js';
import { klpSymbolName } from '../kmod/names.js';
import { META_SECTION, type DiffMeta, type KlpSymbol } from '../patch/meta.js';
import type { DiffContext } from './context.js';
import type { Inclusion } from './include.js';
import { F_INCLUDE, type Kelf } from './model.js';
import { C_GNU_STACK, C_MODINFO, C_ORC, C_ORC_IP } from './sections.js';
import { keyTestRelocations, offSiteBytes, relocationPlace, layoutKeyTests, tableOf, withKeyTests } from './key-test.js';

interface Placed {
  out: Section;
  /** Offset of the source range in the output section minus its offset in the source. */
  delta: number;
  from: number;
  to: number;
}

/** A relocation to copy: its index in the patched object and its offset in the output section. */
interface Job { src: number; out: Section; rels: number[]; offsets: number[]; synth?: Synth[] }

/**
 * A relocation the output makes: one of the patched object's reused with
 * another type and addend (`from`), or one to an offset of the output copy of
 * a patched object's section (`toSec`).
 */
type Synth = { offset: number; type: number; addend: bigint } & ({ from: number } | { toSec: number });

export function buildOutput(ctx: DiffContext, inc: Inclusion, meta: DiffMeta, outFile: string): ElfObject {
  const P: Kelf = ctx.patched;
  const h = P.e.header;
  const out = new ElfObject(outFile, { ident: Buffer.from(h.e_ident), type: ET_REL, machine: h.e_machine, version: h.e_version, entry: 0n, flags: h.e_flags });
  const placed = new Map<number, Placed[]>();
  const jobs: Job[] = [];
  const keyTests = layoutKeyTests(ctx, inc);
  const orcIp = keyTests.size > 0 ? tableOf(P, C_ORC_IP) : 0;
  const orc = keyTests.size > 0 ? tableOf(P, C_ORC) : 0;

  const newSection = (src: number): Section => {
    const s = new Section(P.secName(src), P.secType(src), P.secFlags(src) & ~SHF_GROUP);
    s.align = P.e.align(src);
    s.entsize = P.e.entsize(src);
    return s;
  };

  // Section order, with tables linked (SHF_LINK_ORDER) to code not placed yet moved after it.
  const order: number[] = [];
  for (let sec = 1; sec < P.nsec; sec++) order.push(sec);
  const deferred = new Set<number>();
  for (let n = 0; n < order.length; n++) {
    const sec = order[n];
    if (P.isStructural(sec)) continue;
    if (inc.whole.has(sec)) {
      const s = newSection(sec);
      const tests = keyTests.get(sec);
      const off = inc.offSites.get(sec) ?? [];
      if (P.isNobits(sec)) s.nobitsSize = P.secSize(sec);
      else s.data = tests ? withKeyTests(P.secData(sec), tests) : Buffer.from(P.secData(sec));
      // Sites left off: the NOP, and no relocation of a jmp's displacement.
      for (const o of off) offSiteBytes(o.length).copy(s.data!, tests ? relocationPlace(tests, o.at) ?? o.at : o.at);
      out.addSection(s);
      placed.set(sec, [{ out: s, delta: 0, from: 0, to: P.secSize(sec) }]);
      const rels: number[] = [];
      const offsets: number[] = [];
      for (let j = P.relStart[sec]; j < P.relStart[sec + 1]; j++) {
        if (off.some((o) => P.relOff[j] >= o.at && P.relOff[j] < o.at + o.length)) continue;
        const at = tests ? relocationPlace(tests, P.relOff[j]) : P.relOff[j];
        if (at === null) continue;
        rels.push(j);
        offsets.push(at);
      }
      jobs.push({ src: sec, out: s, rels, offsets, synth: tests ? keyTestRelocations(P, tests) : undefined });
      continue;
    }
    const chunk = inc.chunks.get(sec);
    if (chunk && chunk.size > 0) {
      const s = newSection(sec);
      const syms = [...chunk].sort((a, b) => P.value(a) - P.value(b) || a - b);
      const nobits = P.isNobits(sec);
      const data = P.secData(sec);
      const parts: Buffer[] = [];
      const places: Placed[] = [];
      const rels: number[] = [];
      const offsets: number[] = [];
      let off = 0;
      let lastEnd = -1;
      for (const sym of syms) {
        const from = P.value(sym);
        const to = from + P.size(sym);
        if (from < lastEnd) continue; // overlapping alias: already placed
        const align = Math.max(1, P.e.align(sec));
        const pad = (align - (off % align)) % align;
        if (pad && !nobits) parts.push(Buffer.alloc(pad));
        off += pad;
        if (!nobits) parts.push(data.subarray(from, to));
        places.push({ out: s, delta: off - from, from, to });
        const [a, b] = P.relRange(sec, from, to);
        for (let j = a; j < b; j++) {
          rels.push(j);
          offsets.push(P.relOff[j] - from + off);
        }
        off += to - from;
        lastEnd = to;
      }
      if (nobits) s.nobitsSize = off;
      else s.data = Buffer.concat(parts);
      out.addSection(s);
      placed.set(sec, places);
      jobs.push({ src: sec, out: s, rels, offsets });
      continue;
    }
    const kept = inc.special.get(sec);
    if (kept && kept.length > 0) {
      const spec = ctx.specs.get(P.secName(sec))!;
      const s = newSection(sec);
      const size = spec.size;
      const data = P.secData(sec);
      const parts: Buffer[] = [];
      const rels: number[] = [];
      const offsets: number[] = [];
      kept.forEach((i, n) => {
        const entry = Buffer.alloc(size);
        data.copy(entry, 0, i * size, Math.min((i + 1) * size, data.length));
        parts.push(entry);
        const [a, b] = P.relRange(sec, i * size, (i + 1) * size);
        for (let j = a; j < b; j++) {
          rels.push(j);
          offsets.push(P.relOff[j] - i * size + n * size);
        }
      });
      // The key tests' ORC entries: the state at each site, then the section terminator at the tests' end.
      const synth: Synth[] = [];
      if (sec === orcIp || sec === orc) {
        for (const st of keyTests.values()) {
          for (const o of st.orc) {
            const at = (kept.length + synth.length) * size;
            if (sec === orcIp) parts.push(Buffer.alloc(size));
            else parts.push(data.subarray(o.index * size, (o.index + 1) * size));
            synth.push({ offset: at, type: R_X86_64_PC32, addend: BigInt(o.at), toSec: st.sec });
          }
        }
        if (sec === orc) synth.length = 0;
      }
      s.data = Buffer.concat(parts);
      if (P.secFlags(sec) & SHF_LINK_ORDER && P.e.link(sec)) {
        // One table for several functions (objtool-era gcc output links all of
        // __patchable_function_entries to the first text section): link it to a
        // kept entry's section when its own is not in the output.
        let pl = placed.get(P.e.link(sec));
        for (let r = 0; !pl && r < rels.length; r++) {
          const t = P.relSym[rels[r]];
          if (t && P.symSec[t]) pl = placed.get(P.symSec[t]);
        }
        if (!pl) {
          if (!deferred.has(sec)) {
            deferred.add(sec);
            order.push(sec);
          }
          continue;
        }
        s.link = pl[0].out;
      }
      out.addSection(s);
      jobs.push({ src: sec, out: s, rels, offsets, synth });
    }
  }

  // .modinfo: the namespaces the patched code imports, and those of the namespaced exports the output uses
  // that its code may use where it runs now: every export, in vmlinux (built-in code imports nothing); in a
  // module, those of the namespaces the module imports (MODULE_IMPORT_NS is per module: one object of a
  // multi-object module, inv_icm42600_core.c, imports for inv_icm42600_gyro.c too).
  let modinfo = 0;
  for (let s = 1; s < P.nsec && !modinfo; s++) if ((P.secClass[s] & C_MODINFO) !== 0 && !P.isRelocation(s)) modinfo = s;
  // Built-in objects prefix their keys with the module name (`proc.import_ns=X`).
  const entries = modinfo && !P.isNobits(modinfo)
    ? P.secData(modinfo).toString('latin1').split('\0').map((e) => /^(?:[\w-]+\.)?(import_ns=.*)$/.exec(e)?.[1]).filter((e): e is string => e !== undefined)
    : [];
  const used = new Set<string>();
  for (const job of jobs) {
    for (const j of [...job.rels, ...(job.synth ?? []).flatMap((x) => ('from' in x ? [x.from] : []))]) {
      const t = P.relSym[j];
      const res = t ? inc.resolutions.get(t) ?? inc.resolve(t, job.src, j) : undefined;
      const ns = res?.kind === 'undef' ? ctx.symvers.get(res.name)?.namespace ?? '' : '';
      if (ns !== '' && (ctx.target === 'vmlinux' || ctx.targetImports?.has(ns))) used.add(`import_ns=${ns}`);
    }
  }
  for (const e of [...used].sort()) if (!entries.includes(e)) entries.push(e);
  if (entries.length > 0) {
    const s = new Section('.modinfo', SHT_PROGBITS, modinfo ? P.secFlags(modinfo) & ~SHF_GROUP : SHF_ALLOC);
    s.align = 1;
    s.data = Buffer.from(entries.map((e) => `${e}\0`).join(''), 'latin1');
    out.addSection(s);
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
  const defined = new Map<number, ElfSymbol>();
  for (let sym = 1; sym < P.nsym; sym++) {
    if (!P.has(sym, F_INCLUDE) || !P.symSec[sym]) continue;
    const where = locate(placed, P.symSec[sym], P.value(sym));
    if (!where) continue;
    // A replacement keeps its name but must not clash with the global it replaces.
    const replaces = P.symTwin[sym] !== 0 && P.isFunc(sym);
    const e = new ElfSymbol(P.symName(sym), replaces ? STB_LOCAL : P.bind(sym), P.symType(sym));
    e.other = P.e.symOther(sym);
    e.section = where.out;
    e.value = BigInt(P.value(sym) + where.delta);
    e.size = P.e.symSizeExact(sym);
    // A function grows to cover the key tests appended to its section.
    const tests = keyTests.get(P.symSec[sym]);
    if (tests && tests.owner === sym) e.size = BigInt(tests.end - P.value(sym));
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
    if (job.rels.length === 0 && !job.synth?.length) continue;
    const rela = new Section(`.rela${job.out.name}`, SHT_RELA, SHF_INFO_LINK);
    rela.link = symtab;
    rela.infoSection = job.out;
    rela.entsize = 24;
    rela.align = 8;
    rela.relocations = [];
    const annotation = isObjtoolAnnotation(job.out.name);
    const copy = (j: number, offset: number, type: number, addend: bigint, asWritten = true): void => {
      let symbol: ElfSymbol | null = null;
      const t = P.relSym[j];
      if (t) {
        const res = inc.resolutions.get(t) ?? inc.resolve(t, job.src, j);
        if (res.kind === 'self') {
          const d = defined.get(t);
          if (asWritten && d && d.section !== null
            && (annotation || (d.bind === STB_LOCAL && d.type === STT_FUNC && jumpField(job.out, type, offset)))) {
            // A jump to a local function (a .cold part, a static function's tail call) is written against the
            // section symbol, as the assembler writes it: objtool (run again on a 6.12 module's link) takes a
            // jump relocated against a function symbol for a sibling call, validates a .cold part apart from its
            // parent, and gives it the unwind data of a function entry instead of its parent's frame. objtool reads
            // its annotation tables only through section symbols.
            symbol = secsyms.get(d.section)!;
            addend = d.value + addend;
          } else if (d) symbol = d;
          else {
            const base = P.isSection(t) ? 0 : P.value(t);
            const at = locate(placed, P.symSec[t], base + P.relAdd[j]);
            const where = at ?? locate(placed, P.symSec[t], base);
            if (!where) return; // refused elsewhere
            symbol = secsyms.get(where.out)!;
            addend = BigInt(base + where.delta) + addend;
          }
        } else if (res.kind === 'undef') {
          symbol = undef(res.name, P.bind(t) === STB_WEAK ? STB_WEAK : STB_GLOBAL);
        } else if (res.kind === 'klp') {
          const name = klpSymbolName(res.object, res.name, res.sympos);
          if (!undefs.has(name)) klpSymbols.push({ placeholder: name, object: res.object, name: res.name, sympos: res.sympos });
          symbol = undef(name, STB_GLOBAL);
        } else return;
      }
      rela.relocations!.push({ offset: BigInt(offset), type, symbol, addend });
    };
    job.rels.forEach((j, n) => copy(j, job.offsets[n], P.relType[j], P.addendExact(j)));
    for (const x of job.synth ?? []) {
      if ('from' in x) copy(x.from, x.offset, x.type, x.addend, false);
      else rela.relocations.push({ offset: BigInt(x.offset), type: x.type, symbol: secsyms.get(placed.get(x.toSec)![0].out)!, addend: x.addend });
    }
    relaSections.push(rela);
  }
  meta.klpSymbols = klpSymbols;
  for (const r of relaSections) out.addSection(r);

  const metaSec = new Section(META_SECTION, SHT_PROGBITS, 0);
  metaSec.align = 1;
  metaSec.data = Buffer.from(`${JSON.stringify(meta)}\n`, 'utf8');
  out.addSection(metaSec);
  let gnuStack = false;
  for (let s = 1; s < P.nsec && !gnuStack; s++) if ((P.secClass[s] & C_GNU_STACK) !== 0) gnuStack = true;
  if (gnuStack) out.addSection(new Section('.note.GNU-stack', SHT_PROGBITS, 0));
  out.addSection(symtab);
  out.addSection(strtab);
  return out;
}

/** Whether the relocation at `offset` of code section `sec` is a jump's rel32. */
function jumpField(sec: Section, type: number, offset: number): boolean {
  return (sec.flags & SHF_EXECINSTR) !== 0 && (type === R_X86_64_PC32 || type === R_X86_64_PLT32) && isJumpRel32(sec.data, offset);
}

function locate(placed: Map<number, Placed[]>, sec: number, off: number): Placed | null {
  const list = placed.get(sec);
  if (!list) return null;
  for (const p of list) if (off >= p.from && (off < p.to || (off === p.to && p.from === p.to) || (list.length === 1 && off <= p.to))) return p;
  return null;
}
