/**
 * The contract between `kelp diff` and `kelp link`.
 *
 * A diff output is an ET_REL object holding the included functions (defined
 * FUNC symbols), new data, the special-section entries they need, ordinary
 * undefined references for symbols the module loader resolves (exported by
 * vmlinux or by another module), and, for every reference the loader cannot
 * resolve (a symbol local to the patched object, a non-exported global, or a
 * symbol of a module that may not be loaded yet), an undefined GLOBAL
 * placeholder symbol named exactly as the final livepatch symbol:
 *
 *     .klp.sym.<object>.<name>,<sympos>
 *
 * `kelp link` moves every relocation against a placeholder into
 * `.klp.rela.<object>.<section>` (object = the placeholder's object, so a
 * vmlinux symbol reached from a module patch goes to .klp.rela.vmlinux.*, as
 * the kernel requires since 5.8) and turns the placeholder into an
 * SHN_LIVEPATCH symbol.
 *
 * The object also carries one `.kelp.meta` section (SHT_PROGBITS, no flags)
 * whose bytes are the UTF-8 JSON of a `DiffMeta`. `kelp link` reads it from
 * each input and does not pass it on to the module.
 */

export const META_SECTION = '.kelp.meta';
export const META_VERSION = 1;

export interface PatchedFunction {
  /** The function's symbol name in the diff output (its new code). */
  name: string;
  /** The function's name in the running target (`old_name` of klp_func). */
  oldName: string;
  /** klp_func.old_sympos: 0 when the name is unique in its object. */
  sympos: number;
}

export interface KlpSymbol {
  /** The placeholder symbol name in the output (`.klp.sym.<object>.<name>,<sympos>`). */
  placeholder: string;
  /** `vmlinux` or a module name (with `_`, as the kernel spells module names). */
  object: string;
  name: string;
  sympos: number;
}

/**
 * The object whose `.klp.rela` sections carry a relocation against `k` from
 * code patched into `target`: the symbol's own object (vmlinux, or the target
 * itself), except for another module's symbol (an export of a module the
 * target module depends on), which is applied with the target: the kernel applies a
 * module's `.klp.rela` sections only for a klp_object of it, and the target
 * loads after the modules it depends on.
 */
export function klpRelaObject(k: KlpSymbol, target: string): string {
  return k.object === 'vmlinux' || k.object === target || target === 'vmlinux' ? k.object : target;
}

export interface Callbacks {
  /** Function names in the output (kpatch-macros.h style callbacks). */
  prePatch?: string;
  postPatch?: string;
  preUnpatch?: string;
  postUnpatch?: string;
}

export interface DiffMeta {
  version: typeof META_VERSION;
  /** The object patched: `vmlinux` or a module name with `_`. */
  target: string;
  /** The source object file name (for reports). */
  source: string;
  /** Changed functions that replace functions of the target (klp_func entries). */
  functions: PatchedFunction[];
  /** Functions new in the patch (no klp_func entry; reached from patched functions). */
  newFunctions: string[];
  /** New data symbols. */
  newData: string[];
  /** Every placeholder used by the output's relocations. */
  klpSymbols: KlpSymbol[];
  callbacks: Callbacks;
  /** The old `.cold` parts of the functions this object's patch replaces (kelpctl looks for tasks asleep in them). */
  coldParts?: string[];
}
