/**
 * The special sections of x86-64 kernel objects, one row per section: the
 * tables with one fixed-size entry per site (bug table, exception table,
 * alternatives, jump labels, static calls, objtool's site lists, ftrace's
 * call sites, ORC). This is the one place their layouts live; `kelp diff`
 * (which entries to keep), `kelp build` (the probe that asks the target for
 * entry sizes) and `kelp check` (the tables the loader reads) all read it.
 *
 * Each row says which kernels it holds for. Facts, from the kernel sources:
 *  - `.parainstructions` (struct paravirt_patch_site) is gone in Linux 6.8
 *    (paravirt patching moved into alternatives);
 *  - objtool writes `.retpoline_sites` (5.13+), `.ibt_endbr_seal` (5.18+),
 *    `.return_sites` (5.19+), `.call_sites` (6.2+, call depth tracking) and
 *    `.static_call_sites` (5.10+): s32 offsets to the site (static calls:
 *    two, site and key). For vmlinux objects of an IBT kernel objtool runs
 *    only on vmlinux.o, so such objects carry none of them; module objects
 *    carry them (objtool runs on the module's object with --module);
 *  - `__jump_table` is struct jump_entry { s32 code; s32 target; long key; },
 *    16 bytes since x86 made jump labels relative (5.0); 24 before;
 *  - `__patchable_function_entries` (a u64 per function) appears with
 *    -fpatchable-function-entry=16,16 (CONFIG_CALL_PADDING, 6.2+), beside
 *    or instead of `__mcount_loc`.
 * The default sizes are those of Linux 6.1 and 6.12 (where the two differ,
 * the probe decides; kelp diff also splits a table by its relocations when
 * the default does not fit).
 */
import { R_X86_64_PC32, R_X86_64_PC64, R_X86_64_PLT32 } from '../elf/constants.js';

/** A kernel version as [major, minor]. */
export type KernelVersion = readonly [number, number];

/** One field of an entry the loader reads, and the relocation types that write it right (the first is the one named). */
export interface EntryField {
  offset: number;
  name: string;
  types: readonly number[];
}

export interface SpecialSection {
  name: string;
  /** Entry size in bytes (default; the target's probe overrides it). */
  size: number;
  /** The offset within an entry of the relocation to the site (code) it describes; -1: a table parallel to another (`.orc_unwind`). */
  anchor: number;
  /** The offset within an entry of its key (jump labels, static calls); negative: from the entry's end. */
  key?: number;
  /**
   * The entry's anchor points at a record, not at code, and the record names
   * its function: the offset within the record of a pointer to the
   * function's name (`.printk_index` -> `struct pi_entry`, whose second
   * field is `__func__`).
   */
  recordFuncName?: number;
  /** The environment variable the peer suite (kpatch) uses for the size. */
  env?: string;
  /** The entry structure, when the target's probe asks the kernel for its sizeof: type and the config that guards it (null: always there). */
  probe?: { struct: string; config: string | null };
  /** The fields the kernel reads at module load (tables `kelp check` verifies). */
  fields?: readonly EntryField[];
  /** The kernel function that reads the table at module load. */
  loadReader?: string;
  /** Who writes the table: the compiler, a kernel macro, or objtool. */
  origin: 'compiler' | 'macro' | 'objtool';
  /** The kernels the row holds for: since (inclusive) and until (exclusive). */
  since?: KernelVersion;
  until?: KernelVersion;
}

const PC32 = [R_X86_64_PC32, R_X86_64_PLT32] as const;

/** objtool's 4-byte annotation tables (`.discard.annotate_insn`, 6.13's single table, is a row of its own). */
const OBJTOOL_ANNOTATIONS: readonly string[] = [
  '.discard.reachable', '.discard.unreachable', '.discard.retpoline_safe', '.discard.instr_begin', '.discard.instr_end',
  '.discard.intra_function_calls', '.discard.noendbr', '.discard.ignore_alts',
];

const ANNOTATION_NAMES = new Set(OBJTOOL_ANNOTATIONS);

/** Whether a `.discard` section is one of objtool's annotation tables, which a module's link keeps for objtool. */
export function isObjtoolAnnotation(name: string): boolean {
  return name.startsWith('.discard.') && (ANNOTATION_NAMES.has(name) || name === '.discard.annotate_insn');
}

