/**
 * System.map and /proc/kallsyms: `address type name [module]` lines. A
 * vmlinux symbol is a line without a module; a module's symbols carry
 * `[module]` (kallsyms only). One line parser for `kelp link`'s position
 * checks (SymbolCounts) and the symbol tables of check and diff (symbols/read.ts).
 */
import { readFileSync } from 'node:fs';
import { KelpError } from '../errors.js';

export interface MapLine {
  address: string;
  /** The nm-style type letter (T, t, D, U, ...). */
  letter: string;
  name: string;
  /** The module of a kallsyms line; undefined for vmlinux. */
  module: string | undefined;
}

const MAP_LINE = /^([0-9a-fA-F]+)\s+([a-zA-Z?])\s+(\S+)(?:\s+\[(\S+)\])?\s*$/;

/** One System.map or kallsyms line, or undefined when it is not one. */
export function parseMapLine(line: string): MapLine | undefined {
  const m = MAP_LINE.exec(line);
  return m ? { address: m[1], letter: m[2], name: m[3], module: m[4] } : undefined;
}

/** How many symbols of each name each object (vmlinux or a module) has: what sympos counts. */
export class SymbolCounts {
  /** object → name → how many symbols of that name. */
  readonly counts = new Map<string, Map<string, number>>();

  static parse(text: string): SymbolCounts {
    const t = new SymbolCounts();
    for (const line of text.split('\n')) {
      const e = parseMapLine(line);
      if (!e) continue;
      const obj = e.module ?? 'vmlinux';
      let names = t.counts.get(obj);
      if (!names) t.counts.set(obj, (names = new Map()));
      names.set(e.name, (names.get(e.name) ?? 0) + 1);
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
