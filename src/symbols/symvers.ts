/**
 * Module.symvers: `CRC<TAB>symbol<TAB>module<TAB>export type[<TAB>namespace]`.
 * The module column is `vmlinux` or the module's path without `.ko`.
 */
import { readFileSync } from 'node:fs';
import { kernelModuleName } from '../kmod/names.js';
import { KelpError } from '../errors.js';

export interface ExportedSymbol {
  name: string;
  /** `vmlinux` or the module name as the kernel spells it (`-` as `_`). */
  module: string;
  type: string;
  namespace: string;
  /** The CRC column (what modversions compares with a module's __versions entry). */
  crc?: bigint;
}

export class Symvers {
  private readonly byName = new Map<string, ExportedSymbol>();

  constructor(entries: ExportedSymbol[] = []) {
    for (const e of entries) if (!this.byName.has(e.name)) this.byName.set(e.name, e);
  }

  get(name: string): ExportedSymbol | undefined {
    return this.byName.get(name);
  }

  get size(): number {
    return this.byName.size;
  }

  /** Every symbol, in first-seen order. */
  entries(): ExportedSymbol[] {
    return [...this.byName.values()];
  }
}

export function readSymvers(file: string): Symvers {
  return parseSymvers(readFileSync(file, 'utf8'), file);
}

export function parseSymvers(text: string, file: string): Symvers {
  const entries: ExportedSymbol[] = [];
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln];
    if (line.trim() === '') continue;
    const f = line.split('\t');
    if (f.length < 4 || !/^0x[0-9a-fA-F]+$/.test(f[0]) || f[1] === '') {
      throw new KelpError(`line ${ln + 1}: not a Module.symvers line (CRC, symbol, module, export type)`, file);
    }
    const path = f[2];
    const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko$/, '');
    entries.push({ name: f[1], module: path === 'vmlinux' ? 'vmlinux' : kernelModuleName(base), type: f[3], namespace: f[4] ?? '', crc: BigInt(f[0]) });
  }
  return new Symvers(entries);
}
