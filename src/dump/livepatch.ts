/**
 * `kelp dump --livepatch`: a readable view of a livepatch module for
 * operators and patch authors, not a readelf format. Per file:
 *
 *  - the module: its name (.gnu.linkonce.this_module and modinfo name=),
 *    livepatch=, vermagic, license, and whether __versions is there;
 *  - the patch's klp_patch → klp_object → klp_func tables, decoded as
 *    `kelp check` decodes them (src/check/klp-funcs.ts);
 *  - the `.klp.rela.<object>.<section>` sections grouped by object, each
 *    with the section it applies to, its flags and every relocation;
 *  - the `.klp.sym.<object>.<name>,<pos>` symbols;
 *  - the ordinary undefined symbols the module loader resolves from exports.
 *
 * describeLivepatch builds the model (raw ELF fields keep their ELF
 * spellings: r_offset, sh_flags, st_shndx; the rest is camelCase),
 * formatLivepatch prints it, runLivepatchDump does both for the command
 * line; `--json` prints the models as one array. 64-bit values are JSON
 * numbers when they are safe integers, decimal strings otherwise. Everything
 * is listed in file order (sections, symbols, relocations), so the output
 * depends only on the file.
 */
import { readFileSync } from 'node:fs';
import {
  SHF_ALLOC, SHF_RELA_LIVEPATCH, SHN_LIVEPATCH, SHT_RELA, STT_FUNC, STT_SECTION,
} from '../../elf/constants.js';
import { asKelpError, ExitCode } from '../errors.js';
import { relocationName, isSupportedRelocation } from '../../rela/x86_64.js';
import { readKlpTables, type KlpFuncEntry } from '../kmod/klp-func.js';
import { KLP_RELA_PREFIX, KLP_SYM_PREFIX, parseKlpRelaName, parseKlpSymName } from '../kmod/names.js';
import { ModuleImage, thisModuleName, type ModSymbol } from '../kmod/image.js';
import { at, ProblemList } from '../check/problem.js';
import { loaderUndefinedSymbols } from '../check/undefined.js';
import { VERSIONS_SECTION, MODVERSION_INFO_SIZE } from '../kmod/versions.js';
import { modinfoValue } from '../kmod/modinfo.js';
import { systemMessage } from '../util/system-error.js';

/** A 64-bit value in JSON: a number when exact, else its decimal string. */
export type JsonInt = number | string;

export interface LivepatchModule {
  /** The name in .gnu.linkonce.this_module (what the kernel calls the module). */
  name: string | null;
  /** .modinfo name=. */
  modinfoName: string | null;
  /** .modinfo livepatch= (the kernel treats the module as a livepatch when the entry exists). */
  livepatch: string | null;
  vermagic: string | null;
  license: string | null;
  /** Whether the module has a __versions section (modversions CRCs). */
  versions: boolean;
  /** Entries in __versions (struct modversion_info, 64 bytes each). */
  versionEntries: number;
}

export interface LivepatchFunc {
  /** klp_func.old_name. */
  oldName: string;
  /** klp_func.old_sympos (0: the name is unique). */
  oldSympos: JsonInt;
  /** The symbol klp_func.new_func's relocation names; null for a NULL pointer. */
  newFunc: string | null;
  /** Where new_func points, `section+0xoff`, when inside the module. */
  newFuncPlace: string | null;
  /** The other function symbols defined at that place (e.g. the patched function behind kelp's alias). */
  newFuncAliases: string[];
  /** Where the klp_func lies. */
  place: string;
}

export interface LivepatchObject {
  /** klp_object.name (`vmlinux` for NULL). */
  name: string;
  place: string;
  funcs: LivepatchFunc[];
}

export interface LivepatchTable {
  /** Where the klp_patch lies. */
  place: string;
  objects: LivepatchObject[];
}

export interface KlpRelocation {
  r_offset: JsonInt;
  r_type: number;
  /** The psABI name (R_X86_64_...). */
  type: string;
  /** Whether the kernel's x86-64 loader applies this type. */
  supported: boolean;
  r_sym: number;
  /** The symbol's name (a section symbol by its section's name). */
  symbol: string;
  /** Whether that symbol's st_shndx is SHN_LIVEPATCH. */
  livepatchSymbol: boolean;
  r_addend: JsonInt;
}

