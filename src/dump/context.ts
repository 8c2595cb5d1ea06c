/**
 * The per-run output buffer and the per-file state every printer shares:
 * the parsed file, the options, section names as readelf shows them, and the
 * machine/OS values the name tables depend on.
 */
import type { ElfFile, SectionHeader } from '../../elf/reader.js';
import { SHT_NOBITS } from '../../elf/constants.js';
import type { DumpOptions } from './options.js';
import { isX86_64 } from './names.js';
import { printableName, type SymbolStyle } from './format.js';
import type { ByteSource } from '../../elf/source.js';
import { BuildAttributeState } from './build-attributes.js';

/** State readelf keeps from one file to the next within a run, and where its messages go. */
export class DumpSession {
  /** The last ranges of GNU build attribute notes (an empty descriptor repeats them). */
  readonly buildAttributes = new BuildAttributeState();
  /** The last relocation type -R could not apply (readelf warns once per run of the same type). */
  lastUnappliedReloc = 0;
  /** Every message, in order (also sent to `sink`). */
  readonly messages: string[] = [];

  /** `sink` receives each message (readelf's warn/error text, newline included); `prog` is the name they start with. */
  constructor(private readonly sink?: (text: string) => void, readonly prog = 'kelp') {}

  /** readelf's warn(): `text` carries its own newline, as readelf's format strings do. */
  warn(text: string): void {
    this.emit(`${this.prog}: Warning: ${text}`);
  }

  /** readelf's error(). */
  error(text: string): void {
    this.emit(`${this.prog}: Error: ${text}`);
  }

  private emit(line: string): void {
    this.messages.push(line);
    this.sink?.(line);
  }
}

/**
 * Collects output as strings and hands it to `sink` as large latin1 Buffers
 * (one byte per char), never line by line.
 */
export class Out {
  private parts: string[] = [];
  private size = 0;

  constructor(private readonly sink: (chunk: Buffer) => void, private readonly limit = 1 << 20) {}

  w(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= this.limit) this.flush();
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const s = this.parts.length === 1 ? this.parts[0] : this.parts.join('');
    this.parts = [];
    this.size = 0;
    this.sink(Buffer.from(s, 'latin1'));
  }
}

export class DumpContext {
  readonly machine: number;
  readonly osabi: number;
  /** The section count (extended numbering resolved), as readelf's e_shnum after loading. */
  readonly shnum: number;
  readonly wide: boolean;
  /** How symbol names print (-C, -U, -T). */
  readonly symStyle: SymbolStyle;
  private readonly printable: (string | undefined)[];
  /** Set where readelf's printer returns false for this file (its exit status becomes 1). */
  failed = false;
  /** Whether the section name string table is usable (readelf's string_table != NULL). */
  readonly hasNames: boolean;
  /** The file's size in bytes (readelf's file_size). */
  readonly fileSize: number;

  constructor(
    readonly elf: ElfFile,
    readonly file: string,
    readonly opts: DumpOptions,
    readonly out: Out,
    readonly utf8: boolean,
    /** Where the file's bytes come from; `need` before touching a region. */
    readonly src: ByteSource,
    /** The run this file is dumped in. */
    readonly session: DumpSession = new DumpSession(),
  ) {
    this.machine = elf.header.e_machine;
    this.fileSize = src.buf.length;
    this.osabi = elf.header.ei_osabi;
    this.shnum = elf.sections.length;
    this.wide = opts.wide;
    this.symStyle = {
      demangle: opts.demangle && (opts.demangleStyle === 'auto' || opts.demangleStyle === 'gnu-v3'),
      unicode: opts.unicode,
      silentTruncation: opts.silentTruncation,
      tty: process.stdout.isTTY === true,
    };
    this.printable = new Array(this.shnum);
    this.hasNames = elf.hasSectionNames;
  }

  /** Makes bytes of the file available in elf.buf (a no-op for files read whole). */
  need(off: number, len: number | bigint): void {
    this.src.need(off, len);
  }

  /** Makes a section's contents available. */
  needSection(s: SectionHeader): void {
    if (s.sh_type !== SHT_NOBITS) this.src.need(s.sh_offset, s.sh_size);
  }

  /** Makes a symbol table, its string table and its extended index table available. */
  needSymtab(index: number): void {
    const secs = this.elf.sections;
    if (index >= secs.length) return;
    const s = secs[index];
    this.needSection(s);
    if (s.sh_link < secs.length) this.needSection(secs[s.sh_link]);
    for (const x of secs) if (x.sh_type === 18 && x.sh_link === index) this.needSection(x);
  }

  get isX86(): boolean {
    return isX86_64(this.machine);
  }

  /** readelf's section_name_print: the raw name, `<no-strings>` or `<corrupt>`. */
  rawSectionName(s: SectionHeader): string {
    if (!this.hasNames) return '<no-strings>';
    const n = this.elf.sectionNameOrUndefined(s);
    return n === undefined ? '<corrupt>' : n;
  }

  /** readelf's printable_section_name. */
  sectionName(s: SectionHeader): string {
    let n = this.printable[s.index];
    if (n === undefined) {
      n = printableName(this.rawSectionName(s));
      this.printable[s.index] = n;
    }
    return n;
  }
}
