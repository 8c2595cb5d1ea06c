/**
 * The post-link step: turns the module kbuild produced into a livepatch
 * module in the kernel's module-elf-format (Documentation/livepatch/):
 *
 *  - each stand-in symbol gets its `.klp.sym.<object>.<name>,<sympos>` name
 *    back and becomes GLOBAL with st_shndx = SHN_LIVEPATCH;
 *  - every relocation against one of them, in a section the kernel loads,
 *    moves to `.klp.rela.<object>.<section>` (SHT_RELA, SHF_ALLOC |
 *    SHF_INFO_LINK | SHF_RELA_LIVEPATCH, sh_link = .symtab, sh_info = the
 *    section it applies to), one section per (object, target section), where
 *    <object> is the symbol's object, or for another module's symbol the
 *    patched module whose code refers to it (patch/meta.ts klpRelaObject);
 *  - the stand-ins' __versions entries are removed.
 *
 * The model holds object references, so every other symbol, relocation and
 * section link stays right when the writer renumbers.
 */
import {
  RELA_SIZE, SHF_ALLOC, SHF_INFO_LINK, SHF_RELA_LIVEPATCH, SHN_LIVEPATCH, SHN_UNDEF, SHT_REL, SHT_RELA,
  STB_GLOBAL,
} from '../../elf/constants.js';
import { KelpError } from '../errors.js';
import { ElfObject, ElfSymbol, Relocation, Section } from '../../elf/model.js';
import type { LinkKlpSymbol } from './plan.js';
import { describeRelocation, relocationName } from '../../rela/x86_64.js';
import { KLP_RELA_PREFIX, KLP_SYM_PREFIX } from '../kmod/names.js';
import { MODVERSION_INFO_SIZE, versionEntries, VERSIONS_SECTION } from '../kmod/versions.js';


export interface KlpConversion {
  /** The .klp.rela sections created, in the order they were added. */
  klpRelaSections: Section[];
  /** The livepatch symbols. */
  klpSymbols: ElfSymbol[];
  /** Relocations moved. */
  moved: number;
  /** __versions entries removed. */
  versionsRemoved: number;
}

/**
 * Converts `obj` (a kbuild-linked module) in place. `standIns` maps the
 * stand-in names to the klp symbols they carry.
 */
export function convertToLivepatch(obj: ElfObject, standIns: Map<string, LinkKlpSymbol>): KlpConversion {
  const file = obj.file;
  if (!obj.symtab) throw new KelpError('the module has no symbol table', file);
  const klpOf = new Map<ElfSymbol, LinkKlpSymbol>();
  for (const sym of obj.symbols) {
    const k = standIns.get(sym.name);
    if (!k) {
      if (sym.name.startsWith(KLP_SYM_PREFIX)) throw new KelpError(`symbol ${sym.name} is already a livepatch symbol; the module was converted before`, file);
      continue;
    }
    if (sym.section !== null || sym.shndx !== SHN_UNDEF) throw new KelpError(`stand-in ${sym.name} for ${k.placeholder} is defined in the linked module`, file);
    klpOf.set(sym, k);
  }

  // Move relocations. Relocation sections of non-loaded targets (debug info) keep
  // theirs: the kernel never applies those, and it must not be asked to write
  // into a section it does not keep.
  const created = new Map<string, Section>();
  const order: Section[] = [];
  let moved = 0;
  const symtab = obj.symtab;
  const emptied = new Set<Section>();
  for (const s of [...obj.sections]) {
    if (!s.isRelocation || !s.relocations || !s.infoSection) continue;
    if ((s.flags & SHF_RELA_LIVEPATCH) !== 0) continue;
    const target = s.infoSection;
    const keep: Relocation[] = [];
    let any = false;
    for (const r of s.relocations) {
      const k = r.symbol ? klpOf.get(r.symbol) : undefined;
      if (!k) {
        keep.push(r);
        continue;
      }
      if ((target.flags & SHF_ALLOC) === 0) {
        keep.push(r);
        continue;
      }
      if (s.type === SHT_REL) throw new KelpError(`${s.name}: a SHT_REL relocation against ${k.placeholder}; x86-64 modules use SHT_RELA`, file);
      checkRelocation(file, target, r, k);
      const name = `${KLP_RELA_PREFIX}${k.relaObject}.${target.name}`;
      let klp = created.get(name);
      if (!klp) {
        klp = new Section(name, SHT_RELA, SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH);
        klp.link = symtab;
        klp.infoSection = target;
        klp.entsize = RELA_SIZE;
        klp.align = 8;
        klp.relocations = [];
        created.set(name, klp);
        order.push(klp);
      }
      klp.relocations!.push(r);
      moved++;
      any = true;
    }
    if (any) {
      s.relocations = keep;
      if (keep.length === 0) emptied.add(s);
    }
  }
  if (emptied.size > 0) obj.sections = obj.sections.filter((s) => !emptied.has(s));
  // The .klp.rela sections go right after the last ordinary relocation section.
  let at = -1;
  for (let i = 0; i < obj.sections.length; i++) if (obj.sections[i].isRelocation) at = i;
  obj.sections.splice(at + 1, 0, ...order);

  // The symbols.
  const klpSymbols: ElfSymbol[] = [];
  for (const [sym, k] of klpOf) {
    sym.name = k.placeholder;
    sym.bind = STB_GLOBAL;
    sym.section = null;
    sym.shndx = SHN_LIVEPATCH;
    sym.value = 0n;
    sym.size = 0n;
    klpSymbols.push(sym);
  }
  const versionsRemoved = removeVersions(obj, new Set(standIns.keys()));
  obj.renumber();
  return { klpRelaSections: order, klpSymbols, moved, versionsRemoved };
}

