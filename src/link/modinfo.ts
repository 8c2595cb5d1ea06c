/** The check of a linked livepatch module's .modinfo (the format: kmod/modinfo.ts). */
import { KelpError } from '../errors.js';
import type { ElfObject } from '../../elf/model.js';
import { modinfoValue, readModinfo, type ModInfo } from '../kmod/modinfo.js';

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