export interface KlpRelaSection {
  /** The section's index. */
  index: number;
  name: string;
  /** The section name after the object (`.text.foo`). */
  section: string | null;
  sh_type: number;
  sh_flags: number;
  sh_info: number;
  sh_link: number;
  /** The section sh_info names (what the relocations apply to), null when none. */
  appliesTo: string | null;
  /** SHF_ALLOC and SHF_RELA_LIVEPATCH are both set (what the livepatch core needs). */
  flagsOk: boolean;
  /** Which of the two flags are missing. */
  missingFlags: string[];
  /** null when the entries cannot be read. */
  relocationCount: number | null;
  relocations: KlpRelocation[];
}

export interface KlpRelaGroup {
  /** The object from the section names; null for sections whose name the livepatch core cannot parse. */
  object: string | null;
  sections: KlpRelaSection[];
}

export interface KlpSymbolEntry {
  /** The symbol's index in .symtab. */
  index: number;
  /** The full symbol name, `.klp.sym.<object>.<name>,<pos>`. */
  symbol: string;
  /** null (all three) when the livepatch core cannot parse the name. */
  object: string | null;
  name: string | null;
  position: number | null;
  st_shndx: number;
  /** st_shndx is SHN_LIVEPATCH. */
  livepatch: boolean;
  /** Relocations in .klp.rela sections against it. */
  relocations: number;
}

export interface UndefinedSymbol {
  index: number;
  name: string;
  /** LOCAL, GLOBAL, WEAK or the number. */
  bind: string;
}

export interface LivepatchView {
  file: string;
  /** The kernel's own test: .modinfo has a livepatch= entry. */
  isLivepatch: boolean;
  /** One line: what the file is. */
  summary: string;
  module: LivepatchModule;
  /** The klp_patch tables (normally one). */
  patches: LivepatchTable[];
  klpRela: KlpRelaGroup[];
  klpSymbols: KlpSymbolEntry[];
  undefinedSymbols: UndefinedSymbol[];
  /** What could not be read or looks wrong, in plain words. */
  notes: string[];
}

const jsonInt = (v: bigint): JsonInt => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());
const BINDS = ['LOCAL', 'GLOBAL', 'WEAK'];

/** A symbol's name as shown: a section symbol by its section's name. */
function symbolName(m: ModuleImage, index: number): string {
  const s = m.symbols[index];
  if (!s) return `<symbol ${index}>`;
  if (s.name === '' && s.type === STT_SECTION && m.isDefinedInSection(s)) return m.name(s.shndx);
  return s.name;
}

function describeModule(m: ModuleImage): LivepatchModule {
  const info = m.modinfo();
  const v = (key: string): string | null => modinfoValue(info, key) ?? null;
  const versions = m.sectionByName(VERSIONS_SECTION);
  return {
    name: thisModuleName(m) ?? null,
    modinfoName: v('name'),
    livepatch: v('livepatch'),
    vermagic: v('vermagic'),
    license: v('license'),
    versions: versions !== undefined,
    versionEntries: versions ? Math.floor(Number(versions.sh_size) / MODVERSION_INFO_SIZE) : 0,
  };
}

function describeFunc(m: ModuleImage, f: KlpFuncEntry): LivepatchFunc {
  const t = f.newFuncTarget;
  const aliases = t
    ? m.symbols.filter((s) => s.type === STT_FUNC && s.shndx === t.section && s.value === t.offset && s.name !== f.newFunc).map((s) => s.name)
    : [];
  return {
    oldName: f.oldName,
    oldSympos: jsonInt(f.oldSympos),
    newFunc: f.newFunc ?? null,
    newFuncPlace: t ? at(m.name(t.section), t.offset) : null,
    newFuncAliases: aliases,
    place: f.place,
  };
}

