/**
 * What kind of section a name is, for the diff: special sections (tables
 * with one entry per site, kept per included function), auxiliary code that
 * special entries point into, sections dropped from the output, and
 * sections whose changes do not count as changes of running data.
 */

export interface SpecialSpec {
  name: string;
  /** Entry size in bytes (fixed for the kernel being built). */
  size: number;
  /** The env variable the peer suite (kpatch) uses for the size, if any. */
  env?: string;
  /** The offset within an entry of the relocation to the site (code) it describes. */
  anchor: number;
  /** The offset within an entry of a static key (jump labels, static calls). */
  key?: number;
  /**
   * The entry's anchor points at a record, not at code, and the record names
   * its function: the offset within the record of a pointer to the
   * function's name (`.printk_index` -> `struct pi_entry`, whose second
   * field is `__func__`). Such entries are kept for included functions,
   * with a copy of their record.
   */
  recordFuncName?: number;
}

/** Defaults for x86-64 kernels of the 5.x/6.x era (the peer suite's objects). */
export function specialSpecs(overrides: ReadonlyMap<string, number>): Map<string, SpecialSpec> {
  const out = new Map<string, SpecialSpec>();
  for (const s of SPECS) {
    const size = overrides.get(s.name);
    out.set(s.name, size === undefined ? s : { ...s, size });
  }
  return out;
}

const SPECS: readonly SpecialSpec[] = [
    { name: '.parainstructions', size: 16, env: 'PARA_STRUCT_SIZE', anchor: 0 },
    { name: '__ex_table', size: 12, env: 'EX_STRUCT_SIZE', anchor: 0 },
    { name: '__bug_table', size: 12, env: 'BUG_STRUCT_SIZE', anchor: 0 },
    { name: '.altinstructions', size: 13, env: 'ALT_STRUCT_SIZE', anchor: 0 },
    { name: '__jump_table', size: 24, env: 'JUMP_STRUCT_SIZE', anchor: 0, key: -8 },
    { name: '.static_call_sites', size: 8, env: 'STATIC_CALL_STRUCT_SIZE', anchor: 0, key: 4 },
    { name: '.smp_locks', size: 4, anchor: 0 },
    { name: '.retpoline_sites', size: 4, anchor: 0 },
    { name: '.return_sites', size: 4, anchor: 0 },
    { name: '.call_sites', size: 4, anchor: 0 },
    { name: '.ibt_endbr_seal', size: 4, anchor: 0 },
    { name: '.orc_unwind_ip', size: 4, anchor: 0 },
    { name: '.orc_unwind', size: 6, env: 'ORC_STRUCT_SIZE', anchor: -1 },
    { name: '__mcount_loc', size: 8, anchor: 0 },
    { name: '__patchable_function_entries', size: 8, anchor: 0 },
    { name: '.printk_index', size: 8, env: 'PRINTK_INDEX_STRUCT_SIZE', anchor: 0, recordFuncName: 8 },
];
const SPEC_NAMES = new Set(SPECS.map((s) => s.name));

/** Section class bits (computed once per section from its name). */
export const C_DROPPED = 1;
export const C_INIT = 2;
export const C_METADATA = 4;
export const C_AUX = 8;
export const C_KPATCH = 16;
export const C_SPECIAL = 32;
export const C_MODINFO = 64;
export const C_GNU_STACK = 128;
export const C_ORC_IP = 256;
export const C_ORC = 512;
/** `__mcount_loc` and `__patchable_function_entries`: ftrace call sites. */
export const C_FTRACE_SITES = 1024;
/** Sections nothing in the diff reads (debug info, unwind tables, notes): their relocations are not loaded. */
export const C_UNREAD = 2048;

export function sectionClass(name: string): number {
  let c = 0;
  if (isDropped(name)) c |= C_DROPPED;
  if (isInit(name)) c |= C_INIT;
  if (isMetadata(name)) c |= C_METADATA;
  if (isAuxCode(name)) c |= C_AUX;
  if (name.startsWith('.kpatch.')) c |= C_KPATCH;
  if (SPEC_NAMES.has(name)) c |= C_SPECIAL;
  if (name === '.modinfo') c |= C_MODINFO;
  if (name === '.note.GNU-stack') c |= C_GNU_STACK;
  if (name === '.orc_unwind_ip') c |= C_ORC_IP;
  if (name === '.orc_unwind') c |= C_ORC;
  if (name === '__mcount_loc' || name === '__patchable_function_entries') c |= C_FTRACE_SITES;
  if (name.startsWith('.debug') || name === '.eh_frame' || name.startsWith('.BTF') || name === '.comment' || name.startsWith('.note')
    || name.startsWith('.llvm') || name.startsWith('.gnu.')) c |= C_UNREAD;
  return c;
}

/** Code that special-section entries point into; copied whole when needed. */
export function isAuxCode(name: string): boolean {
  return name === '.altinstr_replacement' || name === '.altinstr_aux' || name === '.fixup' || name.startsWith('.fixup.');
}

/** Sections that never reach the output (nor count as changes). */
export function isDropped(name: string): boolean {
  return name.startsWith('.discard') || name === '.llvm_addrsig' || name.startsWith('.kpatch.')
    || name.startsWith('.debug') || name === '.comment' || name.startsWith('.note') || name === '.eh_frame'
    || name.startsWith('__ksymtab') || name.startsWith('___ksymtab') || name.startsWith('__kcrctab') || name.startsWith('___kcrctab')
    || name === '.modinfo' || name.startsWith('.BTF') || name.startsWith('.llvm') || name === '.gnu.attributes'
    || name.startsWith('.gnu.') || name === '.kelp.meta';
}

/** `__init`/`__exit` code and data, and the tables that only init code uses. */
export function isInit(name: string): boolean {
  return name.startsWith('.init.') || name.startsWith('.exit.') || name.startsWith('.initcall') || name.startsWith('.con_initcall')
    || name === '.init.setup' || name === '__param' || name.startsWith('.text.startup') || name.startsWith('.text.exit')
    || name === '.init_array' || name === '.fini_array' || name.startsWith('.ref.');
}

/**
 * Sections whose differences are metadata rather than running state: a
 * changed entry there (a line number in a dynamic-debug descriptor, a
 * tracepoint's strings) is not a change to existing data.
 */
export function isMetadata(name: string): boolean {
  return name === '__dyndbg' || name === '__verbose' || name === '__dyndbg_classes' || name.startsWith('__tracepoints')
    || name === '__bpf_raw_tp_map' || name === '__syscalls_metadata' || name.startsWith('_ftrace_events')
    || name === '__trace_printk_fmt' || name === '__tracepoint_str' || name === '.data.once' || name === '.data.unlikely'
    || name === '.printk_index' || name.startsWith('.data.printk_index') || name === '__ex_table' || name === '__bug_table';
}
