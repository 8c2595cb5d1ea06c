/**
 * ModuleImage: a kernel module as `kelp check` and `kelp dump --livepatch`
 * read it, with the tolerant zero-copy reader (elf/reader.ts) rather than the
 * editable model: the model refuses a file whose sh_info or sh_link points
 * nowhere, and such a file is exactly what check must describe instead of
 * refusing. Every lookup here tolerates bad indices.
 */
import { readFileSync } from 'node:fs';
import {
  EM_X86_64, ET_REL, SHF_ALLOC, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX, SHT_NOBITS, SHT_REL, SHT_RELA, SHT_SYMTAB,
} from '../../elf/constants.js';
import { KelpError } from '../errors.js';
import { ElfFile, type SectionHeader } from '../../elf/reader.js';
import type { SymbolTable } from '../../elf/symbols.js';
import { MODINFO_SECTION, parseModinfo, type ModInfo } from './modinfo.js';
import { MODULE_NAME_LEN } from './names.js';
import type { ProblemList } from '../check/problem.js';
import { compressionOf, decompress } from '../util/decompress.js';

/** struct module: enum module_state state (4, padded to 8), struct list_head list (16), then char name[MODULE_NAME_LEN]. */
const MODULE_NAME_OFFSET = 24;

/** The module's name as the kernel will know it (this_module's name field), if readable. */
export function thisModuleName(m: ModuleImage): string | undefined {
  const s = m.sectionByName('.gnu.linkonce.this_module');
  const d = s ? m.data(s) : undefined;
  if (!d || d.length < MODULE_NAME_OFFSET + MODULE_NAME_LEN) return undefined;
  const field = d.subarray(MODULE_NAME_OFFSET, MODULE_NAME_OFFSET + MODULE_NAME_LEN);
  const end = field.indexOf(0);
  return end <= 0 ? undefined : field.toString('latin1', 0, end);
}

/** `section+0xoff`, the place of a byte in a section. */
export function at(section: string, offset: bigint | number): string {
  return `${section}+0x${offset.toString(16)}`;
}

export interface ModSymbol {
  index: number;
  name: string;
  bind: number;
  type: number;
  /** st_shndx with SHN_XINDEX resolved. */
  shndx: number;
  value: bigint;
  size: bigint;
}

export interface ModRela {
  index: number;
  offset: bigint;
  type: number;
  /** Symbol index (0: none). */
  sym: number;
  addend: bigint;
}

export class ModuleImage {
  readonly elf: ElfFile;
  readonly symtab: SectionHeader | undefined;
  /** Symbols by index (index 0 is the null symbol); empty without a symbol table. */
  readonly symbols: ModSymbol[] = [];
  private readonly relCache = new Map<number, ModRela[] | null>();

  private constructor(readonly file: string, buf: Buffer, problems: ProblemList) {
    this.elf = ElfFile.parse(buf, file);
    const h = this.elf.header;
    if (h.e_type !== ET_REL) problems.add('module.elf', 'ELF header', `e_type is ${h.e_type}, not ET_REL: the module loader only loads relocatable objects`);
    if (h.e_machine !== EM_X86_64) problems.add('module.elf', 'ELF header', `e_machine is ${h.e_machine}, not EM_X86_64`);
    this.symtab = this.elf.findSectionByType(SHT_SYMTAB);
    if (!this.symtab) {
      problems.add('module.elf', 'section headers', 'no symbol table: the loader refuses a module without symbols');
      return;
    }
    let t: SymbolTable;
    try {
      t = this.elf.symbolTable(this.symtab.index);
    } catch (e) {
      problems.add('module.elf', 'section .symtab', `unreadable symbol table: ${(e as Error).message}`);
      return;
    }
    for (let i = 0; i < t.count; i++) {
      const raw = t.shndx(i);
      let shndx = raw;
      if (raw === SHN_XINDEX) {
        try {
          shndx = t.extendedIndex(i);
        } catch {
          shndx = 0xffffffff;
        }
      }
      this.symbols.push({
        index: i, name: t.nameOrUndefined(i) ?? `<symbol ${i}>`, bind: t.bind(i), type: t.type(i),
        shndx, value: t.value(i), size: t.size(i),
      });
    }
  }

