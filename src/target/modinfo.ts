/**
 * A kernel module's .modinfo (name, livepatch flag, vermagic) read on the
 * host, so results can name the module before it is loaded.
 */
import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import { ElfFormatError } from '../../elf/errors.js';
import { ElfFile } from '../../elf/reader.js';

export interface ModuleIdentity {
  /** The module name the kernel will use (sysfs, livepatch directory). */
  name: string;
  /** True when .modinfo says livepatch=Y. */
  livepatch: boolean;
  vermagic: string | undefined;
  /** False when the file is not an ELF64 little-endian object with a .modinfo. */
  isModule: boolean;
}

/** The kernel's name for a module file without a recorded name: basename, '-' -> '_'. */
export function nameFromFile(file: string): string {
  return basename(file).replace(/\.ko$/, '').replace(/-/g, '_');
}

/** Parses the .modinfo section of an ELF64 little-endian module image (undefined: not an ELF file with a readable .modinfo). */
export function parseModinfo(buf: Buffer): Map<string, string> | undefined {
  let data: Buffer;
  try {
    const elf = ElfFile.parse(buf, 'module');
    const s = elf.findSectionByName('.modinfo');
    if (s === undefined) return undefined;
    data = elf.sectionData(s);
  } catch (e) {
    if (e instanceof ElfFormatError) return undefined;
    throw e;
  }
  const info = new Map<string, string>();
  for (const entry of data.toString('utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && !info.has(entry.slice(0, eq))) info.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return info;
}

/** Reads a module file's identity; a non-module gets its file-derived name. */
export async function identifyModule(file: string): Promise<ModuleIdentity> {
  const info = parseModinfo(await fs.readFile(file));
  const fromFile = nameFromFile(file);
  if (info === undefined) return { name: fromFile, livepatch: false, vermagic: undefined, isModule: false };
  return {
    name: (info.get('name') ?? fromFile).replace(/-/g, '_'),
    livepatch: info.get('livepatch') === 'Y',
    vermagic: info.get('vermagic'),
    isModule: true,
  };
}
