/**
 * Reads a target symbol table in any of the formats kelp accepts, detected
 * from the contents: an ELF file (vmlinux, a .ko or a .o), `readelf -s --wide`
 * text, a System.map, or a /proc/kallsyms dump.
 */
import { readMaybeCompressed } from '../util/decompress.js';
import { KelpError } from '../errors.js';
import { ElfFile } from '../../elf/reader.js';
import {
  SHN_UNDEF, SHT_SYMTAB, STB_LOCAL, STT_FILE, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION,
} from '../../elf/constants.js';
import type { SymbolKind, SymbolTable, TargetSymbol } from './table.js';

/** Reads and parses `file`; errors name the file and the line. */
export function readSymbolTable(file: string): SymbolTable {
  return parseSymbolTable(readMaybeCompressed(file), file);
}

export function parseSymbolTable(buf: Buffer, file: string): SymbolTable {
  if (buf.length >= 4 && buf[0] === 0x7f && buf[1] === 0x45 && buf[2] === 0x4c && buf[3] === 0x46) return parseElfSymbols(buf, file);
  const text = buf.toString('utf8');
  if (/^Symbol table '/m.test(text) || /^\s*Num:\s+Value\s+Size\s+Type/m.test(text)) return parseReadelf(text, file);
  return parseMap(text, file);
}

function kindOf(type: number): SymbolKind {
  switch (type) {
    case STT_FUNC: return 'func';
    case STT_OBJECT: return 'object';
    case STT_NOTYPE: return 'notype';
    case STT_SECTION: return 'section';
    case STT_FILE: return 'file';
    default: return 'other';
  }
}

function parseElfSymbols(buf: Buffer, file: string): SymbolTable {
  const elf = ElfFile.parse(buf, file);
  const sh = elf.findSectionByType(SHT_SYMTAB);
  if (!sh) throw new KelpError('has no symbol table (.symtab); cannot be used as --symbols', file);
  const t = elf.symbolTable(sh.index);
  const symbols: TargetSymbol[] = [];
  let current: string | null = null;
  let hasFiles = false;
  for (let i = 1; i < t.count; i++) {
    const type = t.type(i);
    const name = t.name(i);
    const local = t.bind(i) === STB_LOCAL;
    if (type === STT_FILE) {
      current = name;
      hasFiles = true;
    }
    symbols.push({
      name, kind: kindOf(type), local, defined: t.shndx(i) !== SHN_UNDEF,
      file: local && type !== STT_FILE ? current : null, module: null, address: t.value(i),
    });
  }
  return { source: file, format: 'elf', symbols, hasFiles };
}

const READELF_LINE = /^\s*\d+:\s+([0-9a-fA-F]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$/;

function parseReadelf(text: string, file: string): SymbolTable {
  const symbols: TargetSymbol[] = [];
  let current: string | null = null;
  let hasFiles = false;
  let tables = 0;
  let skip = false;
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln];
    if (line.startsWith("Symbol table '")) {
      tables++;
      // Only the static table: a second table (.dynsym) would double-count names.
      skip = line.includes("'.dynsym'") || (tables > 1 && symbols.length > 0);
      continue;
    }
    if (skip) continue;
    const m = READELF_LINE.exec(line);
    if (!m) continue;
    const [, value, , typeText, bindText, , ndx, rawName] = m;
    let name = (rawName ?? '').trim();
    if (name.endsWith('[...]')) throw new KelpError(`line ${ln + 1}: symbol name truncated by readelf; use readelf -s --wide`, file);
    // readelf --wide prints versioned names as name@VERSION; the kernel has none.
    const at = name.indexOf('@');
    if (at > 0) name = name.slice(0, at);
    if (ndx === '0' && name === '' && symbols.length === 0 && typeText === 'NOTYPE') continue; // the null symbol
    const kind: SymbolKind = typeText === 'FUNC' ? 'func' : typeText === 'OBJECT' ? 'object' : typeText === 'NOTYPE' ? 'notype'
      : typeText === 'SECTION' ? 'section' : typeText === 'FILE' ? 'file' : 'other';
    const local = bindText === 'LOCAL';
    if (kind === 'file') {
      current = name;
      hasFiles = true;
    }
    symbols.push({ name, kind, local, defined: ndx !== 'UND', file: local && kind !== 'file' ? current : null, module: null, address: BigInt(`0x${value}`) });
  }
  if (symbols.length === 0) throw new KelpError('no symbols found in this readelf -s output', file);
  return { source: file, format: 'readelf', symbols, hasFiles };
}

const MAP_LINE = /^([0-9a-fA-F]+)\s+([a-zA-Z?])\s+(\S+)(?:\s+\[(\S+)\])?\s*$/;

function parseMap(text: string, file: string): SymbolTable {
  const symbols: TargetSymbol[] = [];
  let modules = false;
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln];
    if (line.trim() === '') continue;
    const m = MAP_LINE.exec(line);
    if (!m) throw new KelpError(`line ${ln + 1}: not a symbol table line (expected ELF, readelf -s --wide, System.map or kallsyms)`, file);
    const [, address, letter, name, module] = m;
    if (module) modules = true;
    const lower = letter.toLowerCase();
    const kind: SymbolKind = lower === 't' || lower === 'w' ? 'func' : lower === 'u' ? 'notype' : 'object';
    symbols.push({ name, kind, local: letter >= 'a' && letter <= 'z' && letter !== 'u' && letter !== 'w' && letter !== 'v', defined: letter !== 'U', file: null, module: module ?? null, address: BigInt(`0x${address}`) });
  }
  if (symbols.length === 0) throw new KelpError('empty symbol table', file);
  return { source: file, format: modules ? 'kallsyms' : 'system.map', symbols, hasFiles: false };
}
