/**
 * A kernel module's .modinfo (name, livepatch flag, vermagic) read on the
 * host, so results can name the module before it is loaded.
 */
import { readMaybeCompressed } from '../util/decompress.js';
import { ElfFormatError } from '../../elf/errors.js';
import { ElfFile } from '../../elf/reader.js';
import { MODINFO_SECTION, parseModinfo } from '../kmod/modinfo.js';
import { kernelModuleName, moduleNameOfFile } from '../kmod/names.js';

export interface ModuleIdentity {
  /** The module name the kernel will use (sysfs, livepatch directory). */
  name: string;
  /** True when .modinfo says livepatch=Y. */
  livepatch: boolean;
  vermagic: string | undefined;
  /** False when the file is not an ELF64 little-endian object with a .modinfo. */
  isModule: boolean;
}

/** The .modinfo entries of an ELF64 little-endian module image, in order (undefined: not an ELF file with a readable .modinfo). */
export function modinfoEntriesOfImage(buf: Buffer): Array<{ key: string; value: string }> | undefined {
  try {
    const elf = ElfFile.parse(buf, 'module');
    const s = elf.findSectionByName(MODINFO_SECTION);
    return s === undefined ? undefined : parseModinfo(elf.sectionData(s));
  } catch (e) {
    if (e instanceof ElfFormatError) return undefined;
    throw e;
  }
}

/** Parses the .modinfo section of a module image, the first value of each key (undefined: not an ELF file with a readable .modinfo). */
export function modinfoOfImage(buf: Buffer): Map<string, string> | undefined {
  const entries = modinfoEntriesOfImage(buf);
  if (entries === undefined) return undefined;
  const info = new Map<string, string>();
  for (const e of entries) if (e.key !== '' && !info.has(e.key)) info.set(e.key, e.value);
  return info;
}

/** The symbol namespaces a module imports: its .modinfo `import_ns=` entries, every one (a module imports many). */
export function importedNamespaces(entries: ReadonlyArray<{ key: string; value: string }>): Set<string> {
  return new Set(entries.filter((e) => e.key === 'import_ns').map((e) => e.value));
}

/** The modules a module depends on (its .modinfo `depends=`, kernel spelling with `_`): loaded before it, always. */
export function moduleDepends(entries: ReadonlyArray<{ key: string; value: string }>): Set<string> {
  const out = new Set<string>();
  for (const e of entries) {
    if (e.key !== 'depends') continue;
    for (const m of e.value.split(',')) if (m.trim() !== '') out.add(kernelModuleName(m.trim()));
  }
  return out;
}

/** Reads a module file's identity; a non-module gets its file-derived name. */
export async function identifyModule(file: string): Promise<ModuleIdentity> {
  const info = modinfoOfImage(readMaybeCompressed(file));
  const fromFile = moduleNameOfFile(file);
  if (info === undefined) return { name: fromFile, livepatch: false, vermagic: undefined, isModule: false };
  return {
    name: kernelModuleName(info.get('name') ?? fromFile),
    livepatch: info.get('livepatch') === 'Y',
    vermagic: info.get('vermagic'),
    isModule: true,
  };
}
