/**
 * The patch's own tables: struct klp_patch → klp_object[] → klp_func[],
 * decoded from the module's data through its relocations (the pointers are
 * all R_X86_64_64 relocations; the scalars are in the section bytes). Layout
 * of Linux 6.1 (include/linux/livepatch.h), x86-64:
 *
 *   struct klp_patch  { struct module *mod; struct klp_object *objs; ... }
 *   struct klp_object { const char *name; struct klp_func *funcs; ... }   (name NULL: vmlinux)
 *   struct klp_func   { const char *old_name; void *new_func; unsigned long old_sympos; ... }
 *
 * Arrays end with an all-zero entry. The entry size of each array comes from
 * the array's own symbol (a static array's st_size is entries × size): the
 * smallest multiple of 8 for which every entry but the last carries its
 * mandatory pointer (klp_object.funcs, klp_func.old_name) and the last is
 * zero. Without a covering symbol, the sizes of Debian's 6.1 build are used.
 * A klp_patch is found as a pointer to __this_module followed by a pointer to
 * an array that decodes as klp_objects.
 *
 * Shared by `kelp check` (check/klp-funcs.ts: each old_name must name a
 * function of its object at old_sympos) and `kelp dump --livepatch`, which
 * shows the tables.
 */
import { R_X86_64_64, SHF_ALLOC, SHF_RELA_LIVEPATCH, SHN_UNDEF, STT_OBJECT, STT_SECTION } from '../../elf/constants.js';
import { KSYM_NAME_LEN, MODULE_NAME_LEN } from './names.js';
import { at, type ModRela, type ModuleImage } from './image.js';

/** sizeof(struct klp_object) and sizeof(struct klp_func) of Linux 6.1 x86-64 (Debian's configuration). */
export const KLP_OBJECT_SIZE_6_1 = 168;
export const KLP_FUNC_SIZE_6_1 = 152;

export interface KlpFuncEntry {
  oldName: string;
  oldSympos: bigint;
  /**
   * The symbol klp_func.new_func's relocation names (`sym+0xA` with a non-zero
   * addend; a section symbol by its section's name), or undefined when the
   * pointer has no relocation (NULL).
   */
  newFunc: string | undefined;
  /** Where new_func points (section index, offset), when it points into the module. */
  newFuncTarget: Pointer | undefined;
  /** Where the entry lies: `section+0xoff`. */
  place: string;
}

export interface KlpObjectEntry {
  /** `vmlinux` when klp_object.name is NULL. */
  name: string;
  funcs: KlpFuncEntry[];
  place: string;
}

export interface KlpTables {
  place: string;
  objects: KlpObjectEntry[];
}

/** A place in the module: a section index and an offset in it. */
export interface Pointer {
  section: number;
  offset: bigint;
}

/** The data relocations of each loaded section, by offset. */
class DataRelocs {
  private readonly bySection = new Map<number, Map<bigint, ModRela>>();

  constructor(private readonly m: ModuleImage) {
    for (const { rel, target } of m.relocationSections()) {
      if (!target || !isAlloc(target.sh_flags)) continue;
      if ((rel.sh_flags & SHF_RELA_LIVEPATCH) !== 0) continue; // .klp.rela: not part of the tables
      const rels = m.relocations(rel);
      if (!rels) continue;
      let map = this.bySection.get(target.index);
      if (!map) this.bySection.set(target.index, (map = new Map()));
      for (const r of rels) if (r.type === R_X86_64_64) map.set(r.offset, r);
    }
  }

  at(section: number, offset: bigint): ModRela | undefined {
    return this.bySection.get(section)?.get(offset);
  }

  anyIn(section: number, lo: bigint, hi: bigint): boolean {
    const map = this.bySection.get(section);
    if (!map) return false;
    for (const o of map.keys()) if (o >= lo && o < hi) return true;
    return false;
  }

  *all(): Generator<{ section: number; r: ModRela }> {
    for (const [section, map] of this.bySection) for (const r of map.values()) yield { section, r };
  }

  /** Where a pointer relocation points (section, offset), or undefined for an undefined or special symbol. */
  target(r: ModRela): Pointer | undefined {
    const sym = this.m.symbols[r.sym];
    if (!sym || !this.m.isDefinedInSection(sym)) return undefined;
    return { section: sym.shndx, offset: sym.value + r.addend };
  }
}

function isAlloc(flags: number): boolean {
  return (flags & SHF_ALLOC) !== 0;
}

/** The [start, end) of the static array starting at the pointer, from the OBJECT symbol that covers it. */
function arrayExtent(m: ModuleImage, ptr: Pointer): { start: bigint; end: bigint } | undefined {
  for (const s of m.symbols) {
    if (s.type !== STT_OBJECT || s.shndx !== ptr.section || s.size === 0n) continue;
    if (s.value <= ptr.offset && ptr.offset < s.value + s.size) return { start: ptr.offset, end: s.value + s.size };
  }
  return undefined;
}

