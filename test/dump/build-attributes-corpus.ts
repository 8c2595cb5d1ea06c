/**
 * Objects with GNU build attribute notes (annobin's "GA" notes), written in
 * assembly: every attribute kind readelf decodes with every value type, the
 * PIC and stack protection names, numbers of 0 to 9 bytes, custom attribute
 * names around the column widths, non-printable and unknown attribute bytes,
 * version 1 names without "GA", corrupt names, empty, 4-, 8-, 16-byte and
 * invalid descriptors, and symbols of every type and binding at the addresses
 * the notes name (readelf picks one by type, binding and size). Besides the
 * relocatable objects: an executable linked from one (notes naming its real
 * functions) and the same executable without section headers (notes read
 * from the PT_NOTE segment).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfFile } from '../../elf/reader.js';
import { run } from '../support/tools.js';

const OPEN = 0x100;
const FUNC = 0x101;

type Bytes = number[];

const str = (s: string): Bytes => [...Buffer.from(s, 'latin1')];

/** A version 2 name: "GA", the type character, the attribute (an id or a custom name), the value, NUL. */
function ga(type: '$' | '*' | '+' | '!', attr: number | string, value?: string | bigint | Bytes): Bytes {
  const b = [...str('GA' + type), ...(typeof attr === 'number' ? [attr] : [...str(attr), 0])];
  if (typeof value === 'string') b.push(...str(value));
  else if (typeof value === 'bigint') {
    for (let v = value; v > 0n; v >>= 8n) b.push(Number(v & 0xffn));
  } else if (value) b.push(...value);
  b.push(0);
  return b;
}

interface Note { name: Bytes; type: number; desc?: [bigint | string, 4 | 8][]; namesz?: number }

function notesAsm(section: string, notes: Note[], flags = ''): string {
  const lines = [`.section ${section},"${flags}",%note`, '.balign 4'];
  for (const n of notes) {
    const words = (n.desc ?? []).map(([v, size]) => `${size === 8 ? '.quad' : '.long'} ${v}`);
    const descsz = (n.desc ?? []).reduce((a, [, size]) => a + size, 0);
    lines.push(`.long ${n.namesz ?? n.name.length}, ${descsz}, ${n.type}`);
    if (n.name.length > 0) lines.push(`.byte ${n.name.join(',')}`);
    lines.push('.balign 4', ...words, '.balign 4');
  }
  return lines.join('\n') + '\n';
}

const q = (start: number | string, end: number | string = 0): [bigint | string, 8][] => [[typeof start === 'number' ? BigInt(start) : start, 8], [typeof end === 'number' ? BigInt(end) : end, 8]];
const l = (start: number, end?: number): [bigint, 4][] => (end === undefined ? [[BigInt(start), 4]] : [[BigInt(start), 4], [BigInt(end), 4]]);

