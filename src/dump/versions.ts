/**
 * Symbol versions of dynamic symbols, found the way readelf finds them: the
 * DT_VERSYM, DT_VERDEF and DT_VERNEED addresses of the dynamic section mapped
 * to file offsets through the PT_LOAD segments. A symbol gets `@VER` (hidden
 * or defined-only), `@@VER` (default definition) or `@VER (n)` (a needed
 * version); readelf's corner cases where it prints `<corrupt>` are kept.
 */
import type { DumpContext } from './context.js';
import type { StringTable } from '../../elf/strings.js';
import { dynamicInfo, offsetFromVma, DT_VERDEF, DT_VERNEED, DT_VERSYM } from './dynamic.js';
import { DumpUnsupportedError } from './names.js';

export const enum VersionKind { Public, Hidden, Undefined }

export interface SymbolVersion {
  readonly name: string;
  readonly kind: VersionKind;
  /** vna_other, for needed versions. */
  readonly other: number;
}

const VERSYM_HIDDEN = 0x8000;
const VERSYM_VERSION = 0x7fff;
const VER_FLG_BASE = 1;

export class VersionResolver {
  private readonly versym: number | undefined;
  private readonly verdef: number | undefined;
  private readonly verneed: number | undefined;
  private readonly buf: Buffer;
  private readonly plans = new Map<number, Plan>();

  constructor(private readonly ctx: DumpContext) {
    this.buf = ctx.elf.buf;
    const d = dynamicInfo(ctx);
    const map = (tag: bigint, size: bigint): number | undefined => {
      const vma = d?.last.get(tag);
      if (vma === undefined || vma === 0n) return undefined;
      const off = offsetFromVma(ctx, vma, size);
      if (off === undefined || off > BigInt(this.buf.length)) throw new DumpUnsupportedError(ctx.file, `a version table address 0x${vma.toString(16)} outside the PT_LOAD segments`);
      return Number(off);
    };
    this.versym = map(DT_VERSYM, 2n);
    this.verdef = map(DT_VERDEF, 20n);
    this.verneed = map(DT_VERNEED, 16n);
  }

  /** Loads the version numbers of `count` symbols. */
  prepare(count: number): void {
    if (this.versym !== undefined) this.ctx.need(this.versym, count * 2);
  }

  get active(): boolean {
    return this.versym !== undefined;
  }

  private read(off: number, size: number, what: string): number {
    this.ctx.need(off, size);
    if (off < 0 || off + size > this.buf.length) throw new DumpUnsupportedError(this.ctx.file, `${what} past the end of the file`);
    return size === 2 ? this.buf.readUInt16LE(off) : this.buf.readUInt32LE(off);
  }

  /** The version of dynamic symbol `si`, or undefined when readelf prints none. */
  lookup(si: number, st_name: number, st_shndx: number, strings: StringTable): SymbolVersion | undefined {
    if (this.versym === undefined) return undefined;
    const vers = this.read(this.versym + si * 2, 2, 'version data');
    if (vers === 0) return undefined;
    const key = vers * 2 + (st_shndx === 0 ? 0 : 1);
    let plan = this.plans.get(key);
    if (plan === undefined) {
      plan = this.plan(vers, st_shndx);
      this.plans.set(key, plan);
    }
    if (plan.verdef) {
      if (plan.base) return undefined;
      if (st_name !== plan.vdaName) return { name: this.str(strings, plan.vdaName), kind: plan.kind, other: 0 };
    }
    if (plan.need === undefined) return undefined;
    if (plan.need.corrupt) return { name: '<corrupt>', kind: plan.kind, other: 0 };
    return { name: this.str(strings, plan.need.name), kind: VersionKind.Undefined, other: plan.need.other };
  }

  private str(strings: StringTable, off: number): string {
    const s = off < strings.size ? strings.tryGet(off) : undefined;
    return s === undefined ? '<corrupt>' : s;
  }

  /** What readelf's lookup finds for a versym value, apart from the symbol's own name. */
  private plan(vers: number, st_shndx: number): Plan {
    const kind = (vers & VERSYM_HIDDEN) !== 0 ? VersionKind.Hidden : VersionKind.Public;
    const want = vers & VERSYM_VERSION;
    let maxVd = 0;
    const plan: Plan = { kind, verdef: false, base: false, vdaName: 0, need: undefined };
    if (st_shndx !== 0 && vers !== 0x8001 && this.verdef !== undefined) {
      let off = this.verdef;
      let ndx = 0;
      let next = 0;
      let aux = 0;
      let flags = 0;
      let guard = 0;
      do {
        if (++guard > 65536) throw new DumpUnsupportedError(this.ctx.file, 'a looping version definition chain');
        if (off + 20 > this.buf.length) throw new DumpUnsupportedError(this.ctx.file, 'a version definition past the end of the file');
        this.ctx.need(off, 20);
        flags = this.buf.readUInt16LE(off + 2);
        ndx = this.buf.readUInt16LE(off + 4);
        aux = this.buf.readUInt32LE(off + 12);
        next = this.buf.readUInt32LE(off + 16);
        if ((ndx & VERSYM_VERSION) > maxVd) maxVd = ndx & VERSYM_VERSION;
        off += next;
      } while (ndx !== want && next !== 0);
      if (ndx === want) {
        plan.verdef = true;
        if (ndx === 1 && flags === VER_FLG_BASE) plan.base = true;
        else plan.vdaName = this.read(off - next + aux, 4, 'version definition name');
      }
    }
    if (this.verneed !== undefined) {
      let offset = this.verneed;
      let guard = 0;
      for (;;) {
        if (offset + 16 > this.buf.length) throw new DumpUnsupportedError(this.ctx.file, 'a version need entry past the end of the file');
        this.ctx.need(offset, 16);
        const vn_aux = this.buf.readUInt32LE(offset + 8);
        const vn_next = this.buf.readUInt32LE(offset + 12);
        let vna = offset + vn_aux;
        let vnaNext = 0;
        let vnaOther = 0;
        let vnaName = 0;
        do {
          if (++guard > 1 << 20) throw new DumpUnsupportedError(this.ctx.file, 'a looping version need chain');
          if (vna + 16 > this.buf.length) throw new DumpUnsupportedError(this.ctx.file, 'a version need entry past the end of the file');
          this.ctx.need(vna, 16);
          vnaOther = this.buf.readUInt16LE(vna + 6);
          vnaName = this.buf.readUInt32LE(vna + 8);
          vnaNext = this.buf.readUInt32LE(vna + 12);
          vna += vnaNext;
        } while (vnaOther !== vers && vnaNext !== 0);
        if (vnaOther === vers) {
          plan.need = { corrupt: false, name: vnaName, other: vnaOther };
          return plan;
        }
        offset += vn_next;
        if (vn_next === 0) break;
      }
      if ((maxVd !== 0 || want !== 1) && want > maxVd) plan.need = { corrupt: true, name: 0, other: 0 };
    }
    return plan;
  }
}

interface Plan {
  kind: VersionKind;
  verdef: boolean;
  base: boolean;
  vdaName: number;
  need: { corrupt: boolean; name: number; other: number } | undefined;
}