function isZero(m: ModuleImage, section: number, lo: bigint, hi: bigint): boolean {
  const s = m.section(section);
  const d = s ? m.data(s) : undefined;
  if (!d) return true;
  for (let i = Number(lo); i < Number(hi) && i < d.length; i++) if (d[i] !== 0) return false;
  return true;
}

/** The entries of a NULL-terminated array of structs whose field at `mandatory` is always a pointer. */
function arrayEntries(m: ModuleImage, rel: DataRelocs, ptr: Pointer, mandatory: bigint, fallback: bigint): bigint[] | undefined {
  const ext = arrayExtent(m, ptr);
  const strides: bigint[] = [];
  if (ext) {
    const len = ext.end - ext.start;
    for (let s = 24n; s <= len / 2n; s += 8n) if (len % s === 0n) strides.push(s);
  } else {
    strides.push(fallback);
  }
  for (const stride of strides) {
    const entries: bigint[] = [];
    let off = ptr.offset;
    const limit = ext ? ext.end : ptr.offset + stride * 4096n;
    let ok = false;
    while (off + stride <= limit) {
      if (rel.at(ptr.section, off + mandatory)) {
        entries.push(off);
        off += stride;
        continue;
      }
      // The terminator: nothing in it.
      ok = !rel.anyIn(ptr.section, off, off + stride) && isZero(m, ptr.section, off, off + stride) && (!ext || off + stride === ext.end);
      break;
    }
    if (ok && entries.length > 0) return entries;
  }
  return undefined;
}

function stringAt(m: ModuleImage, rel: DataRelocs, section: number, offset: bigint, max: number): string | undefined {
  const r = rel.at(section, offset);
  if (!r) return undefined;
  const t = rel.target(r);
  return t ? m.stringAt(t.section, t.offset, max) : undefined;
}

/** klp_func.new_func: the relocated pointer's symbol and, when it points into the module, where. */
function newFuncAt(m: ModuleImage, rel: DataRelocs, section: number, offset: bigint): { newFunc: string | undefined; newFuncTarget: Pointer | undefined } {
  const r = rel.at(section, offset);
  if (!r) return { newFunc: undefined, newFuncTarget: undefined };
  const sym = m.symbols[r.sym];
  const base = !sym ? `<symbol ${r.sym}>` : sym.type === STT_SECTION && sym.name === '' ? m.name(sym.shndx) : sym.name;
  return {
    newFunc: r.addend === 0n ? base : `${base}${r.addend < 0n ? '-' : '+'}0x${(r.addend < 0n ? -r.addend : r.addend).toString(16)}`,
    newFuncTarget: rel.target(r),
  };
}

function u64At(m: ModuleImage, section: number, offset: bigint): bigint {
  const s = m.section(section);
  const d = s ? m.data(s) : undefined;
  if (!d || offset + 8n > BigInt(d.length)) return 0n;
  return d.readBigUInt64LE(Number(offset));
}

/** Finds and decodes the module's klp_patch tables (normally one). */
export function readKlpTables(m: ModuleImage): KlpTables[] {
  const thisModule = m.symbols.find((s) => s.name === '__this_module' && s.shndx !== SHN_UNDEF);
  if (!thisModule) return [];
  const rel = new DataRelocs(m);
  const out: KlpTables[] = [];
  for (const { section, r } of rel.all()) {
    if (r.sym !== thisModule.index || r.addend !== 0n) continue;
    const objsRel = rel.at(section, r.offset + 8n);
    const objsPtr = objsRel ? rel.target(objsRel) : undefined;
    if (!objsPtr) continue;
    const objEntries = arrayEntries(m, rel, objsPtr, 8n, BigInt(KLP_OBJECT_SIZE_6_1));
    if (!objEntries) continue;
    const objects: KlpObjectEntry[] = [];
    let valid = true;
    for (const o of objEntries) {
      const name = rel.at(objsPtr.section, o) ? stringAt(m, rel, objsPtr.section, o, MODULE_NAME_LEN * 4) : 'vmlinux';
      const funcsPtr = rel.target(rel.at(objsPtr.section, o + 8n)!);
      const funcEntries = funcsPtr ? arrayEntries(m, rel, funcsPtr, 0n, BigInt(KLP_FUNC_SIZE_6_1)) : undefined;
      if (name === undefined || !funcsPtr || !funcEntries) {
        valid = false;
        break;
      }
      const funcs: KlpFuncEntry[] = [];
      for (const f of funcEntries) {
        const oldName = stringAt(m, rel, funcsPtr.section, f, KSYM_NAME_LEN * 4);
        if (oldName === undefined) {
          valid = false;
          break;
        }
        funcs.push({
          oldName, oldSympos: u64At(m, funcsPtr.section, f + 16n), ...newFuncAt(m, rel, funcsPtr.section, f + 8n),
          place: at(m.name(funcsPtr.section), f),
        });
      }
      if (!valid) break;
      objects.push({ name, funcs, place: at(m.name(objsPtr.section), o) });
    }
    if (valid) out.push({ place: at(m.name(section), r.offset), objects });
  }
  return out;
}