function describeKlpRela(m: ModuleImage, notes: string[], uses: Map<number, number>): KlpRelaGroup[] {
  const groups = new Map<string | null, KlpRelaGroup>();
  for (const s of m.sections) {
    if (s.index === 0) continue;
    const name = m.name(s);
    if (!name.startsWith(KLP_RELA_PREFIX) && (s.sh_flags & SHF_RELA_LIVEPATCH) === 0) continue;
    const parsed = parseKlpRelaName(name);
    const applied = m.section(s.sh_info);
    const missingFlags: string[] = [];
    if ((s.sh_flags & SHF_ALLOC) === 0) missingFlags.push('SHF_ALLOC');
    if ((s.sh_flags & SHF_RELA_LIVEPATCH) === 0) missingFlags.push('SHF_RELA_LIVEPATCH');
    const problems = new ProblemList();
    const rels = s.sh_type === SHT_RELA ? m.relocations(s, problems) : null;
    if (s.sh_type !== SHT_RELA) notes.push(`${name}: sh_type is ${s.sh_type}, not SHT_RELA (4)`);
    for (const p of problems.problems) notes.push(`${p.place}: ${p.message}`);
    const relocations: KlpRelocation[] = (rels ?? []).map((r) => {
      const sym = m.symbols[r.sym] as ModSymbol | undefined;
      if (r.sym !== 0) uses.set(r.sym, (uses.get(r.sym) ?? 0) + 1);
      return {
        r_offset: jsonInt(r.offset), r_type: r.type, type: relocationName(r.type), supported: isSupportedRelocation(r.type),
        r_sym: r.sym, symbol: r.sym === 0 ? '' : symbolName(m, r.sym), livepatchSymbol: sym?.shndx === SHN_LIVEPATCH,
        r_addend: jsonInt(r.addend),
      };
    });
    const object = parsed?.object ?? null;
    let g = groups.get(object);
    if (!g) groups.set(object, (g = { object, sections: [] }));
    g.sections.push({
      index: s.index, name, section: parsed?.section ?? null,
      sh_type: s.sh_type, sh_flags: s.sh_flags, sh_info: s.sh_info, sh_link: s.sh_link,
      appliesTo: applied ? m.name(applied) : null,
      flagsOk: missingFlags.length === 0, missingFlags,
      relocationCount: rels ? rels.length : null, relocations,
    });
  }
  return [...groups.values()];
}

function describeKlpSymbols(m: ModuleImage, uses: Map<number, number>): KlpSymbolEntry[] {
  const out: KlpSymbolEntry[] = [];
  for (const s of m.symbols) {
    if (s.index === 0 || (!s.name.startsWith(KLP_SYM_PREFIX) && s.shndx !== SHN_LIVEPATCH)) continue;
    const k = parseKlpSymName(s.name);
    out.push({
      index: s.index, symbol: s.name, object: k?.object ?? null, name: k?.name ?? null, position: k?.pos ?? null,
      st_shndx: s.shndx, livepatch: s.shndx === SHN_LIVEPATCH, relocations: uses.get(s.index) ?? 0,
    });
  }
  return out;
}

function summarize(v: Omit<LivepatchView, 'summary'>): string {
  const name = v.module.name ?? v.module.modinfoName;
  if (v.isLivepatch) return `livepatch module${name ? ` ${name}` : ''}`;
  const klp: string[] = [];
  if (v.klpRela.length > 0) klp.push('.klp.rela sections');
  if (v.klpSymbols.length > 0) klp.push('.klp.sym symbols');
  if (v.patches.length > 0) klp.push('a klp_patch table');
  if (klp.length === 0) return 'not a livepatch module (no livepatch= in .modinfo, no .klp.rela sections, no .klp.sym symbols)';
  return `not a livepatch module to the kernel (no livepatch= in .modinfo), though it has ${klp.join(' and ')}`;
}

