/**
 * Kernel-module and livepatch names as the kernel spells and parses them:
 * module names (`-` becomes `_`), `.klp.sym.<object>.<name>,<pos>` symbols
 * and `.klp.rela.<object>.<section>` sections (Documentation/livepatch/
 * module-elf-format.rst; kernel/livepatch/core.c parses them).
 */
import { basename } from 'node:path';
import { moduleStem } from '../util/decompress.js';

/** The module name as the kernel spells it: `-` becomes `_`. */
export function kernelModuleName(name: string): string {
  return name.replace(/-/g, '_');
}

/** The kernel's name for a module file without a recorded name: basename without .ko, `-` as `_`. */
export function moduleNameOfFile(file: string): string {
  const b = basename(file);
  return kernelModuleName(moduleStem(b) ?? b);
}

/** MODULE_NAME_LEN: a module name is at most 55 characters and a NUL. */
export const MODULE_NAME_LEN = 56;
/** KSYM_NAME_LEN (512 since 6.1): a symbol name is at most 511 characters and a NUL. */
export const KSYM_NAME_LEN = 512;

export const KLP_SYM_PREFIX = '.klp.sym.';
export const KLP_RELA_PREFIX = '.klp.rela.';

const KLP_SYM_NAME = /^\.klp\.sym\.([^.]{1,55})\.([^,]{1,511}),(\d+)$/;
const KLP_RELA_NAME = /^\.klp\.rela\.([^.]{1,55})\.(.+)$/;

/** The livepatch symbol name for a symbol of `object` at position `sympos`. */
export function klpSymbolName(object: string, name: string, sympos: number): string {
  return `${KLP_SYM_PREFIX}${object}.${name},${sympos}`;
}

export interface KlpSymName {
  object: string;
  name: string;
  pos: number;
}

/** Parses a `.klp.sym` name as the livepatch core does, or returns undefined. */
export function parseKlpSymName(name: string): KlpSymName | undefined {
  const m = KLP_SYM_NAME.exec(name);
  if (!m) return undefined;
  const pos = Number(m[3]);
  if (!Number.isSafeInteger(pos)) return undefined;
  return { object: m[1], name: m[2], pos };
}

/** Splits a `.klp.rela.<object>.<section>` name as the livepatch core does, or returns undefined. */
export function parseKlpRelaName(name: string): { object: string; section: string } | undefined {
  const m = KLP_RELA_NAME.exec(name);
  return m ? { object: m[1], section: m[2] } : undefined;
}
