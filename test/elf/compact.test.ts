/**
 * CompactElf, the diff's struct-of-arrays view: it reads what ElfFile and
 * ElfObject read (sections, symbols, relocations), on demand as well as
 * whole, and rejects the same malformed files with the same one-line
 * messages (the header and section table go through one parser, headers.ts).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactElf } from '../../elf/compact.js';
import { SHT_REL, SHT_RELA } from '../../elf/constants.js';
import { ElfFormatError } from '../../elf/errors.js';
import { ElfObject } from '../../elf/model.js';
import { ElfFile } from '../../elf/reader.js';
import { KPATCH_UNIT_DIR } from '../support/paths.js';

const sample = readFileSync(join(KPATCH_UNIT_DIR, 'data-new.ORIG.o'));
const copy = () => Buffer.from(sample);
const info = ElfFile.parse(sample, 'x');
const symtab = info.sections.find((s) => s.sh_type === 2)!;
const rela = info.sections.find((s) => s.sh_type === SHT_RELA)!;
const text = info.sections.find((s) => info.sectionName(s) === '.text.show_val_kb')!;

/** The message a reader ends with on `buf`, or 'ok'. */
function outcome(read: () => void): string {
  try {
    read();
    return 'ok';
  } catch (e) {
    if (!(e instanceof ElfFormatError)) throw e;
    return e.describe();
  }
}

/** CompactElf as the diff uses it: parse, then every relocation section's entries. */
function readCompact(buf: Buffer): void {
  const e = CompactElf.parse(buf, 'bad.o');
  for (let i = 1; i < e.shnum; i++) if (e.type(i) === SHT_RELA || e.type(i) === SHT_REL) e.relocationCount(i);
}

/** Single faults: each a damaged copy of a real object. */
const FAULTS: Array<[string, (b: Buffer) => void]> = [
  ['not ELF', (b) => { b[0] = 0x20; }],
  ['32-bit', (b) => { b[4] = 1; }],
  ['big-endian', (b) => { b[5] = 2; }],
  ['unknown class', (b) => { b[4] = 7; }],
  ['e_shentsize', (b) => { b.writeUInt16LE(40, 0x3a); }],
  ['e_shoff past the end', (b) => { b.writeBigUInt64LE(BigInt(b.length + 8), 0x28); }],
  ['e_shoff too large', (b) => { b.writeBigUInt64LE(1n << 60n, 0x28); }],
  ['e_shnum without a table', (b) => { b.writeBigUInt64LE(0n, 0x28); }],
  ['inflated extended count', (b) => { b.writeUInt16LE(0, 0x3c); b.writeBigUInt64LE(0xffffffffffn, info.header.e_shoff + 0x20); }],
  ['e_shstrndx past the count', (b) => { b.writeUInt16LE(500, 0x3e); }],
  ['sh_flags above 32 bits', (b) => { b.writeUInt32LE(1, text.headerOffset + 0x0c); }],
  ['sh_size too large', (b) => { b.writeBigUInt64LE(1n << 60n, text.headerOffset + 0x20); }],
  ['contents past the end', (b) => { b.writeBigUInt64LE(BigInt(b.length + 10), text.headerOffset + 0x18); }],
  ['sh_name outside the name table', (b) => { b.writeUInt32LE(0xfffff, text.headerOffset); }],
  ['sh_link past the count', (b) => { b.writeUInt32LE(60000, symtab.headerOffset + 0x28); }],
  ['sh_info past the count', (b) => { b.writeUInt32LE(60000, rela.headerOffset + 0x2c); }],
  ['symtab linked to itself', (b) => { b.writeUInt32LE(symtab.index, symtab.headerOffset + 0x28); }],
  ['symtab entry size', (b) => { b.writeBigUInt64LE(0n, symtab.headerOffset + 0x38); }],
  ['symbol name outside the strings', (b) => { b.writeUInt32LE(0xffffff, symtab.sh_offset + 24 * 3); }],
  ['symbol section index', (b) => { b.writeUInt16LE(60000, symtab.sh_offset + 24 * 3 + 6); }],
  ['SHN_XINDEX without a table', (b) => { b.writeUInt16LE(0xffff, symtab.sh_offset + 24 * 3 + 6); }],
  ['relocation entry size', (b) => { b.writeBigUInt64LE(16n, rela.headerOffset + 0x38); }],
  ['relocation symbol past the table', (b) => { b.writeUInt32LE(99999, rela.sh_offset + 12); }],
  ['relocation table link', (b) => { b.writeUInt32LE(text.index, rela.headerOffset + 0x28); }],
];