/** The livepatch view of one module already in memory. Throws a KelpError for a file that is not a usable ELF file. */
export function describeLivepatch(buf: Buffer, file: string): LivepatchView {
  const problems = new ProblemList();
  const m = ModuleImage.fromBuffer(file, buf, problems);
  const notes = problems.problems.map((p) => `${p.place}: ${p.message}`);
  const module = describeModule(m);
  const patches: LivepatchTable[] = readKlpTables(m).map((t) => ({
    place: t.place,
    objects: t.objects.map((o) => ({ name: o.name, place: o.place, funcs: o.funcs.map((f) => describeFunc(m, f)) })),
  }));
  const uses = new Map<number, number>();
  const klpRela = describeKlpRela(m, notes, uses);
  const klpSymbols = describeKlpSymbols(m, uses);
  const undefinedSymbols = loaderUndefinedSymbols(m).map((s) => ({ index: s.index, name: s.name, bind: BINDS[s.bind] ?? String(s.bind) }));
  const isLivepatch = module.livepatch !== null;
  if (isLivepatch && module.livepatch !== 'Y') notes.push(`livepatch=${module.livepatch}: klp_enable_patch() expects livepatch=Y`);
  if (isLivepatch && patches.length === 0 && m.symtab) notes.push('no klp_patch table could be decoded');
  const summary = summarize({ file, isLivepatch, module, patches, klpRela, klpSymbols, undefinedSymbols, notes });
  return { file, isLivepatch, summary, module, patches, klpRela, klpSymbols, undefinedSymbols, notes };
}

// ---- text -----------------------------------------------------------------

/** Control characters as `^X`, so a name cannot break the layout. */
const shown = (s: string): string => s.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\x7f' ? '^?' : `^${String.fromCharCode(c.charCodeAt(0) + 0x40)}`));
const orNone = (s: string | null): string => (s === null ? '(none)' : shown(s));
const hex16 = (v: JsonInt): string => BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, '0');
const signedHex = (v: JsonInt): string => {
  const b = BigInt(v);
  return b < 0n ? `-0x${(-b).toString(16)}` : `0x${b.toString(16)}`;
};
const flagsHex = (f: number): string => `0x${f.toString(16)}`;

/** Rows as columns padded to their widest cell (the last column unpadded). */
function table(rows: string[][], indent: string, right: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => indent + r.map((c, i) => {
    if (right.has(i)) return c.padStart(widths[i]);
    return i === r.length - 1 ? c : c.padEnd(widths[i]);
  }).join('  ').trimEnd());
}