function checkRelocation(file: string, target: Section, r: Relocation, k: LinkKlpSymbol): void {
  const d = describeRelocation(r.type);
  const where = `${target.name}+0x${r.offset.toString(16)}`;
  if (!d) throw new KelpError(`${where}: ${relocationName(r.type)} against ${k.placeholder} is not a type the kernel applies`, file);
  const off = Number(r.offset);
  if (off < 0 || off + d.size > target.size) throw new KelpError(`${where}: ${d.name} against ${k.placeholder} lies outside the section`, file);
  if (target.data.length >= off + d.size) {
    for (let i = off; i < off + d.size; i++) {
      if (target.data[i] !== 0) throw new KelpError(`${where}: the bytes under ${d.name} against ${k.placeholder} are not zero; the kernel refuses to apply it`, file);
    }
  }
}

/** Removes the __versions entries of the named symbols; returns how many. */
export function removeVersions(obj: ElfObject, names: Set<string>): number {
  const sec = obj.sections.find((s) => s.name === VERSIONS_SECTION);
  if (!sec || names.size === 0) return 0;
  const data = sec.data;
  if (data.length % MODVERSION_INFO_SIZE !== 0) throw new KelpError(`${VERSIONS_SECTION}: size ${data.length} is not a multiple of ${MODVERSION_INFO_SIZE}`, obj.file);
  for (const s of obj.sections) {
    if (s.isRelocation && s.infoSection === sec && s.relocations && s.relocations.length > 0) {
      throw new KelpError(`${VERSIONS_SECTION} has relocations; kelp cannot edit it`, obj.file);
    }
  }
  const kept: Buffer[] = [];
  let removed = 0;
  for (const e of versionEntries(data)) {
    if (names.has(e.name)) removed++;
    else kept.push(data.subarray(e.offset, e.offset + MODVERSION_INFO_SIZE));
  }
  if (removed === 0) return 0;
  sec.data = Buffer.concat(kept);
  for (const sym of obj.symbols) {
    if (sym.section !== sec) continue;
    if (sym.value > BigInt(sec.data.length)) throw new KelpError(`symbol ${sym.name} points past the shortened ${VERSIONS_SECTION}`, obj.file);
    if (sym.value + sym.size > BigInt(sec.data.length)) sym.size = BigInt(sec.data.length) - sym.value;
  }
  return removed;
}

/** Names of the __versions entries (for checks). */
export function versionNames(obj: ElfObject): string[] {
  const sec = obj.sections.find((s) => s.name === VERSIONS_SECTION);
  if (!sec) return [];
  return versionEntries(sec.data).map((e) => e.name);
}