describe('CompactElf and ElfFile/ElfObject reject the same files with the same messages', () => {
  test.each(FAULTS)('%s', (_name, damage) => {
    const b = copy();
    damage(b);
    const strict = outcome(() => ElfObject.read(b, 'bad.o'));
    expect(strict).not.toBe('ok');
    expect(outcome(() => readCompact(b))).toBe(strict);
    // ElfFile is tolerant past the header and section table; where it refuses, it says the same.
    const tolerant = outcome(() => ElfFile.parse(b, 'bad.o'));
    if (tolerant !== 'ok') expect(tolerant).toBe(strict);
  });

  test('the intact object is accepted by all three', () => {
    expect(outcome(() => ElfObject.read(copy(), 'ok.o'))).toBe('ok');
    expect(outcome(() => readCompact(copy()))).toBe('ok');
  });
});

describe('CompactElf reads what ElfFile reads', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kelp-compact-'));
  const file = join(dir, 'sample.o');
  writeFileSync(file, sample);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([['read whole', () => CompactElf.parse(sample, file)], ['read on demand', () => CompactElf.open(file)]])('%s', (_how, make) => {
    const e = make();
    try {
      expect(e.shnum).toBe(info.shnum);
      expect(e.shstrndx).toBe(info.shstrndx);
      expect(e.symtab).toBe(symtab.index);
      for (const s of info.sections) {
        expect([e.name(s.index), e.type(s.index), e.flags(s.index), e.offset(s.index), e.size(s.index), e.link(s.index), e.info(s.index), e.align(s.index), e.entsize(s.index)])
          .toEqual([info.sectionName(s), s.sh_type, s.sh_flags, s.sh_offset, s.sh_size, s.sh_link, s.sh_info, s.sh_addralign, s.sh_entsize]);
        expect(e.headerOffset(s.index)).toBe(s.headerOffset);
      }
      const t = info.symbolTable(symtab.index);
      expect(e.nsym).toBe(t.count);
      for (let i = 1; i < t.count; i++) {
        expect([e.symName(i), e.symBind(i), e.symType(i), e.symOther(i), e.symValueExact(i), e.symSizeExact(i)])
          .toEqual([t.name(i), t.bind(i), t.type(i), t.other(i), t.value(i), t.size(i)]);
        if (!t.isSpecial(i)) expect(e.symShndx(i)).toBe(t.sectionIndex(i));
      }
      for (const s of info.sections) {
        if (s.sh_type !== SHT_RELA) continue;
        const r = info.relocations(s);
        expect(e.relocationCount(s.index)).toBe(r.count);
        for (let k = 0; k < r.count; k++) {
          expect([BigInt(e.relOffset(s.index, k)), e.relType(s.index, k), e.relSymbol(s.index, k), e.relAddendExact(s.index, k)])
            .toEqual([r.offset(k), r.type(k), r.symbol(k), r.addend(k)]);
        }
      }
      expect(e.data(text.index).equals(info.sectionData(text))).toBe(true);
      expect(e.readRegion(text.sh_offset, text.sh_size).equals(info.sectionData(text))).toBe(true);
    } finally {
      e.close();
    }
  });

  test('on demand, only the sections asked for are read', () => {
    const e = CompactElf.open(file);
    try {
      expect(e.isLoaded(symtab.index)).toBe(true);
      expect(e.isLoaded(text.index)).toBe(false);
      // A region looked at through readRegion is not loaded; data() loads the section.
      expect(e.readRegion(text.sh_offset, text.sh_size).equals(info.sectionData(text))).toBe(true);
      expect(e.isLoaded(text.index)).toBe(false);
      expect(e.data(text.index).equals(info.sectionData(text))).toBe(true);
      expect(e.isLoaded(text.index)).toBe(true);
    } finally {
      e.close();
    }
  });

  test('a file that is not ELF fails on demand as it does whole', () => {
    const bad = join(dir, 'bad.o');
    writeFileSync(bad, 'not an object at all, just text that is long enough to hold a header........');
    expect(outcome(() => CompactElf.open(bad))).toBe(`${bad}: file: not an ELF file`);
  });
});
