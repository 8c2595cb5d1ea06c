/**
 * What `kelp check` knows about the target kernel: vmlinux's symbols (from
 * --symbols, in kallsyms order, with addresses), the exports (Module.symvers),
 * the release, where modules load, and the symbol tables of other modules
 * (from --modules, or from the [module] lines of a kallsyms dump).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SHF_ALLOC, SHN_LORESERVE, SHN_UNDEF, SHT_SYMTAB, STB_LOCAL, STT_FILE, STT_FUNC, STT_SECTION } from '../../elf/constants.js';
import { KelpError } from '../errors.js';
import { ElfFile } from '../../elf/reader.js';
import { moduleArea, type ModuleArea } from '../../rela/module-area.js';
import { moduleNameOfFile } from '../kmod/names.js';
import { kdirRelease } from '../link/index.js';
import { readSymbolTable } from '../symbols/read.js';
import { SymbolIndex, type SymbolTable, type TargetSymbol } from '../symbols/table.js';
import { readSymvers, Symvers, type ExportedSymbol } from '../symbols/symvers.js';
import { moduleStem, readMaybeCompressed } from '../util/decompress.js';

export interface CheckTargetOptions {
  /** System.map, vmlinux (ELF), readelf -s text or a kallsyms dump. */
  symbols: string;
  /** Module.symvers files (the kernel's and any other module's). */
  symvers?: string[];
  /** The target's kbuild directory: release, Module.symvers and config from there. */
  kdir?: string;
  /** uname -r of the target. */
  release?: string;
  /** Module trees (directories searched for *.ko, *.ko.xz) or single module files of the target. */
  modules?: string[];
  /** The target's vmlinuz or vmlinux: under IBT, which functions keep their ENDBR. */
  kernel?: string;
}

/**
 * The words of VERMAGIC_STRING after the release (include/linux/vermagic.h),
 * as a kernel of this configuration writes them: "SMP preempt mod_unload
 * modversions " for Debian's. Undefined when the configuration randomises
 * structure layout (the hash would be needed) or is unknown. x86-64 adds no
 * MODULE_ARCH_VERMAGIC.
 */
export function vermagicFlags(config: Map<string, string> | undefined): string | undefined {
  if (!config) return undefined;
  const on = (n: string): boolean => config.get(`CONFIG_${n}`) === 'y';
  if (on('RANDSTRUCT') || on('RANDSTRUCT_FULL') || on('RANDSTRUCT_PERFORMANCE') || on('GCC_PLUGIN_RANDSTRUCT')) return undefined;
  let w = '';
  if (on('SMP')) w += 'SMP ';
  if (on('PREEMPT_BUILD')) w += 'preempt ';
  else if (on('PREEMPT_RT')) w += 'preempt_rt ';
  if (on('MODULE_UNLOAD')) w += 'mod_unload ';
  if (on('MODVERSIONS')) w += 'modversions ';
  return w;
}

/** Reads `.config` or `include/generated/autoconf.h` of a kdir. */
export function readKernelConfig(kdir: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  const dotConfig = join(kdir, '.config');
  const autoconf = join(kdir, 'include', 'generated', 'autoconf.h');
  if (existsSync(dotConfig)) {
    for (const line of readFileSync(dotConfig, 'latin1').split('\n')) {
      const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
      if (m) out.set(m[1], m[2].replace(/^"(.*)"$/, '$1'));
    }
    return out;
  }
  if (existsSync(autoconf)) {
    for (const line of readFileSync(autoconf, 'latin1').split('\n')) {
      const m = /^#define (CONFIG_\w+) (.*)$/.exec(line);
      if (!m) continue;
      const name = m[1].replace(/_MODULE$/, '');
      out.set(name, m[2] === '1' ? (m[1].endsWith('_MODULE') ? 'm' : 'y') : m[2].replace(/^"(.*)"$/, '$1'));
    }
    return out;
  }
  return undefined;
}

