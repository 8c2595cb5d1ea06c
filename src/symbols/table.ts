/**
 * A target's symbol table, as kelp needs it to place livepatch references:
 * the symbols in table order (kallsyms counts same-named symbols in this
 * order for `sympos`), with the source file each local symbol came from when
 * the format records it (ELF and `readelf -s` text carry FILE symbols;
 * System.map and /proc/kallsyms do not).
 */
export type SymbolKind = 'func' | 'object' | 'notype' | 'section' | 'file' | 'other';

export type SymbolTableFormat = 'elf' | 'readelf' | 'system.map' | 'kallsyms';

export interface TargetSymbol {
  name: string;
  kind: SymbolKind;
  /** Local (static) binding; System.map/kallsyms: a lower-case type letter. */
  local: boolean;
  /** False for undefined (UND) entries. */
  defined: boolean;
  /** The FILE symbol this local symbol follows, when the format has them. */
  file: string | null;
  /** kallsyms: the module in brackets; otherwise null. */
  module: string | null;
  /** The address (System.map/kallsyms), st_value (ELF) or Value (readelf); absent when not recorded. */
  address?: bigint;
}

export interface SymbolTable {
  /** The file it was read from. */
  source: string;
  format: SymbolTableFormat;
  symbols: TargetSymbol[];
  /** True when FILE symbols tie local symbols to their source file. */
  hasFiles: boolean;
}

/** Positions (indices into `symbols`) of the defined symbols of each name, in table order. */
export class SymbolIndex {
  private readonly byName = new Map<string, number[]>();
  private readonly anyName = new Set<string>();

  constructor(readonly table: SymbolTable) {
    const syms = table.symbols;
    for (let i = 0; i < syms.length; i++) {
      const s = syms[i];
      if (s.kind === 'file' || s.kind === 'section' || s.name === '') continue;
      this.anyName.add(s.name);
      if (!s.defined) continue;
      let list = this.byName.get(s.name);
      if (!list) this.byName.set(s.name, (list = []));
      list.push(i);
    }
  }

  /** The table positions of the defined symbols named `name` (empty when none). */
  defined(name: string): readonly number[] {
    return this.byName.get(name) ?? [];
  }

  /** True when the name appears at all, defined or undefined. */
  mentions(name: string): boolean {
    return this.anyName.has(name);
  }
}
