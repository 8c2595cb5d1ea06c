/**
 * Checking the klp symbols against a symbol list of the target (`--symbols`):
 * System.map or /proc/kallsyms format, `address type name [module]`. A symbol
 * of `vmlinux` is a line without a module; a module's symbols carry `[module]`.
 * Sympos resolution itself is `kelp diff`'s; here kelp link only refuses a
 * position the kernel's klp_find_object_symbol would refuse.
 */
import { readFileSync } from 'node:fs';
import { KelpError } from '../errors.js';
import type { KlpSymbol } from '../patch/meta.js';

export class SymbolCounts {
  /** object → name → how many symbols of that name. */
  readonly counts = new Map<string, Map<string, number>>();

  static parse(text: string): SymbolCounts {
    const t = new SymbolCounts();
    for (const line of text.split('\n')) {
      const m = /^[0-9a-fA-F]+\s+\S\s+(\S+)(?:\s+\[(\S+)\])?\s*$/.exec(line);
      if (!m) continue;
      const obj = m[2] ?? 'vmlinux';
      let names = t.counts.get(obj);
      if (!names) t.counts.set(obj, (names = new Map()));
      names.set(m[1], (names.get(m[1]) ?? 0) + 1);
    }
    return t;
  }

  static read(file: string): SymbolCounts {
    const t = SymbolCounts.parse(readFileSync(file, 'latin1'));
    if (t.counts.size === 0) throw new KelpError('no symbols (expected System.map or /proc/kallsyms lines)', file);
    return t;
  }

  has(object: string): boolean {
    return this.counts.has(object);
  }

  count(object: string, name: string): number {
    return this.counts.get(object)?.get(name) ?? 0;
  }
}

/**
 * Refuses klp symbols the kernel could not resolve: absent, ambiguous with
 * sympos 0, or a sympos past the number of same-named symbols. Objects the
 * list does not cover are not checked.
 */
export function checkKlpSymbols(file: string, table: SymbolCounts, symbols: Iterable<KlpSymbol>): void {
  for (const k of symbols) {
    if (!table.has(k.object)) continue;
    const n = table.count(k.object, k.name);
    if (n === 0) throw new KelpError(`${k.placeholder}: ${k.object} has no symbol ${k.name}`, file);
    if (k.sympos === 0 && n > 1) throw new KelpError(`${k.placeholder}: ${k.object} has ${n} symbols named ${k.name}; sympos 0 is ambiguous`, file);
    if (k.sympos > n) throw new KelpError(`${k.placeholder}: ${k.object} has only ${n} symbol(s) named ${k.name}`, file);
  }
}