/** The symbols of one object (vmlinux or a module) as kallsyms walks them, indexed by name. */
export class ObjectSymbols {
  readonly index: SymbolIndex;

  constructor(readonly object: string, readonly table: SymbolTable) {
    this.index = new SymbolIndex(table);
  }

  /** The defined symbols of that name, in kallsyms order. */
  named(name: string): TargetSymbol[] {
    return this.index.defined(name).map((p) => this.table.symbols[p]);
  }
}

/**
 * A module's symbols as its kallsyms holds them once loaded (kernel/module/
 * kallsyms.c keeps the "core" symbols): named, defined, in a loaded section
 * that is not an init section; the per-CPU section's symbols count too.
 */
export function moduleKallsyms(file: string, object: string): ObjectSymbols {
  const elf = ElfFile.parse(readMaybeCompressed(file), file);
  const sh = elf.findSectionByType(SHT_SYMTAB);
  if (!sh) throw new KelpError('has no symbol table', file);
  const t = elf.symbolTable(sh.index);
  const symbols: TargetSymbol[] = [];
  for (let i = 1; i < t.count; i++) {
    const shndx = t.shndx(i);
    if (shndx === SHN_UNDEF || shndx >= SHN_LORESERVE || shndx >= elf.sections.length) continue;
    const type = t.type(i);
    const name = t.nameOrUndefined(i);
    if (!name || type === STT_SECTION || type === STT_FILE) continue;
    const sec = elf.sections[shndx];
    const secName = elf.sectionNameOrUndefined(sec) ?? '';
    if (secName !== '.data..percpu' && ((sec.sh_flags & SHF_ALLOC) === 0 || secName.startsWith('.init'))) continue;
    symbols.push({
      name, kind: type === STT_FUNC ? 'func' : 'object', local: t.bind(i) === STB_LOCAL, defined: true,
      file: null, module: object, address: undefined,
    });
  }
  return new ObjectSymbols(object, { source: file, format: 'elf', symbols, hasFiles: false });
}

