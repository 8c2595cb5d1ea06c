/**
 * A module's __versions section (CONFIG_MODVERSIONS): one struct
 * modversion_info per undefined symbol, `unsigned long crc` then `char
 * name[MODULE_NAME_LEN... 56]`, 64 bytes each; the loader compares each CRC
 * with the exporting kernel's.
 */
export const VERSIONS_SECTION = '__versions';
/** sizeof(struct modversion_info) on 64-bit kernels. */
export const MODVERSION_INFO_SIZE = 64;

export interface VersionEntry {
  /** Offset of the entry in the section. */
  offset: number;
  /** The CRC (the low 32 bits of the crc field). */
  crc: bigint;
  name: string;
}

/** The whole entries of __versions' bytes, in order (a trailing partial entry is left out). */
export function versionEntries(data: Buffer): VersionEntry[] {
  const out: VersionEntry[] = [];
  for (let o = 0; o + MODVERSION_INFO_SIZE <= data.length; o += MODVERSION_INFO_SIZE) {
    const end = data.indexOf(0, o + 8);
    const name = data.toString('latin1', o + 8, end < 0 || end > o + MODVERSION_INFO_SIZE ? o + MODVERSION_INFO_SIZE : end);
    out.push({ offset: o, crc: data.readBigUInt64LE(o) & 0xffffffffn, name });
  }
  return out;
}
