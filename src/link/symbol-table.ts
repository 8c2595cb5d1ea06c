/**
 * Checking the klp symbols against a symbol list of the target (`--symbols`):
 * System.map or /proc/kallsyms format, `address type name [module]`. A symbol
 * of `vmlinux` is a line without a module; a module's symbols carry `[module]`.
 * Sympos resolution itself is `kelp diff`'s; here kelp link only refuses a
 * position the kernel's klp_find_object_symbol would refuse.
 */
import { KelpError } from '../errors.js';
import type { SymbolCounts } from '../kernel/symbol-map.js';
import type { KlpSymbol } from '../patch/meta.js';

/**
 * Refuses klp symbols the kernel could not resolve: absent, ambiguous with
 * sympos 0, or a sympos past the number of same-named symbols. Objects the
 * list does not cover are not checked.
 */
export function checkKlpSymbols(file: string, table: SymbolCounts, symbols: Iterable<KlpSymbol>): void {
  for (const k of symbols) {
    if (!table.has(k.object)) continue;
    const n = table.count(k.object, k.name);
    if (n === 0) {
      throw new KelpError(`${k.placeholder}: ${k.object} has no symbol ${k.name}, and the patch does not define it: ${k.name} is defined nowhere (a fix that adds it in another file needs that file's change too)`, file);
    }
    if (k.sympos === 0 && n > 1) throw new KelpError(`${k.placeholder}: ${k.object} has ${n} symbols named ${k.name}; sympos 0 is ambiguous`, file);
    if (k.sympos > n) throw new KelpError(`${k.placeholder}: ${k.object} has only ${n} symbol(s) named ${k.name}`, file);
  }
}