export const SPECIAL_SECTIONS: readonly SpecialSection[] = [
  {
    name: '.parainstructions', size: 16, anchor: 0, env: 'PARA_STRUCT_SIZE', origin: 'macro', until: [6, 8],
    probe: { struct: 'struct paravirt_patch_site', config: 'CONFIG_PARAVIRT' },
  },
  { name: '__ex_table', size: 12, anchor: 0, env: 'EX_STRUCT_SIZE', origin: 'macro', probe: { struct: 'struct exception_table_entry', config: null } },
  { name: '__bug_table', size: 12, anchor: 0, env: 'BUG_STRUCT_SIZE', origin: 'macro', probe: { struct: 'struct bug_entry', config: 'CONFIG_GENERIC_BUG' } },
  { name: '.altinstructions', size: 13, anchor: 0, env: 'ALT_STRUCT_SIZE', origin: 'macro', probe: { struct: 'struct alt_instr', config: null } },
  {
    name: '__jump_table', size: 16, anchor: 0, key: -8, env: 'JUMP_STRUCT_SIZE', origin: 'macro', since: [5, 0],
    probe: { struct: 'struct jump_entry', config: 'CONFIG_JUMP_LABEL' },
    loadReader: 'jump_label_add_module',
    fields: [
      { offset: 0, name: 'code', types: PC32 },
      { offset: 4, name: 'target', types: PC32 },
      { offset: 8, name: 'key', types: [R_X86_64_PC64] },
    ],
  },
  {
    name: '.static_call_sites', size: 8, anchor: 0, key: 4, env: 'STATIC_CALL_STRUCT_SIZE', origin: 'objtool', since: [5, 10],
    probe: { struct: 'struct static_call_site', config: 'CONFIG_HAVE_STATIC_CALL_INLINE' },
    loadReader: 'static_call_add_module',
    fields: [
      { offset: 0, name: 'addr', types: PC32 },
      { offset: 4, name: 'key', types: PC32 },
    ],
  },
  { name: '.smp_locks', size: 4, anchor: 0, origin: 'macro' },
  { name: '.retpoline_sites', size: 4, anchor: 0, origin: 'objtool', since: [5, 13] },
  { name: '.return_sites', size: 4, anchor: 0, origin: 'objtool', since: [5, 19] },
  { name: '.call_sites', size: 4, anchor: 0, origin: 'objtool', since: [6, 2] },
  { name: '.ibt_endbr_seal', size: 4, anchor: 0, origin: 'objtool', since: [5, 18] },
  { name: '.orc_unwind_ip', size: 4, anchor: 0, origin: 'objtool' },
  { name: '.orc_unwind', size: 6, anchor: -1, env: 'ORC_STRUCT_SIZE', origin: 'objtool', probe: { struct: 'struct orc_entry', config: 'CONFIG_UNWINDER_ORC' } },
  { name: '__mcount_loc', size: 8, anchor: 0, origin: 'compiler' },
  { name: '__patchable_function_entries', size: 8, anchor: 0, origin: 'compiler' },
  { name: '.printk_index', size: 8, anchor: 0, recordFuncName: 8, env: 'PRINTK_INDEX_STRUCT_SIZE', origin: 'macro', since: [5, 15] },
  // objtool's annotations (ANNOTATE_* and friends, one `.long insn - .` each): the linker drops them, but on
  // kernels that run objtool on a module's link (IBT, LTO) objtool reads them there. Without
  // .discard.reachable, the code after WARN's ud2 is "unreachable" and gets no unwind data.
  ...OBJTOOL_ANNOTATIONS.map((name): SpecialSection => ({ name, size: 4, anchor: 0, origin: 'macro' })),
  { name: '.discard.annotate_insn', size: 8, anchor: 0, origin: 'macro', since: [6, 13] },
];

const BY_NAME = new Map(SPECIAL_SECTIONS.map((s) => [s.name, s]));

/** The row of a section name, or undefined. */
export function specialSection(name: string): SpecialSection | undefined {
  return BY_NAME.get(name);
}

export function isSpecialSectionName(name: string): boolean {
  return BY_NAME.has(name);
}

/** True when the row holds for kernel `v`. */
export function holdsFor(row: SpecialSection, v: KernelVersion): boolean {
  const cmp = (a: KernelVersion, b: KernelVersion): number => a[0] - b[0] || a[1] - b[1];
  return (row.since === undefined || cmp(v, row.since) >= 0) && (row.until === undefined || cmp(v, row.until) < 0);
}

/** The rows for kernel `v` (all rows when the version is unknown). */
export function specialSectionsFor(v: KernelVersion | null): SpecialSection[] {
  return SPECIAL_SECTIONS.filter((r) => v === null || holdsFor(r, v));
}

/** The rows whose size the target's probe asks for, in the probe's order. */
export const PROBED_SECTIONS: readonly SpecialSection[] = SPECIAL_SECTIONS.filter((r) => r.probe !== undefined);

/** The environment variables of the peer suite, by name, to their section. */
export const SIZE_ENV: ReadonlyMap<string, string> = new Map(
  SPECIAL_SECTIONS.filter((r) => r.env !== undefined).map((r) => [r.env!, r.name]),
);

/** The key's offset within an entry of `size` bytes. */
export function keyOffset(row: SpecialSection, size: number): number | undefined {
  if (row.key === undefined) return undefined;
  return row.key < 0 ? size + row.key : row.key;
}

/** A `major.minor` prefix of a kernel release (`6.12.95+deb12-amd64` → [6, 12]), or null. */
export function kernelVersionOf(release: string): KernelVersion | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}