function findModules(root: string, out: Map<string, string>, depth = 0): void {
  if (depth > 12) return;
  let entries;
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch (e) {
    throw new KelpError(`cannot read the module tree: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, root);
  }
  for (const e of entries) {
    const p = join(root, e.name);
    if (e.isDirectory()) findModules(p, out, depth + 1);
    else if (moduleStem(e.name) !== null && !out.has(moduleNameOfFile(e.name))) out.set(moduleNameOfFile(e.name), p);
  }
}

export class CheckTarget {
  readonly vmlinux: ObjectSymbols;
  readonly symvers: Symvers | null;
  readonly release: string | undefined;
  readonly releaseSource: string | undefined;
  /** The vermagic words after the release, from the kdir's configuration; undefined when unknown. */
  readonly vermagicFlags: string | undefined;
  readonly vermagicSource: string | undefined;
  readonly area: ModuleArea;
  /** Kernel module name → .ko file (from --modules). */
  readonly moduleFiles: Map<string, string> | null;
  /** Module symbol tables from a kallsyms dump's [module] lines. */
  private readonly kallsymsModules = new Map<string, ObjectSymbols>();
  private readonly loaded = new Map<string, ObjectSymbols | null>();
  /** --kernel: the target's image. */
  readonly kernel: string | undefined;
  /** CONFIG_X86_KERNEL_IBT from the kdir's configuration; undefined when unknown. */
  readonly ibtConfigured: boolean | undefined;

  constructor(opts: CheckTargetOptions) {
    const table = readSymbolTable(opts.symbols);
    const vmlinuxSymbols = table.symbols.filter((s) => s.module === null);
    if (table.format === 'kallsyms') {
      const byModule = new Map<string, TargetSymbol[]>();
      for (const s of table.symbols) {
        if (s.module === null) continue;
        let l = byModule.get(s.module);
        if (!l) byModule.set(s.module, (l = []));
        l.push(s);
      }
      for (const [m, syms] of byModule) {
        this.kallsymsModules.set(m, new ObjectSymbols(m, { source: opts.symbols, format: 'kallsyms', symbols: syms, hasFiles: false }));
      }
    }
    this.vmlinux = new ObjectSymbols('vmlinux', { ...table, symbols: vmlinuxSymbols });

    const symversFiles = [...(opts.symvers ?? [])];
    if (opts.kdir !== undefined) {
      if (!existsSync(opts.kdir)) throw new KelpError('no such kernel build directory', opts.kdir);
      const own = join(opts.kdir, 'Module.symvers');
      if (existsSync(own) && !symversFiles.includes(own)) symversFiles.unshift(own);
    }
    if (symversFiles.length > 0) {
      const entries: ExportedSymbol[] = [];
      for (const f of symversFiles) entries.push(...readSymvers(f).entries());
      this.symvers = new Symvers(entries);
    } else {
      this.symvers = null;
    }

    // The release: given, else from the kdir (or the kdir a Module.symvers sits in), else a versioned file name.
    const kdirs = [opts.kdir, ...symversFiles.map((f) => dirname(f))].filter((d): d is string => d !== undefined);
    let release = opts.release;
    let source = release !== undefined ? '--release' : undefined;
    for (const d of kdirs) {
      if (release !== undefined) break;
      release = kdirRelease(d);
      if (release !== undefined) source = d;
    }
    if (release === undefined) {
      const m = /^(?:System\.map|vmlinux|vmlinuz|kallsyms)-(.+)$/.exec(basename(opts.symbols));
      if (m) {
        release = m[1];
        source = opts.symbols;
      }
    }
    this.release = release;
    this.releaseSource = source;

    let config: Map<string, string> | undefined;
    let configDir: string | undefined;
    for (const d of kdirs) {
      config = readKernelConfig(d);
      if (config) {
        configDir = d;
        break;
      }
    }
    this.area = moduleArea(config);
    this.kernel = opts.kernel;
    this.ibtConfigured = config === undefined ? undefined : config.get('CONFIG_X86_KERNEL_IBT') === 'y';
    this.vermagicFlags = vermagicFlags(config);
    this.vermagicSource = this.vermagicFlags === undefined ? undefined : configDir;

    if (opts.modules && opts.modules.length > 0) {
      const files = new Map<string, string>();
      for (const m of opts.modules) {
        let st;
        try {
          st = statSync(m);
        } catch {
          throw new KelpError('no such file or directory', m);
        }
        if (st.isDirectory()) findModules(m, files);
        else files.set(moduleNameOfFile(m), m);
      }
      this.moduleFiles = files;
    } else {
      this.moduleFiles = null;
    }
  }

  /** True when kelp can tell whether a module of that name exists on the target. */
  get knowsModules(): boolean {
    return this.moduleFiles !== null || this.kallsymsModules.size > 0;
  }

  hasModule(name: string): boolean {
    return (this.moduleFiles?.has(name) ?? false) || this.kallsymsModules.has(name);
  }

  /** The symbols of an object: vmlinux, or a module found in --modules or the kallsyms dump; null when unknown. */
  objectSymbols(object: string): ObjectSymbols | null {
    if (object === 'vmlinux') return this.vmlinux;
    const k = this.kallsymsModules.get(object);
    if (k) return k;
    if (this.loaded.has(object)) return this.loaded.get(object)!;
    const file = this.moduleFiles?.get(object);
    const t = file ? moduleKallsyms(file, object) : null;
    this.loaded.set(object, t);
    return t;
  }

  /** The vmlinux address of an exported (global) symbol, when the symbol table has it. */
  vmlinuxAddress(name: string): bigint | undefined {
    const syms = this.vmlinux.named(name);
    const g = syms.find((s) => !s.local) ?? (syms.length === 1 ? syms[0] : undefined);
    return g?.address;
  }
}
