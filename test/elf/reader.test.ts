/** The reader refuses malformed files with a typed error naming the file, the structure and the offset. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfFormatError } from '../../elf/errors.js';
import { ElfObject } from '../../elf/model.js';
import { ElfFile } from '../../elf/reader.js';
import { KPATCH_UNIT_DIR } from '../support/paths.js';

const sample = readFileSync(join(KPATCH_UNIT_DIR, 'data-new.ORIG.o'));
const copy = () => Buffer.from(sample);

function expectElfError(buf: Buffer, pattern: RegExp): ElfFormatError {
  let caught: unknown;
  try {
    ElfObject.read(buf, 'bad.o');
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ElfFormatError);
  const err = caught as ElfFormatError;
  expect(err.file).toBe('bad.o');
  expect(err.describe()).toMatch(/^bad\.o: /);
  expect(err.describe()).toMatch(pattern);
  return err;
}

describe('reader', () => {
  test('reads the file header and extended counts', () => {
    const elf = ElfFile.parse(sample, 'ok.o');
    expect(elf.header.e_type).toBe(1);
    expect(elf.header.e_machine).toBe(62);
    expect(elf.shnum).toBe(elf.header.e_shnum);
    expect(elf.sectionName(elf.sections[elf.shstrndx])).toBe('.shstrtab');
  });

  test('not ELF, 32-bit and big-endian files get clear messages', () => {
    expectElfError(Buffer.from('#!/bin/sh\necho hi\n'), /not an ELF file/);
    const b32 = copy(); b32[4] = 1;
    expectElfError(b32, /32-bit ELF/);
    const be = copy(); be[5] = 2;
    expectElfError(be, /big-endian/);
  });

  test('truncated files', () => {
    expectElfError(sample.subarray(0, 40), /truncated/);
    expectElfError(sample.subarray(0, sample.length - 100), /section header table/);
    expectElfError(sample.subarray(0, 2000), /section header table/);
  });

  test('inflated counts are checked before anything is allocated', () => {
    const b = copy();
    b.writeUInt16LE(0, 0x3c); // e_shnum 0: the count moves to section 0's sh_size
    const shoff = Number(b.readBigUInt64LE(0x28));
    b.writeBigUInt64LE(0xffffffffffn, shoff + 0x20);
    const err = expectElfError(b, /do not fit in the file/);
    expect(err.offset).toBe(shoff);
  });

  test('section contents past the end of the file', () => {
    const b = copy();
    const elf = ElfFile.parse(b, 'x');
    const text = elf.sections.find((s) => elf.sectionName(s) === '.text.show_val_kb')!;
    b.writeBigUInt64LE(BigInt(b.length + 10), text.headerOffset + 0x18);
    expectElfError(b, new RegExp(`section ${text.index} at offset 0x[0-9a-f]+: contents .* extend past the end of the file`));
  });

  test('bad links and entry sizes', () => {
    const elf = ElfFile.parse(sample, 'x');
    const symtab = elf.sections.find((s) => s.sh_type === 2)!;
    const circ = copy();
    circ.writeUInt32LE(symtab.index, symtab.headerOffset + 0x28); // symtab linked to itself
    expectElfError(circ, /points at itself/);
    const zero = copy();
    zero.writeBigUInt64LE(0n, symtab.headerOffset + 0x38);
    expectElfError(zero, /sh_entsize is 0/);
    const far = copy();
    far.writeUInt32LE(60000, symtab.headerOffset + 0x28);
    expectElfError(far, /\(\.symtab\) at offset 0x[0-9a-f]+: sh_link 60000 is not a valid section/);
    const shstr = copy();
    shstr.writeUInt16LE(500, 0x3e);
    expectElfError(shstr, /section name table index 500/);
  });

  test('a relocation naming a symbol past the table', () => {
    const elf = ElfFile.parse(sample, 'x');
    const rela = elf.sections.find((s) => s.sh_type === 4)!;
    const b = copy();
    b.writeUInt32LE(99999, rela.sh_offset + 12);
    expectElfError(b, /names symbol 99999, past the symbol count/);
  });
});
