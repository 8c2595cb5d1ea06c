/** Building objects from scratch with the model and writing them: what readelf and ld -r see. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ET_REL, EM_X86_64, R_X86_64_PLT32, R_X86_64_64, SHF_ALLOC, SHF_EXECINSTR, SHF_INFO_LINK, SHF_WRITE,
  SHN_LIVEPATCH, SHT_NOBITS, SHT_PROGBITS, SHT_RELA, STB_GLOBAL, STB_LOCAL, STT_FUNC, STT_NOTYPE, STT_OBJECT, STT_SECTION,
  SHN_XINDEX, SHT_SYMTAB_SHNDX,
} from '../../elf/constants.js';
import { ElfObject, ElfSymbol, Section } from '../../elf/model.js';
import { ElfFile } from '../../elf/reader.js';
import { writeObject } from '../../elf/writer.js';
import { makeTmpDir } from '../support/tmp.js';
import { run, runStatus } from '../support/tools.js';

const tmp = makeTmpDir('elf-writer');
afterAll(() => tmp.cleanup());

function newObject(): ElfObject {
  const ident = Buffer.alloc(16);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(ident);
  return new ElfObject('new.o', { ident, type: ET_REL, machine: EM_X86_64, version: 1, entry: 0n, flags: 0 });
}

function section(obj: ElfObject, name: string, type: number, flags: number, data: Buffer, align = 1): Section {
  const s = new Section(name, type, flags);
  s.data = data;
  s.align = align;
  return obj.addSection(s);
}

function symbol(obj: ElfObject, name: string, bind: number, type: number, sec: Section | null, value = 0n, size = 0n): ElfSymbol {
  const s = new ElfSymbol(name, bind, type);
  s.section = sec;
  s.value = value;
  s.size = size;
  return obj.addSymbol(s);
}

/** An object with symbols in mixed binding order, a relocation against each kind. */
function buildSample(): ElfObject {
  const obj = newObject();
  // call ext; ret; call local_fn; ret
  const text = section(obj, '.text.f', SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, Buffer.from([0xe8, 0, 0, 0, 0, 0xc3, 0xe8, 0, 0, 0, 0, 0xc3]), 16);
  const data = section(obj, '.data.v', SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, Buffer.alloc(8), 8);
  const bss = new Section('.bss.z', SHT_NOBITS, SHF_ALLOC | SHF_WRITE);
  bss.nobitsSize = 64;
  bss.align = 32;
  obj.addSection(bss);
  const rela = section(obj, '.rela.text.f', SHT_RELA, SHF_INFO_LINK, Buffer.alloc(0), 8);
  rela.entsize = 24;
  rela.infoSection = text;
  const relaData = section(obj, '.rela.data.v', SHT_RELA, SHF_INFO_LINK, Buffer.alloc(0), 8);
  relaData.entsize = 24;
  relaData.infoSection = data;
  // Globals before locals on purpose: the writer must put locals first.
  const f = symbol(obj, 'f', STB_GLOBAL, STT_FUNC, text, 0n, 6n);
  const ext = symbol(obj, 'ext', STB_GLOBAL, STT_NOTYPE, null);
  const local = symbol(obj, 'local_fn', STB_LOCAL, STT_FUNC, text, 6n, 6n);
  const v = symbol(obj, 'v', STB_GLOBAL, STT_OBJECT, data, 0n, 8n);
  const secsym = symbol(obj, '', STB_LOCAL, STT_SECTION, text);
  const klp = symbol(obj, '.klp.sym.vmlinux.saved_command_line,0', STB_GLOBAL, STT_NOTYPE, null);
  klp.shndx = SHN_LIVEPATCH;
  rela.relocations = [
    { offset: 1n, type: R_X86_64_PLT32, symbol: ext, addend: -4n },
    { offset: 7n, type: R_X86_64_PLT32, symbol: local, addend: -4n },
  ];
  relaData.relocations = [{ offset: 0n, type: R_X86_64_64, symbol: secsym, addend: 6n }];
  void f; void v;
  return obj;
}

