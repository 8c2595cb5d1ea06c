/** Section groups (SHT_GROUP, COMDAT): a flags word followed by member section indices. */
import { ElfFormatError } from './errors.js';
import type { SectionHeader } from './reader.js';

export interface SectionGroup {
  /** GRP_COMDAT and friends. */
  readonly flags: number;
  /** Member section indices, each checked to be a valid section. */
  readonly members: number[];
}

export function readGroup(data: Buffer, file: string, s: SectionHeader, shnum: number): SectionGroup {
  if (s.sh_entsize !== 4) throw new ElfFormatError(file, `section group ${s.index}`, `sh_entsize is ${s.sh_entsize}, expected 4`, s.headerOffset);
  if (data.length < 4 || data.length % 4 !== 0) throw new ElfFormatError(file, `section group ${s.index}`, `size ${data.length} is not a positive multiple of 4`, s.headerOffset);
  const flags = data.readUInt32LE(0);
  const members: number[] = [];
  for (let o = 4; o < data.length; o += 4) {
    const m = data.readUInt32LE(o);
    if (m === 0 || m >= shnum) throw new ElfFormatError(file, `section group ${s.index}`, `member index ${m} is not a valid section`, s.sh_offset + o);
    members.push(m);
  }
  return { flags, members };
}
