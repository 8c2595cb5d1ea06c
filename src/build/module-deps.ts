/**
 * The modules a target module needs loaded first: its `.modinfo` `depends=`
 * (what modprobe reads from modules.dep, which a kernel package leaves to
 * depmod) and `softdep=pre:`, followed recursively through the target's
 * module tree.
 */
import { ElfObject } from '../../elf/model.js';
import { modinfoValue, readModinfo } from '../kmod/modinfo.js';
import { readMaybeCompressed } from '../util/decompress.js';

export interface LoadOrder {
  /** Dependencies before dependents, each file once; the given files keep their order otherwise. */
  order: string[];
  /** Dependencies named by a module but not found in the module tree. */
  missing: string[];
}

interface Needs {
  /** `depends=`: modules whose symbols it uses. */
  hard: string[];
  /** `softdep=pre: ...`: modules or aliases modprobe loads first (libcrc32c needs a crc32c provider). */
  pre: string[];
}

function needsOf(file: string): Needs {
  const info = readModinfo(ElfObject.read(readMaybeCompressed(file), file));
  const hard = (modinfoValue(info, 'depends') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const pre: string[] = [];
  for (const e of info) {
    if (e.key !== 'softdep') continue;
    let inPre = false;
    for (const w of e.value.split(/\s+/)) {
      if (w === 'pre:') inPre = true;
      else if (w === 'post:') inPre = false;
      else if (w !== '' && inPre) pre.push(w);
    }
  }
  return { hard, pre };
}

/**
 * `files` with their dependencies (found by `find`, a module name → .ko
 * lookup) loaded before them. A soft dependency names a module or an alias:
 * `find` is tried with the name and its `_generic` provider (crc32c →
 * crc32c_generic, which any CPU runs), then `findAlias`; one not found is left out (it is soft).
 */
export function withDependencies(files: readonly string[], find: (name: string) => string | undefined, findAlias: (alias: string) => string | undefined = () => undefined): LoadOrder {
  const order: string[] = [];
  const missing: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: string): void => {
    if (state.has(file)) return; // done, or a dependency cycle (the loader would refuse it anyway)
    state.set(file, 'visiting');
    const needs = needsOf(file);
    for (const dep of needs.pre) {
      const f = find(dep) ?? find(`${dep}_generic`) ?? findAlias(dep);
      if (f !== undefined) visit(f);
    }
    for (const dep of needs.hard) {
      const f = find(dep);
      if (f === undefined) {
        if (!missing.includes(dep)) missing.push(dep);
      } else {
        visit(f);
      }
    }
    state.set(file, 'done');
    order.push(file);
  };
  for (const f of files) visit(f);
  return { order, missing };
}
