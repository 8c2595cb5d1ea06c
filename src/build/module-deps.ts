/**
 * The modules a target module needs loaded first: its `.modinfo` `depends=`
 * (what modprobe reads from modules.dep, which a kernel package leaves to
 * depmod), followed recursively through the target's module tree.
 */
import { readFileSync } from 'node:fs';
import { ElfObject } from '../../elf/model.js';
import { modinfoValue, readModinfo } from '../link/modinfo.js';

export interface LoadOrder {
  /** Dependencies before dependents, each file once; the given files keep their order otherwise. */
  order: string[];
  /** Dependencies named by a module but not found in the module tree. */
  missing: string[];
}

function dependsOf(file: string): string[] {
  const info = readModinfo(ElfObject.read(readFileSync(file), file));
  const v = modinfoValue(info, 'depends') ?? '';
  return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** `files` with their dependencies (found by `find`, a module name → .ko lookup) loaded before them. */
export function withDependencies(files: readonly string[], find: (name: string) => string | undefined): LoadOrder {
  const order: string[] = [];
  const missing: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (file: string): void => {
    if (state.has(file)) return; // done, or a dependency cycle (the loader would refuse it anyway)
    state.set(file, 'visiting');
    for (const dep of dependsOf(file)) {
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
