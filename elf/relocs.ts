/** A bounds-checked view of a SHT_REL or SHT_RELA section's entries. */
import { REL_SIZE, RELA_SIZE } from './constants.js';
import type { SectionHeader } from './reader.js';

export class RelocationTable {
  readonly count: number;
  private readonly entsize: number;

  constructor(
    /** The section's bytes (already checked to lie within the file). */
    private readonly data: Buffer,
    readonly section: SectionHeader,
    readonly isRela: boolean,
  ) {
    this.entsize = isRela ? RELA_SIZE : REL_SIZE;
    this.count = Math.floor(data.length / this.entsize);
  }

  private at(i: number): number {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`relocation index ${i} out of range`);
    return i * this.entsize;
  }

  offset(i: number): bigint { return this.data.readBigUInt64LE(this.at(i)); }
  /** The full 64-bit r_info. */
  info(i: number): bigint { return this.data.readBigUInt64LE(this.at(i) + 8); }
  /** ELF64_R_SYM: the symbol index. */
  symbol(i: number): number { return this.data.readUInt32LE(this.at(i) + 12); }
  /** ELF64_R_TYPE: the relocation type. */
  type(i: number): number { return this.data.readUInt32LE(this.at(i) + 8); }
  /** r_addend (0 for SHT_REL). */
  addend(i: number): bigint { return this.isRela ? this.data.readBigInt64LE(this.at(i) + 16) : 0n; }
}
