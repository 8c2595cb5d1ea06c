/**
 * A struct or union's layout as the compiler laid it out: read from an
 * object's DWARF (the kernel builds with -g) with pahole, then reduced to what
 * the layout is made of — each member's offset (bit offset for bit fields),
 * size and type, the nesting of anonymous members, explicit alignments and
 * the total size — with member names left out (a rename moves no data),
 * typedefs resolved and embedded structs expanded (pahole --expand_types:
 * `u32` and `unsigned int` are one type; an embedded struct that changes
 * changes its container).
 *
 * DWARF has no trace of sparse's annotations (__rcu, __user, __iomem,
 * __percpu, __force expand to nothing, or to type attributes, for gcc), nor of
 * comments, whitespace or members under a disabled CONFIG option, so two
 * layouts read this way differ only when the running kernel's objects would.
 */
import { execFile } from 'node:child_process';
import { ElfFile } from '../../elf/reader.js';
import { ByteSource } from '../../elf/source.js';
import { requireTool } from '../target/tools.js';

/** Qualifiers change no layout. */
const QUALIFIERS = /\b(?:const|volatile|restrict)\b/g;

/** The declared name taken out of one pahole member declaration (`int (*f)(int)`, `u8 key[16]`, `unsigned int x:3`, `} pair __attribute__((...))`). */
function withoutName(decl: string): string {
  let d = decl.replace(QUALIFIERS, ' ');
  const attrs: string[] = [];
  d = d.replace(/\s*__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)/g, (a) => { attrs.push(a.trim()); return ''; });
  // Function pointers: (*name)(args) -> (*)(args).
  d = d.replace(/\(\s*\*\s*[A-Za-z_]\w*\s*\)/, '(*)');
  // The last identifier before array bounds and a bit-field width is the name.
  d = d.replace(/([A-Za-z_]\w*)((?:\s*\[[^\]]*\])*\s*(?::\s*\d+)?)\s*$/, (all, id: string, rest: string) => (/^(?:int|long|char|short|unsigned|signed|void|_Bool|float|double)$/.test(id) ? all : rest));
  return [d.replace(/\s+/g, ' ').trim(), ...attrs].join(' ');
}

/**
 * The layout lines of one type out of `pahole -C NAME` output (empty when the
 * type is not in it): `OFFSET[:BIT] SIZE TYPE-WITHOUT-NAME` per member, the
 * braces of nested anonymous members, `size N` and the type's own attributes.
 */
export function paholeLayout(text: string): string[] {
  const out: string[] = [];
  const lines = text.split('\n');
  const first = lines.findIndex((l) => /^(?:struct|union|typedef (?:struct|union))\b.*\{\s*$/.test(l));
  if (first < 0) return out;
  out.push(lines[first]!.startsWith('union') || lines[first]!.startsWith('typedef union') ? 'union' : 'struct');
  for (const raw of lines.slice(first + 1)) {
    // -E names the typedef a member's type came from in a comment before it: the resolved type decides.
    const l = raw.replace(/\/\*\s*typedef\b[^*]*\*\/\s*/g, '').trim();
    if (l === '') continue;
    if (l.startsWith('/*')) {
      const size = /^\/\*\s*size:\s*(\d+)/.exec(l);
      if (size) out.push(`size ${size[1]}`);
      continue;
    }
    const member = /^(.*?);?\s*\/\*\s*(\d+)(?::\s*(\d+))?\s+(\d+)\s*\*\/$/.exec(l);
    if (member) {
      out.push(`${member[2]}${member[3] === undefined ? '' : `:${member[3]}`} ${member[4]} ${withoutName(member[1]!.replace(/;$/, ''))}`);
      continue;
    }
    // `union {`, `struct {`, and the closing brace of the type with its attributes.
    out.push(withoutName(l.replace(/;$/, '')));
  }
  return out;
}

/** True when the object carries DWARF (.debug_info): without it no layout can be read. */
export function hasDwarf(object: string): boolean {
  let src: ByteSource | undefined;
  try {
    src = ByteSource.open(object);
    const info = ElfFile.parse(src, object).findSectionByName('.debug_info');
    return info !== undefined && info.sh_size > 0;
  } catch {
    return false;
  } finally {
    src?.close();
  }
}

/** `struct foo` / `union foo` / `foo_t` -> the name pahole's -C takes. */
function paholeName(type: string): string {
  return type.replace(/^(?:struct|union)\s+/, '');
}

/**
 * The layout of `type` in `object`'s DWARF, or undefined when the object's
 * compilation unit has no definition of it (the type is unused there).
 */
export function dwarfLayout(object: string, type: string): Promise<string[] | undefined> {
  const pahole = requireTool('pahole');
  return new Promise((resolvePromise, reject) => {
    execFile(pahole, ['-F', 'dwarf', '--expand_types', '-C', paholeName(type), object], { maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && stdout === '') {
        if (/not found/.test(stderr)) resolvePromise(undefined);
        else reject(new Error(`pahole ${object}: ${stderr.trim() || err.message}`));
        return;
      }
      const layout = paholeLayout(stdout);
      resolvePromise(layout.length > 0 ? layout : undefined);
    });
  });
}