  static read(file: string, problems: ProblemList): ModuleImage {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new KelpError(err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : (err.code ?? err.message), file);
    }
    // A compressed module (.ko.xz): the loader decompresses it (CONFIG_MODULE_DECOMPRESS or the userspace insmod), so the rules apply to its contents.
    const c = compressionOf(buf);
    if (c !== null) buf = decompress(buf, c, file);
    return new ModuleImage(file, buf, problems);
  }

  /** A module already in memory (`kelp dump --livepatch` reads the file itself). */
  static fromBuffer(file: string, buf: Buffer, problems: ProblemList): ModuleImage {
    return new ModuleImage(file, buf, problems);
  }

  get sections(): readonly SectionHeader[] {
    return this.elf.sections;
  }

  /** The section's name, or `[N]` when sh_name is bad. */
  name(s: SectionHeader | number): string {
    const h = typeof s === 'number' ? this.elf.sections[s] : s;
    if (!h) return `[${String(s)}]`;
    return this.elf.sectionNameOrUndefined(h) ?? `[${h.index}]`;
  }

  section(index: number): SectionHeader | undefined {
    return index > 0 && index < this.elf.sections.length ? this.elf.sections[index] : undefined;
  }

  sectionByName(name: string): SectionHeader | undefined {
    return this.elf.sections.find((s) => s.index > 0 && this.elf.sectionNameOrUndefined(s) === name);
  }

  /** The section's bytes, or undefined for NOBITS or contents outside the file. */
  data(s: SectionHeader): Buffer | undefined {
    if (s.sh_type === SHT_NOBITS || !this.elf.hasValidData(s)) return undefined;
    return this.elf.sectionData(s);
  }

  /** The entries of a SHT_RELA/SHT_REL section, or null when they cannot be read (the reason goes to `problems`). */
  relocations(s: SectionHeader, problems?: ProblemList): ModRela[] | null {
    if (this.relCache.has(s.index)) return this.relCache.get(s.index)!;
    let out: ModRela[] | null = null;
    if (s.sh_type === SHT_RELA || s.sh_type === SHT_REL) {
      try {
        const t = this.elf.relocations(s);
        out = [];
        for (let k = 0; k < t.count; k++) out.push({ index: k, offset: t.offset(k), type: t.type(k), sym: t.symbol(k), addend: t.addend(k) });
      } catch (e) {
        problems?.add('module.elf', `section ${this.name(s)}`, `unreadable relocations: ${(e as Error).message}`);
      }
    }
    this.relCache.set(s.index, out);
    return out;
  }

  /** Relocation sections with the section they apply to (when sh_info names one). */
  *relocationSections(): Generator<{ rel: SectionHeader; target: SectionHeader | undefined }> {
    for (const s of this.elf.sections) {
      if (s.sh_type !== SHT_RELA && s.sh_type !== SHT_REL) continue;
      yield { rel: s, target: this.section(s.sh_info) };
    }
  }

  /** A symbol defined in a section of the module (not UND, not a reserved index). */
  isDefinedInSection(sym: ModSymbol): boolean {
    const reserved = sym.shndx >= SHN_LORESERVE && sym.shndx <= 0xffff;
    return sym.shndx !== SHN_UNDEF && !reserved && sym.shndx < this.elf.sections.length;
  }

  /** True when the section is loaded (SHF_ALLOC). */
  static loaded(s: SectionHeader | undefined): boolean {
    return s !== undefined && (s.sh_flags & SHF_ALLOC) !== 0;
  }

  modinfo(): ModInfo {
    const s = this.sectionByName(MODINFO_SECTION);
    const d = s ? this.data(s) : undefined;
    return d ? parseModinfo(d) : [];
  }

  /** The NUL-terminated string at a section offset (at most `max` bytes), or undefined. */
  stringAt(section: number, offset: bigint, max = 1024): string | undefined {
    const s = this.section(section);
    const d = s ? this.data(s) : undefined;
    if (!d || offset < 0n || offset >= BigInt(d.length)) return undefined;
    const o = Number(offset);
    const end = d.indexOf(0, o);
    if (end < 0 || end - o > max) return undefined;
    return d.toString('latin1', o, end);
  }
}
