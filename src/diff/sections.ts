/**
 * What kind of section a name is, for the diff: special sections (tables
 * with one entry per site, kept per included function), auxiliary code that
 * special entries point into, sections dropped from the output, and
 * sections whose changes do not count as changes of running data.
 */
import { SPECIAL_SECTIONS, isObjtoolAnnotation, isSpecialSectionName, type SpecialSection } from '../../rela/special-sections.js';

/** A special section's row with the entry size this run uses (the probe's or --entry-size's, else the table's default). */
export type SpecialSpec = SpecialSection;

/** The rows of the one table (rela/special-sections.ts) with the given sizes. */
export function specialSpecs(overrides: ReadonlyMap<string, number>): Map<string, SpecialSpec> {
  const out = new Map<string, SpecialSpec>();
  for (const s of SPECIAL_SECTIONS) {
    const size = overrides.get(s.name);
    out.set(s.name, size === undefined ? s : { ...s, size });
  }
  return out;
}

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
  if (isSpecialSectionName(name)) c |= C_SPECIAL;
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
  return (name.startsWith('.discard') && !isObjtoolAnnotation(name)) || name === '.llvm_addrsig' || name.startsWith('.kpatch.')
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
