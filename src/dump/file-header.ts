/** readelf -h: the ELF file header. */
import type { DumpContext } from './context.js';
import { DumpUnsupportedError, fileTypeName, machineName, osabiName, isX86_64 } from './names.js';
import { hex } from './format.js';
import { isPie } from './dynamic.js';
import { programHeadersUnreadable } from './segment-checks.js';

export function printFileHeader(ctx: DumpContext): void {
  const { elf, file } = ctx;
  const h = elf.header;
  let magic = '';
  for (let i = 0; i < 16; i++) magic += hex(h.e_ident[i], 2) + ' ';
  const ver = h.ei_version === 1 ? '(current)' : h.ei_version !== 0 ? '<unknown>' : '';
  if (h.e_flags !== 0 && !isX86_64(h.e_machine)) {
    throw new DumpUnsupportedError(file, `e_flags 0x${h.e_flags.toString(16)} of machine ${h.e_machine}`);
  }
  // Section 0 (what readelf read of it, when the table as a whole could not be read) holds extended numbering.
  // The file type of an ET_DYN file depends on its dynamic segment: readelf tries to read the program headers.
  if (h.e_type === 3) programHeadersUnreadable(ctx);
  const s0 = elf.sections.length > 0 ? elf.sections[0] : elf.unreadableSections?.first;
  let phnum = String(h.e_phnum);
  if (s0 && h.e_phnum === 0xffff && s0.sh_info !== 0) phnum += ` (${s0.sh_info})`;
  let shnum = String(h.e_shnum);
  let count = h.e_shnum;
  if (s0 && h.e_shnum === 0) {
    count = s0.sh_size;
    shnum += ` (${count})`;
  }
  let shstrndx = String(h.e_shstrndx);
  let ndx = h.e_shstrndx;
  if (s0 && h.e_shstrndx === 0xffff) {
    ndx = s0.sh_link;
    shstrndx += ` (${ndx})`;
  }
  if (ndx !== 0 && ndx >= count) shstrndx += ' <corrupt: out of range>';
  ctx.out.w(
    'ELF Header:\n'
    + `  Magic:   ${magic}\n`
    + '  Class:                             ELF64\n'
    + '  Data:                              2\'s complement, little endian\n'
    + `  Version:                           ${h.ei_version} ${ver}\n`
    + `  OS/ABI:                            ${osabiName(h.ei_osabi, h.e_machine, file)}\n`
    + `  ABI Version:                       ${h.ei_abiversion}\n`
    + `  Type:                              ${fileTypeName(h.e_type, isPie(ctx))}\n`
    + `  Machine:                           ${machineName(h.e_machine)}\n`
    + `  Version:                           0x${h.e_version.toString(16)}\n`
    + `  Entry point address:               0x${h.e_entry.toString(16)}\n`
    + `  Start of program headers:          ${BigInt.asIntN(64, h.e_phoffRaw)} (bytes into file)\n`
    + `  Start of section headers:          ${BigInt.asIntN(64, h.e_shoffRaw)} (bytes into file)\n`
    + `  Flags:                             0x${h.e_flags.toString(16)}\n`
    + `  Size of this header:               ${h.e_ehsize} (bytes)\n`
    + `  Size of program headers:           ${h.e_phentsize} (bytes)\n`
    + `  Number of program headers:         ${phnum}\n`
    + `  Size of section headers:           ${h.e_shentsize} (bytes)\n`
    + `  Number of section headers:         ${shnum}\n`
    + `  Section header string table index: ${shstrndx}\n`,
  );
}
