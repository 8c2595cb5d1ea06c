/**
 * A module's .modinfo section: NUL-separated `key=value` strings (what
 * MODULE_INFO, MODULE_LICENSE, modpost's name=, vermagic= and depends= write).
 * The first entry of a key is the one the loader's get_modinfo finds.
 */
import type { ElfObject } from '../../elf/model.js';

export const MODINFO_SECTION = '.modinfo';

export type ModInfo = Array<{ key: string; value: string }>;

/** The entries of .modinfo's bytes, in order (an entry without `=` has an empty value). */
export function parseModinfo(data: Buffer): ModInfo {
  const out: ModInfo = [];
  for (const entry of data.toString('latin1').split('\0')) {
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    out.push(eq < 0 ? { key: entry, value: '' } : { key: entry.slice(0, eq), value: entry.slice(eq + 1) });
  }
  return out;
}

/** The .modinfo of an editable object (none: no entries). */
export function readModinfo(obj: ElfObject): ModInfo {
  const sec = obj.sections.find((s) => s.name === MODINFO_SECTION);
  return sec ? parseModinfo(sec.data) : [];
}

/** The value of the first entry of `key`, as the loader's get_modinfo finds it. */
export function modinfoValue(info: ModInfo, key: string): string | undefined {
  return info.find((e) => e.key === key)?.value;
}
