/** The readelf-compatible options `kelp dump` accepts, after parsing. */

export interface DumpOptions {
  fileHeader: boolean;
  programHeaders: boolean;
  sectionHeaders: boolean;
  sectionGroups: boolean;
  /** -t/-N: the section headers in detail (implies sectionHeaders). */
  sectionDetails: boolean;
  syms: boolean;
  relocs: boolean;
  notes: boolean;
  /** -d/--dynamic. */
  dynamic: boolean;
  /** -V/--version-info. */
  versionInfo: boolean;
  /** --dyn-syms: the SHT_DYNSYM tables only (-s prints them too). */
  dynSyms: boolean;
  /** -D/--use-dynamic: -r and -s use the dynamic section's tables. */
  useDynamic: boolean;
  /** -c/--archive-index. */
  archiveIndex: boolean;
  /** -I/--histogram. */
  histogram: boolean;
  /** -A/--arch-specific. */
  archSpecific: boolean;
  /** -u/--unwind. */
  unwind: boolean;
  wide: boolean;
  /** -z/--decompress: -x and -p show compressed sections decompressed. */
  decompress: boolean;
  /** -x/--hex-dump requests, in command-line order (numbers or names). */
  hexDumps: string[];
  /** -p/--string-dump requests. */
  stringDumps: string[];
  /** Every -x/-p/-R request in command-line order (readelf warns about missing names in reverse order). */
  sectionRequests: Array<{ kind: 'x' | 'p' | 'R'; arg: string }>;
  /** -R/--relocated-dump requests: hex dumps with the relocations applied. */
  relocatedDumps: string[];
  /** -L/--lint: warnings about possible problems. */
  lint: boolean;
  /** -L with no display option: readelf's check_all, every display (DWARF and LTO symbols too, which kelp refuses). */
  checkAll: boolean;
  /** -T/--silent-truncation: a cut name gets no `[...]`. */
  silentTruncation: boolean;
  /** --sym-base: how symbol sizes are printed (0 mixed, 8, 10, 16). */
  symBase: 0 | 8 | 10 | 16;
  /** -C/--demangle: C++ (Itanium ABI) names are printed demangled. */
  demangle: boolean;
  /** The demangling style readelf would use (-C's argument; `auto` by default). */
  demangleStyle: DemangleStyle;
  /** -U/--unicode: how UTF-8 sequences in symbol names are shown. */
  unicode: UnicodeDisplay;
  /** -P/--process-links: also dump separate debug files the file links to. */
  processLinks: boolean;
}

/** readelf's demangling styles (-C/--demangle=STYLE). */
export type DemangleStyle = 'none' | 'auto' | 'gnu-v3' | 'java' | 'gnat' | 'dlang' | 'rust';

/** readelf's -U/--unicode modes. */
export type UnicodeDisplay = 'default' | 'locale' | 'escape' | 'hex' | 'highlight' | 'invalid';

export function emptyOptions(): DumpOptions {
  return {
    fileHeader: false, programHeaders: false, sectionHeaders: false, sectionGroups: false, sectionDetails: false,
    syms: false, relocs: false, notes: false, dynamic: false, versionInfo: false, dynSyms: false, archiveIndex: false, useDynamic: false, histogram: false,
    archSpecific: false, unwind: false, wide: false, decompress: false, hexDumps: [], stringDumps: [], relocatedDumps: [], sectionRequests: [],
    lint: false, checkAll: false, silentTruncation: false, symBase: 0, demangle: false, demangleStyle: 'auto', unicode: 'default', processLinks: false,
  };
}

/** readelf's -a/--all: -h -l -S -g -s -r -d -V -A -I -u -n (not --dyn-syms, -x, -p or -W). */
export function setAll(o: DumpOptions): void {
  o.fileHeader = o.programHeaders = o.sectionHeaders = o.sectionGroups = true;
  o.syms = o.relocs = o.dynamic = o.versionInfo = o.archSpecific = o.histogram = o.unwind = o.notes = true;
}

/** True when at least one display option is set (readelf refuses to run without one). */
export function hasDisplayOption(o: DumpOptions): boolean {
  return o.fileHeader || o.programHeaders || o.sectionHeaders || o.sectionGroups || o.syms || o.relocs
    || o.notes || o.dynamic || o.versionInfo || o.dynSyms || o.histogram || o.archSpecific || o.unwind || o.archiveIndex
    || o.hexDumps.length > 0 || o.stringDumps.length > 0 || o.relocatedDumps.length > 0 || o.lint;
}

/**
 * A -x/-p argument is a section number when the whole of it reads as a C
 * integer (decimal, 0x hex or leading-0 octal, as strtoul with base 0), else
 * a section name.
 */
export function parseSectionRequest(arg: string): { index: number } | { name: string } {
  let v: number | undefined;
  if (/^0[xX][0-9a-fA-F]+$/.test(arg)) v = parseInt(arg.slice(2), 16);
  else if (/^0[0-7]*$/.test(arg)) v = parseInt(arg, 8);
  else if (/^[1-9][0-9]*$/.test(arg)) v = Number(arg);
  if (v !== undefined && Number.isSafeInteger(v)) return { index: v };
  return { name: arg };
}