/** The text view of one file, ending with a newline. */
export function formatLivepatch(v: LivepatchView): string {
  const L: string[] = [];
  const mod = v.module;
  L.push(`${shown(v.file)}: ${shown(v.summary)}`);
  L.push('');
  L.push('Module:');
  L.push(...table([
    ['name', `${orNone(mod.name)} (.gnu.linkonce.this_module), ${orNone(mod.modinfoName)} (.modinfo name=)`],
    ['livepatch', orNone(mod.livepatch)],
    ['vermagic', orNone(mod.vermagic === null ? null : mod.vermagic.trimEnd())],
    ['license', orNone(mod.license)],
    ['__versions', mod.versions ? `present, ${mod.versionEntries} entries` : 'absent'],
  ], '  '));

  L.push('');
  if (v.patches.length === 0) {
    L.push('Patched objects: none (no klp_patch table)');
  }
  for (const p of v.patches) {
    L.push(`Patched objects (klp_patch at ${shown(p.place)}):`);
    for (const o of p.objects) {
      L.push(`  ${shown(o.name)} (klp_object at ${shown(o.place)})`);
      L.push(...table([['old_name', 'old_sympos', 'new_func'], ...o.funcs.map((f) => [
        shown(f.oldName), String(f.oldSympos),
        f.newFunc === null ? 'NULL' : `${shown(f.newFunc)}${f.newFuncAliases.length > 0 ? ` = ${f.newFuncAliases.map(shown).join(', ')}` : ''}${f.newFuncPlace ? ` (${shown(f.newFuncPlace)})` : ''}`,
      ])], '    ', new Set([1])));
    }
  }

  L.push('');
  if (v.klpRela.length === 0) L.push('Livepatch relocation sections (.klp.rela): none');
  else L.push('Livepatch relocation sections (.klp.rela), by object:');
  for (const g of v.klpRela) {
    L.push(`  ${g.object === null ? '(name not parsable as .klp.rela.<object>.<section>)' : shown(g.object)}`);
    for (const s of g.sections) {
      const flags = s.flagsOk
        ? `sh_flags ${flagsHex(s.sh_flags)} (SHF_ALLOC|SHF_RELA_LIVEPATCH: ok)`
        : `sh_flags ${flagsHex(s.sh_flags)} (lacks ${s.missingFlags.join(' and ')})`;
      const count = s.relocationCount === null ? 'unreadable' : `${s.relocationCount} relocation${s.relocationCount === 1 ? '' : 's'}`;
      L.push(`    [${s.index}] ${shown(s.name)}`);
      L.push(`      applies to [${s.sh_info}] ${orNone(s.appliesTo)}; ${flags}; ${count}`);
      if (s.relocations.length > 0) {
        L.push(...table([['Offset', 'Type', 'Symbol', 'Addend'], ...s.relocations.map((r) => [
          hex16(r.r_offset), `${r.type}${r.supported ? '' : ' (unsupported)'}`,
          `${shown(r.symbol)}${r.livepatchSymbol || r.r_sym === 0 ? '' : ' (not SHN_LIVEPATCH)'}`, signedHex(r.r_addend),
        ])], '        '));
      }
    }
  }

  L.push('');
  if (v.klpSymbols.length === 0) L.push('Livepatch symbols (.klp.sym): none');
  else {
    L.push('Livepatch symbols (.klp.sym):');
    L.push(...table([['Num', 'Object', 'Name', 'Pos', 'st_shndx', 'Uses'], ...v.klpSymbols.map((s) => [
      String(s.index), orNone(s.object), s.name === null ? `(unparsable: ${shown(s.symbol)})` : shown(s.name),
      s.position === null ? '-' : String(s.position),
      s.livepatch ? 'SHN_LIVEPATCH' : `0x${s.st_shndx.toString(16)} (not SHN_LIVEPATCH)`, String(s.relocations),
    ])], '  ', new Set([0, 3, 5])));
  }

  L.push('');
  if (v.undefinedSymbols.length === 0) L.push('Undefined symbols (resolved by the module loader from exports): none');
  else {
    L.push('Undefined symbols (resolved by the module loader from exports):');
    for (const s of v.undefinedSymbols) L.push(`  ${shown(s.name)}${s.bind === 'GLOBAL' ? '' : ` (${s.bind})`}`);
  }

  if (v.notes.length > 0) {
    L.push('');
    L.push('Notes:');
    for (const n of v.notes) L.push(`  ${shown(n)}`);
  }
  return `${L.join('\n')}\n`;
}

// ---- command line -----------------------------------------------------------

export interface LivepatchDumpIo {
  stdout(chunk: Buffer): void;
  /** Receives one complete line (with its newline) per problem. */
  stderr(line: string): void;
}

/** A file that could not be described, in the --json array. */
export interface LivepatchDumpError {
  file: string;
  error: string;
}

/**
 * Prints the view of every file (text, or with `json` one array with an entry
 * per file, `{ file, error }` for a file kelp cannot read); returns the exit
 * status: 0 when every file was read, else the worst error's code.
 */
export function runLivepatchDump(files: readonly string[], opts: { json: boolean }, io: LivepatchDumpIo): number {
  let status = 0;
  const entries: Array<LivepatchView | LivepatchDumpError> = [];
  let first = true;
  for (const file of files) {
    let problem: string;
    try {
      const view = describeLivepatch(readFileSync(file), file);
      entries.push(view);
      if (!opts.json) {
        io.stdout(Buffer.from(`${first ? '' : '\n'}${formatLivepatch(view)}`, 'latin1'));
        first = false;
      }
      continue;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const k = asKelpError(err);
      if (k !== undefined) {
        problem = k.describe();
        status = Math.max(status, k.exitCode || ExitCode.BadInput);
      } else if (e && typeof e.code === 'string') {
        // An fs error (readFileSync of a directory carries no path).
        problem = `${file}: ${systemMessage(e)}`;
        status = Math.max(status, 1);
      } else {
        throw err;
      }
    }
    io.stderr(`kelp: ${problem}\n`);
    entries.push({ file, error: problem.startsWith(`${file}: `) ? problem.slice(file.length + 2) : problem });
  }
  if (opts.json) io.stdout(Buffer.from(`${JSON.stringify(entries, null, 2)}\n`, 'utf8'));
  return status;
}