/** Notes covering the name decoding; the descriptors walk the range rules. */
function nameNotes(): Note[] {
  const names: Bytes[] = [
    ga('$', 1, '3p1113'), ga('$', 1, ''), ga('$', 1, 'a version string longer than both columns'),
    ...[0n, 1n, 2n, 3n, 4n, 5n, 255n].map((v) => ga('*', 2, v)), ga('*', 2, [0]), ga('+', 2), ga('!', 2), ga('$', 2, 'strong'),
    ga('+', 3), ga('!', 3), ga('$', 3, 'full'), ga('*', 3, 1n),
    ga('*', 4, 0x1000n), ga('*', 4, 0n), ga('*', 4, [0]), ga('*', 4, 0xffffffffffffffffn), ga('*', 4, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    ga('*', 4, 0x123456789n), ga('!', 4),
    ga('$', 5, 'running gcc 8.5.0 20210514'), ga('$', 5, 'gcc'), ga('$', 5, 'annobin gcc 8.5.0 20210514'), ga('$', 5, 'plugin name: gcc-annobin'),
    ga('*', 6, 0x12n), ga('$', 6, 'lp64'), ga('+', 6), ga('*', 6, 0n),
    ...[0n, 1n, 2n, 3n, 4n, 5n, 0x100n].map((v) => ga('*', 7, v)), ga('$', 7, 'pie'),
    ga('+', 8), ga('!', 8), ga('*', 8, 1n),
    ga('*', 'GOW', 0x2052an), ga('+', 'stack_clash'), ga('!', 'stack_realign'), ga('+', 'GLIBCXX_ASSERTIONS'), ga('*', 'FORTIFY', 0xffn),
    ga('*', 'cf_protection', 8n), ga('+', 'omit_frame_pointer'), ga('$', 'custom', 'value'), ga('*', 'zero', 0n), ga('*', 'zero1', [0]),
    ga('*', 'x', 0xfn), ga('$', 'a_custom_attribute_name_longer_than_28', 'v'),
    // Custom names that leave 2, 1, 0 and -1 columns (narrow: 20, wide: 28).
    ga('*', 'abcdefghijklm', 0x1234n), ga('*', 'abcdefghijklmn', 0x1234n), ga('*', 'abcdefghijklmno', 0x1234n), ga('*', 'abcdefghijklmnop', 0x1234n),
    ga('$', 'abcdefghijklm', 'xy'), ga('$', 'abcdefghijklmn', 'xy'), ga('+', 'abcdefghijklmno'), ga('!', 'abcdefghijklmnop'),
    ga('*', 'abcdefghijklmnopqrstu', 0x1234n), ga('*', 'abcdefghijklmnopqrstuv', 0x1234n), ga('*', 'abcdefghijklmnopqrstuvw', 0x1234n),
    ga('$', 'abcdefghijklmnopqrstu', 'xy'), ga('$', 'abcdefghijklmnopqrstuv', 'xy'), ga('+', 'abcdefghijklmnopqrstuvw'), ga('*', 'abcdefghijklmnopqrstuvwx', 0n),
    ga('*', 'abcdefghijkl', 0xabcdefn), ga('*', 'abcdefghijklmnopqr', 0xabcdefn), ga('*', 'abcdefghijklmnopqrs', 0xabcdefn),
    // Non-printable and unknown attribute bytes, and a custom name that is one letter.
    ga('*', 0x09, 1n), ga('$', 0x7f, 'x'), ga('+', 0x80), ga('!', 0xff), ga('*', 0, 3n), ga('$', 0x1f, ''), ga('*', 9), ga('+', 'z'), ga('$', 'q', 'r'),
    ga('*', 0x20, 1n),
    // Strings with control characters and bytes above 0x7f.
    ga('$', 5, 'tab\there'), ga('$', 5, 'caf\xc3\xa9 \xe2\x82\xac'), ga('$', 'k\x01y', 'v'),
    // Version 1 names (no "GA" prefix).
    [...str('$'), 1, ...str('3p4'), 0], [...str('*'), 7, 3, 0], [...str('+'), 8, 0], [...str('!GOW'), 0], [...str('*'), 4, 0x10, 0x20, 0],
  ];
  const descs: (Note['desc'])[] = [q(0x401000, 0x401100), undefined, l(0x401200), l(0x401300, 0x401310), undefined, q(0x401400), q(0, 0), undefined];
  const out: Note[] = [];
  names.forEach((name, i) => {
    out.push({ name, type: i % 3 === 2 ? FUNC : OPEN, desc: descs[i % descs.length] });
  });
  return out;
}

/** Notes that exercise odd name fields and descriptor sizes. */
function oddNotes(): Note[] {
  return [
    { name: str('GA\0'), type: OPEN, desc: q(0x500000, 0x500010) },
    { name: str('GA'), type: FUNC },
    { name: str('*'), type: OPEN },
    { name: str('+\0'), type: OPEN, desc: l(0x500020) },
    { name: str('GA\0\0'), type: OPEN },
    { name: str('\0abc'), type: FUNC, desc: l(0x500030, 0x500040) },
    { name: str('GA$'), type: OPEN },
    { name: str('GA$\x01'), type: OPEN },
    { name: str('GA*abc'), type: OPEN },
    { name: str('GA*abc\0'), type: FUNC },
    { name: str('GA*\x07'), type: OPEN },
    { name: str('GA+stack_clash'), type: OPEN },
    { name: str('GA?\x01x\0'), type: OPEN, desc: q(0x500050) },
    { name: str('GAXY\0'), type: FUNC },
    { name: ga('$', 1, '3p4'), type: OPEN, desc: [[0x500060n, 8], [0n, 4]] },
    { name: ga('$', 1, '3p4'), type: FUNC, desc: [[0x500060n, 4], [0n, 4], [0n, 4]] },
    { name: ga('*', 2, 3n), type: 0x102, desc: q(0x500070) },
    { name: ga('$', 1, '3p4'), type: OPEN },
    { name: ga('$', 1, '3p4'), type: FUNC },
    // Empty names: readelf looks at the bytes after the header (the descriptor or the next note).
    { name: [], type: OPEN, desc: q(0x500080, 0x500090) },
    { name: [], type: FUNC },
    { name: [], type: OPEN, desc: q('0x2a2a', 0x5000a0) },
    { name: [], type: FUNC, desc: q('0x4147', 0x5000a0) },
    { name: [], type: OPEN, desc: l(0x244147) },
    { name: ga('$', 1, '3p4'), type: OPEN },
    // An empty name before "GNU": readelf names the type generically but decodes the descriptor as GNU's.
    { name: [], type: 3, desc: [[0x554e47n, 4], [0x12345678n, 4]] },
    { name: str('GNU\0'), type: 1, desc: [[0n, 4], [3n, 4], [0xf8000010n, 4], [0x80000000n, 4]] },
  ];
}

/** Symbols of every type and binding; names starting with "file_" become STT_FILE afterwards. */
const SYMBOLS: { name: string; value: number; type?: string; bind?: 'globl' | 'weak'; size?: number }[] = [];
/** The notes looking them up: for each address an OPEN and a func note. */
function lookupNotes(): Note[] {
  const groups: [string, string | undefined, 'globl' | 'weak' | undefined, number | undefined][][] = [
    [['n', undefined, undefined, undefined]],
    [['n', undefined, 'globl', undefined]],
    [['n', undefined, 'weak', undefined]],
    [['o', 'object', undefined, 16]],
    [['o', 'object', 'weak', undefined]],
    [['f', 'function', undefined, 32]],
    [['f', 'function', 'globl', undefined], ['f2', 'function', undefined, 8]],
    [['file_a', undefined, undefined, undefined]],
    [['n', undefined, undefined, undefined], ['g', undefined, 'globl', undefined], ['o', 'object', undefined, undefined], ['file_b', undefined, 'weak', undefined]],
    [['o', 'object', 'globl', 24], ['o2', 'object', undefined, 40]],
    [['file_c', undefined, undefined, 12], ['g', undefined, 'globl', 4]],
    [['g', 'tls_object', 'globl', undefined], ['o', 'object', undefined, undefined], ['g2', undefined, 'globl', undefined]],
    [['$d', 'object', undefined, 4], ['$', undefined, undefined, undefined]],
    [['$ab', 'object', undefined, undefined]],
    [['i', 'gnu_indirect_function', 'globl', undefined]],
  ];
  const notes: Note[] = [];
  groups.forEach((g, k) => {
    const value = 0x600000 + k * 0x100;
    g.forEach(([name, type, bind, size]) => SYMBOLS.push({ name: `${name}${name.startsWith('$') ? '' : `_${k}`}`, value, type, bind, size }));
    notes.push({ name: ga('$', 1, '3p4'), type: OPEN, desc: q(value) }, { name: ga('$', 1, '3p4'), type: FUNC, desc: q(value) });
    notes.push({ name: ga('$', 1, '3p4'), type: OPEN, desc: l(value, value + 0x80) }, { name: ga('$', 1, '3p4'), type: FUNC, desc: l(value) });
  });
  // Seeded random sets of 1-5 symbols of any type, binding and size at one address (st_info set afterwards).
  let seed = 0x6a5eed;
  const rnd = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const types = [0, 1, 2, 3, 4, 5, 6, 7, 10, 13];
  const binds = [0, 1, 2, 10, 13];
  for (let k = 0; k < 160; k++) {
    const value = 0x700000 + k * 0x100;
    const n = 1 + rnd(5);
    for (let j = 0; j < n; j++) {
      const name = `r${k}_${j}`;
      RANDOM_INFO.set(name, (binds[rnd(binds.length)] << 4) | types[rnd(types.length)]);
      SYMBOLS.push({ name, value, size: rnd(3) === 0 ? 1 + rnd(64) : undefined });
    }
    notes.push({ name: ga('$', 1, '3p4'), type: OPEN, desc: q(value) }, { name: ga('$', 1, '3p4'), type: FUNC, desc: q(value) });
  }
  // annobin biases file-start symbols by 2: a symbol at start + 2 names an OPEN note.
  SYMBOLS.push({ name: '.annobin_biased.c', value: 0x610002, size: 0x10, type: 'object' });
  notes.push({ name: ga('$', 1, '3p4'), type: OPEN, desc: q(0x610000) }, { name: ga('$', 1, '3p4'), type: FUNC, desc: q(0x610000) });
  notes.push({ name: ga('$', 1, '3p4'), type: OPEN, desc: q(0x610000, 0x610020) });
  return notes;
}

function symbolsAsm(): string {
  const lines: string[] = [];
  for (const s of SYMBOLS) {
    const n = JSON.stringify(s.name);
    if (s.bind) lines.push(`.${s.bind} ${n}`);
    if (s.type) lines.push(`.type ${n}, @${s.type}`);
    if (s.size !== undefined) lines.push(`.size ${n}, ${s.size}`);
    lines.push(`.set ${n}, ${s.value}`);
  }
  return lines.join('\n') + '\n';
}

/** st_info of the random symbols. */
const RANDOM_INFO = new Map<string, number>();

/** Turns the symbols named file_* into STT_FILE ones (gas cannot) and sets the random symbols' st_info. */
function patchSymbols(path: string): void {
  const buf = readFileSync(path);
  const elf = ElfFile.parse(buf, path);
  for (const s of elf.sections) {
    if (s.sh_type !== 2) continue;
    const t = elf.symbolTable(s.index);
    for (let i = 0; i < t.count; i++) {
      const name = t.nameOrUndefined(i) ?? '';
      const o = s.sh_offset + i * 24 + 4;
      if (name.startsWith('file_')) buf[o] = (buf[o] & 0xf0) | 4;
      const info = RANDOM_INFO.get(name);
      if (info !== undefined) buf[o] = info;
    }
  }
  writeFileSync(path, buf);
}

const C_SOURCE = `
int helper(int x) { return x * 3; }
static int local_fn(int x) { return helper(x) + 1; }
int main(int argc, char **argv) { (void)argv; return local_fn(argc); }
`;

const LINKED_NOTES = `
.pushsection .gnu.build.attributes,"",%note
.balign 4
.long 11, 16, 0x100
.asciz "GA$\\0013p1113"
.balign 4
.quad .annobin_start, .annobin_end
.long 13, 0, 0x100
.byte 'G','A','*',7,3,0,0,0,0,0,0,0,0
.balign 4
.long 11, 16, 0x101
.asciz "GA$\\0013p1113"
.balign 4
.quad helper, helper_end
.long 6, 0, 0x101
.byte 'G','A','+',8,0,0
.balign 4
.long 11, 16, 0x101
.asciz "GA$\\0013p1113"
.balign 4
.quad main, 0
.long 6, 8, 0x100
.byte 'G','A','!',3,0,0
.balign 4
.quad .annobin_start + 2
.popsection
.pushsection .note.gnu.build.attributes.loaded,"a",%note
.balign 4
.long 11, 16, 0x100
.asciz "GA$\\0013p1113"
.balign 4
.quad .annobin_start, .annobin_end
.long 15, 0, 0x100
.asciz "GA$\\005gcc 12.2.0"
.balign 4
.popsection
`;

/** Builds the objects; returns their paths (relocatable objects, the linked executable, and it without section headers). */
export function buildAttributeCorpus(dir: string): string[] {
  const files: string[] = [];
  const names = join(dir, 'ga-names.s');
  writeFileSync(names, notesAsm('.gnu.build.attributes', nameNotes()) + notesAsm('.gnu.build.attributes.odd', oddNotes()));
  const namesObj = join(dir, 'ga-names.o');
  run('as', [names, '-o', namesObj], { cwd: dir });
  files.push(namesObj);

  SYMBOLS.length = 0;
  RANDOM_INFO.clear();
  const lookup = lookupNotes();
  const syms = join(dir, 'ga-symbols.s');
  writeFileSync(syms, symbolsAsm() + notesAsm('.gnu.build.attributes', lookup));
  const symsObj = join(dir, 'ga-symbols.o');
  run('as', [syms, '-o', symsObj], { cwd: dir });
  patchSymbols(symsObj);
  files.push(symsObj);

  const c = join(dir, 'ga-prog.c');
  writeFileSync(c, C_SOURCE);
  const s = join(dir, 'ga-prog.s');
  run('gcc', ['-O1', '-S', c, '-o', s], { cwd: dir });
  const asm = readFileSync(s, 'latin1')
    .replace(/^(\s*\.size\s+helper,.*)$/m, '$1\nhelper_end:')
    .replace(/^(\s*\.text)$/m, '$1\n.annobin_start:\n.type .annobin_start, @object\n.size .annobin_start, 0x20')
    + '\n.text\n.annobin_end:\n' + LINKED_NOTES;
  writeFileSync(s, asm);
  const exe = join(dir, 'ga-prog');
  run('gcc', [s, '-o', exe], { cwd: dir });
  files.push(exe);

  // Without section headers readelf reads notes from the PT_NOTE segments (and finds no symbols).
  const buf = readFileSync(exe);
  buf.writeBigUInt64LE(0n, 0x28);
  buf.writeUInt16LE(0, 0x3c);
  buf.writeUInt16LE(0, 0x3e);
  const bare = join(dir, 'ga-prog-noshdr');
  writeFileSync(bare, buf);
  files.push(bare);
  return files;
}
