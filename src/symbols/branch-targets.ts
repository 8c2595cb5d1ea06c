/**
 * Which functions of a target kernel an indirect call may reach, under IBT
 * (CONFIG_X86_KERNEL_IBT). With IBT on, an indirect call or jump must land
 * on an ENDBR64 or the CPU raises #CP ("Missing ENDBR"). A function has one
 * only when the compiler put it there (gcc with -fcf-protection=branch
 * omits it from static functions whose address it never takes) and the
 * kernel did not seal it: objtool --ibt lists in `.ibt_endbr_seal` every
 * function-start ENDBR that no relocation outside calls and jumps reaches,
 * and the kernel overwrites each one it lists with a 4-byte NOP
 * (arch/x86/kernel/alternative.c: apply_seal_endbr → poison_endbr, at boot
 * for vmlinux and in module_finalize for a module), whether or not the CPU
 * has IBT. Exported functions are never sealed (their `__ksymtab` entry is a
 * relocation that reaches them).
 *
 * The facts come from the kernel's own files: vmlinux (inside the bzImage)
 * holds `.ibt_endbr_seal` as s32 offsets and its text at link-time
 * addresses, which the System.map names; a module's `.ko` holds its
 * `.ibt_endbr_seal` as relocations to its own symbols.
 */
import { SHF_EXECINSTR, SHN_UNDEF, SHT_NOBITS, SHT_RELA, SHT_SYMTAB, STT_FUNC } from '../../elf/constants.js';
import { KelpError } from '../errors.js';
import { ElfFile, type SectionHeader } from '../../elf/reader.js';
import type { SymbolIndex } from './table.js';

/** What an indirect branch to a function's start finds: its ENDBR, a sealed one (a NOP), or none. */
export type EntryState = 'endbr' | 'sealed' | 'no-endbr';

export const ENDBR64 = Buffer.from([0xf3, 0x0f, 0x1e, 0xfa]);
export const SEAL_SECTION = '.ibt_endbr_seal';

export interface BranchTargets {
  /** The file the facts come from. */
  source: string;
  /** The kernel seals ENDBRs (the image has `.ibt_endbr_seal`): IBT is built in. */
  sealing: boolean;
  /** How many ENDBRs the kernel seals. */
  sealed: number;
  /** The state of function `name` (klp sympos: 0 when unique, else 1-based); undefined when the table does not place it in code. */
  state(name: string, sympos: number): EntryState | undefined;
}

function stateOf(bytes: Buffer | undefined, sealed: boolean): EntryState | undefined {
  if (bytes === undefined || bytes.length < 4) return undefined;
  if (!bytes.subarray(0, 4).equals(ENDBR64)) return 'no-endbr';
  return sealed ? 'sealed' : 'endbr';
}

/** vmlinux: its sealed list and text from the image (ELF), function addresses from its symbol table. */
export function vmlinuxBranchTargets(image: Buffer, file: string, symbols: SymbolIndex): BranchTargets {
  const elf = ElfFile.parse(image, file);
  const seal = elf.findSectionByName(SEAL_SECTION);
  const sealedAt = new Set<bigint>();
  if (seal && seal.sh_type !== SHT_NOBITS) {
    const d = elf.sectionData(seal);
    for (let i = 0; i + 4 <= d.length; i += 4) sealedAt.add(BigInt.asUintN(64, seal.sh_addr + BigInt(i) + BigInt(d.readInt32LE(i))));
  }
  const text = elf.sections.filter((s) => s.index > 0 && (s.sh_flags & SHF_EXECINSTR) !== 0 && s.sh_type !== SHT_NOBITS && elf.hasValidData(s));
  const bytesAt = (a: bigint): Buffer | undefined => {
    const s = text.find((x) => a >= x.sh_addr && a + 4n <= x.sh_addr + BigInt(x.sh_size));
    if (!s) return undefined;
    const off = s.sh_offset + Number(a - s.sh_addr);
    return image.subarray(off, off + 4);
  };
  return {
    source: file,
    sealing: seal !== undefined,
    sealed: sealedAt.size,
    state(name, sympos) {
      const at = symbols.defined(name);
      const p = sympos === 0 ? at[0] : at[sympos - 1];
      const a = p === undefined ? undefined : symbols.table.symbols[p].address;
      if (a === undefined) return undefined;
      return stateOf(bytesAt(a), sealedAt.has(a));
    },
  };
}

/** A module: its sealed list from its `.ibt_endbr_seal` relocations, its text and symbols from the `.ko` itself. */
export function moduleBranchTargets(ko: Buffer, file: string): BranchTargets {
  const elf = ElfFile.parse(ko, file);
  const symtabSec = elf.findSectionByType(SHT_SYMTAB);
  if (!symtabSec) throw new KelpError('has no symbol table (.symtab)', file);
  const syms = elf.symbolTable(symtabSec.index);
  const seal = elf.findSectionByName(SEAL_SECTION);
  // Sealed places as "section:offset".
  const sealedAt = new Set<string>();
  if (seal) {
    for (const rs of elf.sections) {
      if (rs.sh_type !== SHT_RELA || rs.sh_info !== seal.index) continue;
      const r = elf.relocations(rs);
      for (let i = 0; i < r.count; i++) {
        const s = r.symbol(i);
        const shndx = syms.shndx(s);
        if (shndx === SHN_UNDEF) continue;
        // R_X86_64_PC32 to sym+addend: the field holds S + A - P, so the place sealed is S + A + (P - P).
        sealedAt.add(`${shndx}:${syms.value(s) + r.addend(i)}`);
      }
    }
  }
  const byName = new Map<string, number[]>();
  for (let i = 1; i < syms.count; i++) {
    if (syms.shndx(i) === SHN_UNDEF) continue;
    const n = syms.name(i);
    let l = byName.get(n);
    if (!l) byName.set(n, (l = []));
    l.push(i);
  }
  const data = (s: SectionHeader): Buffer | undefined => ((s.sh_flags & SHF_EXECINSTR) !== 0 && s.sh_type !== SHT_NOBITS && elf.hasValidData(s) ? elf.sectionData(s) : undefined);
  return {
    source: file,
    sealing: seal !== undefined,
    sealed: sealedAt.size,
    state(name, sympos) {
      const at = byName.get(name) ?? [];
      const i = sympos === 0 ? at[0] : at[sympos - 1];
      if (i === undefined || syms.type(i) !== STT_FUNC || syms.shndx(i) >= elf.sections.length) return undefined;
      const d = data(elf.sections[syms.shndx(i)]);
      const v = Number(syms.value(i));
      if (d === undefined) return undefined;
      return stateOf(d.subarray(v, v + 4), sealedAt.has(`${syms.shndx(i)}:${syms.value(i)}`));
    },
  };
}
