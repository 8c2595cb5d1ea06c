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