/** `T`, `T [1]` or `T [0]` (a one- or zero-element array) and `T []` -> T; else undefined. */
function elementOf(type: string, flexible: boolean): string | undefined {
  const m = /^(.*?)\s*(\[\s*\d*\s*\])?$/.exec(type.trim());
  if (!m) return undefined;
  if (flexible) return m[2] !== undefined && /^\[\s*\]$/.test(m[2]) ? m[1] : undefined;
  return m[2] === undefined || /^\[\s*[01]\s*\]$/.test(m[2]) ? m[1] : undefined;
}

/**
 * True when two layouts (paholeLayout lines) differ only in that the type's
 * last member, a scalar or a one- or zero-element array at offset N, became a
 * flexible array of the same element type at the same offset (`__u8 data;` or
 * `__u8 data[1];` -> `__u8 data[];`), and in the size that follows from it:
 * every member stays where it was, so code reads an existing object's bytes
 * as before. What still differs is sizeof(), which is what such fixes change,
 * and the alignment a packed attribute no longer needed gave (the caller
 * checks that no container or array of the type exists, where both matter).
 */
export function flexibleTail(before: readonly string[], after: readonly string[]): boolean {
  if (before.length !== after.length) return false;
  // The last member line: the last `OFFSET SIZE TYPE` line before the closing brace, at the type's own level.
  const lastMember = (l: readonly string[]): number => {
    let depth = 0;
    let last = -1;
    for (let i = 1; i < l.length; i++) {
      const x = l[i]!;
      // An embedded aggregate's closing brace carries its offset and size (`8 16 }`).
      if (/^\d+(?::\d+)? \d+ \}/.test(x)) { depth--; if (depth === 0) last = -1; continue; }
      if (/^\d+(?::\d+)? \d+ /.test(x)) { if (depth === 0) last = i; continue; }
      if (/\{$/.test(x)) depth++;
      else if (x.startsWith('}')) { if (depth === 0) break; depth--; if (depth === 0) last = -1; }
    }
    return last;
  };
  const i = lastMember(before);
  if (i < 0 || lastMember(after) !== i) return false;
  // The type's closing line may lose `__attribute__((__packed__))`: pahole leaves it out when the type
  // needs no packing any more (its members' offsets, compared here, are what packing decides).
  const close = before.length - 1;
  if (!before[close]!.startsWith('}') || !after[close]!.startsWith('}')) return false;
  for (let j = 0; j < close; j++) {
    if (j === i || before[j]!.startsWith('size ')) continue;
    if (before[j] !== after[j]) return false;
  }
  const b = /^(\d+) (\d+) (.*)$/.exec(before[i]!);
  const a = /^(\d+) (\d+) (.*)$/.exec(after[i]!);
  if (!b || !a || b[1] !== a[1] || a[2] !== '0') return false;
  const be = elementOf(b[3]!, false);
  const ae = elementOf(a[3]!, true);
  if (be === undefined || ae === undefined || be !== ae) return false;
  const size = (l: readonly string[]) => Number(l.find((x) => x.startsWith('size '))?.slice(5) ?? NaN);
  return size(after) <= size(before);
}

/**
 * The struct and union types of `object`'s DWARF that hold a `type` by value
 * (pahole --contains): a container's own layout would move with it.
 */
export function containersOf(object: string, type: string): Promise<string[]> {
  const pahole = requireTool('pahole');
  return new Promise((resolvePromise, reject) => {
    execFile(pahole, ['-F', 'dwarf', `--contains=${paholeName(type)}`, object], { maxBuffer: 64 << 20, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err && stdout === '') {
        if (/not found/.test(stderr)) resolvePromise([]);
        else reject(new Error(`pahole ${object}: ${stderr.trim() || err.message}`));
        return;
      }
      resolvePromise(stdout.split('\n').map((l) => l.trim()).filter((l) => l !== ''));
    });
  });
}