describe('writer', () => {
  test('locals come first, sh_info names the first global, relocations follow their symbols', () => {
    const obj = buildSample();
    const path = join(tmp.dir, 'sample.o');
    writeFileSync(path, writeObject(obj));
    const syms = run('readelf', ['-s', '-W', path]);
    const lines = syms.split('\n').filter((l) => /^\s+\d+:/.test(l));
    const binds = lines.map((l) => l.split(/\s+/)[5]);
    const firstGlobal = binds.indexOf('GLOBAL');
    expect(firstGlobal).toBeGreaterThan(0);
    expect(binds.slice(firstGlobal).every((b) => b === 'GLOBAL')).toBe(true);
    const elf = ElfFile.parse(readFileSync(path), path);
    const symtab = elf.sections.find((s) => s.sh_type === 2)!;
    expect(symtab.sh_info).toBe(firstGlobal);
    const relocs = run('readelf', ['-r', '-W', path]);
    expect(relocs).toMatch(/R_X86_64_PLT32\s+0000000000000000 ext - 4/);
    expect(relocs).toMatch(/R_X86_64_PLT32\s+0000000000000006 local_fn - 4/);
    expect(relocs).toMatch(/R_X86_64_64\s+0000000000000000 \.text\.f \+ 6/);
    expect(syms).toMatch(/NOTYPE\s+GLOBAL DEFAULT OS \[0xff20\] \.klp\.sym\.vmlinux\.saved_command_line,0/);
    expect(obj.symbols.map((s) => s.index)).toEqual(obj.symbols.map((_, i) => i + 1));
  });

  test('offsets respect every section alignment and ld -r accepts the object', () => {
    const obj = buildSample();
    // ld -r cannot resolve an SHN_LIVEPATCH symbol's section: leave it out for this check.
    obj.symbols = obj.symbols.filter((s) => s.shndx !== SHN_LIVEPATCH);
    const path = join(tmp.dir, 'aligned.o');
    writeFileSync(path, writeObject(obj));
    const elf = ElfFile.parse(readFileSync(path), path);
    for (const s of elf.sections) if (s.sh_addralign > 1) expect(s.sh_offset % s.sh_addralign).toBe(0);
    expect(elf.header.e_shoff % 8).toBe(0);
    const ld = runStatus('ld', ['-r', '-o', join(tmp.dir, 'aligned-ld.o'), path]);
    expect(ld.stderr).toBe('');
    expect(ld.status).toBe(0);
    expect(run('objdump', ['-dr', path])).toContain('R_X86_64_PLT32\text-0x4');
  });

  test('writing is deterministic', () => {
    expect(writeObject(buildSample()).equals(writeObject(buildSample()))).toBe(true);
  });

  test('extended numbering is emitted when sections pass SHN_LORESERVE', () => {
    const obj = newObject();
    const n = 0xff00 + 10;
    for (let i = 0; i < n; i++) {
      const s = section(obj, `.data.v${i}`, SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, Buffer.from([i & 0xff]));
      if (i % 1000 === 0 || i >= n - 3) symbol(obj, `v${i}`, STB_GLOBAL, STT_OBJECT, s, 0n, 1n);
    }
    const buf = writeObject(obj);
    const path = join(tmp.dir, 'xindex.o');
    writeFileSync(path, buf);
    const elf = ElfFile.parse(buf, path);
    expect(elf.header.e_shnum).toBe(0);
    expect(elf.header.e_shstrndx).toBe(SHN_XINDEX);
    expect(elf.shnum).toBe(n + 5); // null, n data sections, .symtab, .symtab_shndx, .strtab, .shstrtab
    expect(elf.sections.some((s) => s.sh_type === SHT_SYMTAB_SHNDX)).toBe(true);
    const syms = run('readelf', ['-s', '-W', path]);
    expect(syms).toMatch(new RegExp(`\\s${n}\\s+v${n - 1}\\n`));
    const back = ElfObject.read(buf, path);
    const last = back.symbols.find((s) => s.name === `v${n - 1}`)!;
    expect(last.section!.name).toBe(`.data.v${n - 1}`);
    expect(last.section!.data[0]).toBe((n - 1) & 0xff);
    expect(runStatus('ld', ['-r', '-o', join(tmp.dir, 'xindex-ld.o'), path]).status).toBe(0);
  });
});
