/** The .modinfo section: NUL-separated `key=value` strings. */
import { KelpError } from '../errors.js';
import type { ElfObject } from '../../elf/model.js';

export type ModInfo = Array<{ key: string; value: string }>;

export function readModinfo(obj: ElfObject): ModInfo {
  const sec = obj.sections.find((s) => s.name === '.modinfo');
  if (!sec) return [];
  const out: ModInfo = [];
  for (const entry of sec.data.toString('latin1').split('\0')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    out.push(eq < 0 ? { key: entry, value: '' } : { key: entry.slice(0, eq), value: entry.slice(eq + 1) });
  }
  return out;
}

export function modinfoValue(info: ModInfo, key: string): string | undefined {
  return info.find((e) => e.key === key)?.value;
}

/** Checks that a livepatch module's .modinfo is complete: livepatch=Y, its name, a vermagic of the right release. */
export function checkLivepatchModinfo(obj: ElfObject, moduleName: string, release: string | undefined): ModInfo {
  const info = readModinfo(obj);
  const need = (key: string): string => {
    const v = modinfoValue(info, key);
    if (v === undefined) throw new KelpError(`.modinfo has no ${key}=`, obj.file);
    return v;
  };
  if (need('livepatch') !== 'Y') throw new KelpError('.modinfo livepatch is not Y', obj.file);
  if (need('license') !== 'GPL') throw new KelpError('.modinfo license is not GPL', obj.file);
  const name = need('name');
  if (name !== moduleName) throw new KelpError(`.modinfo name is ${name}, expected ${moduleName}`, obj.file);
  const vermagic = need('vermagic');
  if (release !== undefined && !vermagic.startsWith(`${release} `)) throw new KelpError(`.modinfo vermagic "${vermagic}" is not for ${release}`, obj.file);
  return info;
}
