/**
 * Just enough ELF to read a kernel module's .modinfo (name, livepatch flag,
 * vermagic) on the host, so results can name the module before it is loaded.
 */
import { basename } from 'node:path';
import { moduleStem, readMaybeCompressed } from '../util/decompress.js';

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
  const b = basename(file);
  return (moduleStem(b) ?? b).replace(/-/g, '_');
}

/** Parses the .modinfo section of an ELF64 little-endian module image. */
export function parseModinfo(buf: Buffer): Map<string, string> | undefined {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46 || buf[4] !== 2 || buf[5] !== 1) return undefined;
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  if (shentsize < 64 || shstrndx >= shnum || shoff + shnum * shentsize > buf.length) return undefined;
  const sh = (i: number) => {
    const o = shoff + i * shentsize;
    return { name: buf.readUInt32LE(o), offset: Number(buf.readBigUInt64LE(o + 24)), size: Number(buf.readBigUInt64LE(o + 32)) };
  };
  const strtab = sh(shstrndx);
  if (strtab.offset + strtab.size > buf.length) return undefined;
  for (let i = 0; i < shnum; i++) {
    const s = sh(i);
    const nameStart = strtab.offset + s.name;
    const nameEnd = buf.indexOf(0, nameStart);
    if (nameEnd < 0 || buf.toString('latin1', nameStart, nameEnd) !== '.modinfo') continue;
    if (s.offset + s.size > buf.length) return undefined;
    const info = new Map<string, string>();
    for (const entry of buf.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0 && !info.has(entry.slice(0, eq))) info.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    return info;
  }
  return undefined;
}

/** Reads a module file's identity; a non-module gets its file-derived name. */
export async function identifyModule(file: string): Promise<ModuleIdentity> {
  const info = parseModinfo(readMaybeCompressed(file));
  const fromFile = nameFromFile(file);
  if (info === undefined) return { name: fromFile, livepatch: false, vermagic: undefined, isModule: false };
  return {
    name: (info.get('name') ?? fromFile).replace(/-/g, '_'),
    livepatch: info.get('livepatch') === 'Y',
    vermagic: info.get('vermagic'),
    isModule: true,
  };
}
