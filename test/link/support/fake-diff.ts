/**
 * Test inputs for `kelp link` that honour the diff contract (src/patch/meta.ts)
 * without the diff engine: an object compiled by the target's kbuild, whose
 * chosen undefined references are renamed to `.klp.sym` placeholders, whose
 * kpatch-macros.h records are read (as the diff engine reads them) and
 * dropped, and which gets a .kelp.meta section.
 */
import { SHF_ALLOC, SHN_UNDEF, SHT_PROGBITS, STB_GLOBAL, STT_FUNC } from '../../../elf/constants.js';
import { ElfObject, Section, type ElfSymbol } from '../../../elf/model.js';
import { writeObject } from '../../../elf/writer.js';
import { klpSymbolName } from '../../../src/kmod/names.js';
import { META_SECTION, META_VERSION, type Callbacks, type DiffMeta, type KlpSymbol, type PatchedFunction } from '../../../src/patch/meta.js';
import { removeSection } from '../../../src/link/elf-edit.js';

export interface FakeDiffSpec {
  target: string;
  functions: PatchedFunction[];
  /** Undefined symbol name → where the placeholder points. */
  klp: Record<string, { object: string; name?: string; sympos: number }>;
  newFunctions?: string[];
  newData?: string[];
}

const CALLBACK_SECTIONS: Record<string, keyof Callbacks> = {
  '.kpatch.callbacks.pre_patch': 'prePatch',
  '.kpatch.callbacks.post_patch': 'postPatch',
  '.kpatch.callbacks.pre_unpatch': 'preUnpatch',
  '.kpatch.callbacks.post_unpatch': 'postUnpatch',
};

/** The function a pointer record's R_X86_64_64 relocation points at. */
export function pointedFunction(obj: ElfObject, section: Section, offset: bigint): ElfSymbol {
  const rela = obj.sections.find((s) => s.isRelocation && s.infoSection === section);
  const r = rela?.relocations?.find((x) => x.offset === offset);
  if (!r || !r.symbol) throw new Error(`${section.name}+${offset}: no relocation`);
  if (r.symbol.type === STT_FUNC) return r.symbol;
  const fn = obj.symbols.find((s) => s.section === r.symbol!.section && s.type === STT_FUNC && s.value === r.addend);
  if (!fn) throw new Error(`${section.name}+${offset}: no function at ${r.symbol.name}+${r.addend}`);
  return fn;
}

/** The kpatch-macros.h callback records of an object (layout documented in the header). */
export function readCallbacks(obj: ElfObject): Callbacks {
  const cb: Callbacks = {};
  for (const s of obj.sections) {
    const kind = CALLBACK_SECTIONS[s.name];
    if (!kind) continue;
    if (s.size !== 16) throw new Error(`${s.name}: ${s.size} bytes, expected one 16-byte record`);
    cb[kind] = pointedFunction(obj, s, 0n).name;
  }
  return cb;
}

/** Turns a kbuild-compiled object into a diff output; returns its bytes and meta. */
export function makeDiffObject(buf: Buffer, file: string, spec: FakeDiffSpec): { bytes: Buffer; meta: DiffMeta } {
  const obj = ElfObject.read(buf, file);
  const callbacks = readCallbacks(obj);
  for (const s of [...obj.sections]) {
    if (!s.name.startsWith('.kpatch.') || !obj.sections.includes(s)) continue;
    // Debug information describing the records goes with them.
    for (const r of obj.sections) {
      if (!r.relocations || !r.infoSection || (r.infoSection.flags & SHF_ALLOC) !== 0) continue;
      r.relocations = r.relocations.filter((x) => x.symbol === null || x.symbol.section !== s);
    }
    removeSection(obj, s);
  }
  const klpSymbols: KlpSymbol[] = [];
  for (const [undef, where] of Object.entries(spec.klp)) {
    const sym = obj.symbols.find((s) => s.name === undef && s.section === null && s.shndx === SHN_UNDEF);
    if (!sym) throw new Error(`${file}: no undefined symbol ${undef}`);
    const name = where.name ?? undef;
    const placeholder = klpSymbolName(where.object, name, where.sympos);
    sym.name = placeholder;
    sym.bind = STB_GLOBAL;
    klpSymbols.push({ placeholder, object: where.object, name, sympos: where.sympos });
  }
  const meta: DiffMeta = {
    version: META_VERSION, target: spec.target, source: file, functions: spec.functions,
    newFunctions: spec.newFunctions ?? [], newData: spec.newData ?? [], klpSymbols, callbacks,
  };
  const m = obj.addSection(new Section(META_SECTION, SHT_PROGBITS));
  m.data = Buffer.from(JSON.stringify(meta), 'utf8');
  return { bytes: writeObject(obj), meta };
}
