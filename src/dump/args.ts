/**
 * readelf 2.40's command line, parsed the way its getopt_long call does:
 * short flags bundled (`-hlS`), `-xNAME` and `-x NAME`, long options and
 * their unique abbreviations (`--file-h`), `--opt=value`, operands anywhere
 * and `--` ending the options. Usage errors, -H and -v end the run with
 * readelf's texts and exit status; what readelf only complains about
 * (a bad -U or -C argument) is returned as messages and the run goes on.
 * `prog` stands where readelf prints its own name. `@file` arguments are
 * expanded first (response-files.ts).
 */
import { emptyOptions, setAll, hasDisplayOption, type DumpOptions, type DemangleStyle, type UnicodeDisplay } from './options.js';
import { usageText, VERSION_TEXT } from './usage.js';
import { expandResponseFiles } from './response-files.js';

export type ParsedArgs =
  | { kind: 'run'; opts: DumpOptions; files: string[]; /** stderr text readelf prints before the files. */ messages: string }
  | { kind: 'exit'; stdout: string; stderr: string; status: number }
  /** An option of the DWARF family (or another kelp does not implement). */
  | { kind: 'unsupported'; option: string; reason?: string };

type HasArg = 0 | 1 | 2; // none, required, optional

/** readelf 2.40's long options in its table order (glibc lists ambiguous matches in this order); `key` names what they do. */
const LONG_OPTIONS: ReadonlyArray<readonly [string, HasArg, string]> = [
  ['arch-specific', 0, 'A'], ['all', 0, 'a'], ['archive-index', 0, 'c'],
  ['ctf', 1, 'ctf'], ['ctf-symbols', 1, 'ctf-symbols'], ['ctf-strings', 1, 'ctf-strings'], ['ctf-parent', 1, 'ctf-parent'],
  ['demangle', 2, 'C'], ['dynamic', 0, 'd'], ['decompress', 0, 'z'], ['dyn-syms', 0, 'dyn-syms'], ['debug-dump', 2, 'debug-dump'],
  ['dwarf-depth', 1, 'dwarf-depth'], ['dwarf-start', 1, 'dwarf-start'], ['dwarf-check', 0, 'dwarf-check'],
  ['enable-checks', 0, 'L'],
  ['file-header', 0, 'h'], ['full-section-name', 0, 'N'],
  ['headers', 0, 'e'], ['help', 0, 'H'], ['histogram', 0, 'I'], ['hex-dump', 1, 'x'],
  ['lint', 0, 'L'], ['lto-syms', 0, 'lto-syms'],
  ['notes', 0, 'n'], ['no-demangle', 0, 'no-demangle'], ['no-recurse-limit', 0, 'no-recurse-limit'], ['no-recursion-limit', 0, 'no-recurse-limit'],
  ['program-headers', 0, 'l'], ['process-links', 0, 'P'],
  ['relocated-dump', 1, 'R'], ['relocs', 0, 'r'], ['recurse-limit', 0, 'recurse-limit'],
  ['section-groups', 0, 'g'], ['segments', 0, 'l'], ['string-dump', 1, 'p'], ['section-headers', 0, 'S'], ['sections', 0, 'S'],
  ['symbols', 0, 's'], ['syms', 0, 's'], ['silent-truncation', 0, 'T'], ['section-details', 0, 't'], ['sframe', 2, 'sframe'], ['sym-base', 2, 'sym-base'],
  ['use-dynamic', 0, 'D'], ['unicode', 1, 'U'], ['unwind', 0, 'u'],
  ['version-info', 0, 'V'], ['version', 0, 'v'],
  ['wide', 0, 'W'],
];

/** readelf's short options: letter and whether it takes an argument (as its getopt string). */
const SHORT_OPTIONS: ReadonlyMap<string, HasArg> = new Map([
  ...[...'ACDHILNPSTVWacdeghilnrstuvz'].map((c) => [c, 0] as [string, HasArg]),
  ['R', 1], ['U', 1], ['p', 1], ['x', 1], ['w', 2],
]);

/** Options kelp leaves to readelf: the DWARF family, CTF, SFrame and LTO symbol tables. */
const UNSUPPORTED = new Set(['w', 'debug-dump', 'dwarf-depth', 'dwarf-start', 'dwarf-check', 'ctf', 'ctf-symbols', 'ctf-strings', 'ctf-parent', 'sframe', 'lto-syms']);

const UNICODE: Record<string, UnicodeDisplay> = {
  default: 'default', d: 'default', locale: 'locale', l: 'locale', escape: 'escape', e: 'escape',
  invalid: 'invalid', i: 'invalid', hex: 'hex', x: 'hex', highlight: 'highlight', h: 'highlight',
};

const STYLES = new Set<DemangleStyle>(['none', 'auto', 'gnu-v3', 'java', 'gnat', 'dlang', 'rust']);

/** C strtoul(s, NULL, 0) for the small values --sym-base cares about (leading blanks, sign, 0x/0 prefixes, trailing junk). */
export function strtoul0(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?/.exec(s)!;
  const digits = m[2];
  if (digits === undefined) return 0;
  let v: number;
  if (/^0[xX]/.test(digits)) v = parseInt(digits.slice(2), 16);
  else if (digits.startsWith('0')) v = digits.length > 1 ? parseInt(digits, 8) : 0;
  else v = Number(digits);
  return m[1] === '-' ? -v : v;
}

/** Parses readelf-style arguments (without the program name). */
export function parseReadelfArgs(argv: readonly string[], prog = 'kelp'): ParsedArgs {
  const expanded = expandResponseFiles(argv, prog);
  if (expanded.kind === 'exit') return { kind: 'exit', stdout: '', stderr: expanded.stderr, status: expanded.status };
  const args = expanded.args;
  const usageError = (line: string): ParsedArgs => ({ kind: 'exit', stdout: '', stderr: line + usageText(false), status: 1 });
  if (args.length === 0) return usageError('');
  const o = emptyOptions();
  const files: string[] = [];
  let messages = '';
  const apply = (key: string, arg: string | undefined): ParsedArgs | undefined => {
    if (UNSUPPORTED.has(key)) return { kind: 'unsupported', option: key.length === 1 ? `-${key}` : `--${key}` };
    switch (key) {
      case 'a': setAll(o); break;
      case 'h': o.fileHeader = true; break;
      case 'l': o.programHeaders = true; break;
      case 'S': o.sectionHeaders = true; break;
      case 'g': o.sectionGroups = true; break;
      case 't': case 'N': o.sectionHeaders = o.sectionDetails = true; break;
      case 'e': o.fileHeader = o.programHeaders = o.sectionHeaders = true; break;
      case 's': o.syms = true; break;
      case 'dyn-syms': o.dynSyms = true; break;
      case 'r': o.relocs = true; break;
      case 'n': o.notes = true; break;
      case 'd': o.dynamic = true; break;
      case 'V': o.versionInfo = true; break;
      case 'I': o.histogram = true; break;
      case 'A': o.archSpecific = true; break;
      case 'u': o.unwind = true; break;
      case 'c': o.archiveIndex = true; break;
      case 'D': o.useDynamic = true; break;
      case 'z': o.decompress = true; break;
      case 'W': o.wide = true; break;
      case 'L': o.lint = true; break;
      case 'T': o.silentTruncation = true; break;
      case 'P': o.processLinks = true; break;
      case 'x': o.hexDumps.push(arg!); o.sectionRequests.push({ kind: 'x', arg: arg! }); break;
      case 'p': o.stringDumps.push(arg!); o.sectionRequests.push({ kind: 'p', arg: arg! }); break;
      case 'R': o.relocatedDumps.push(arg!); o.sectionRequests.push({ kind: 'R', arg: arg! }); break;
      case 'U': {
        const u = UNICODE[arg!];
        if (u === undefined) messages += `${prog}: Error: invalid argument to -U/--unicode: ${arg}`;
        else o.unicode = u;
        break;
      }
      case 'C':
        o.demangle = true;
        if (arg !== undefined) {
          if (arg === 'java' || arg === 'gnat') return { kind: 'unsupported', option: `--demangle=${arg}`, reason: 'kelp demangles C++ (auto, gnu-v3) only' };
          if (STYLES.has(arg as DemangleStyle)) o.demangleStyle = arg as DemangleStyle;
          else messages += `${prog}: Error: unknown demangling style \`${arg}'`;
        }
        break;
      case 'no-demangle': o.demangle = false; break;
      case 'recurse-limit': case 'no-recurse-limit': break;
      case 'sym-base': {
        const b = arg === undefined ? 0 : strtoul0(arg);
        o.symBase = b === 8 || b === 10 || b === 16 ? b : 0;
        break;
      }
      case 'H': return { kind: 'exit', stdout: usageText(true), stderr: messages, status: 0 };
      case 'v': return { kind: 'exit', stdout: VERSION_TEXT, stderr: messages, status: 0 };
      case 'i': return { kind: 'exit', stdout: '', stderr: `${messages}${prog}: Error: Invalid option '-i'\n${usageText(false)}`, status: 1 };
    }
    return undefined;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      files.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const body = a.slice(2);
      const eq = body.indexOf('=');
      const name = eq < 0 ? body : body.slice(0, eq);
      let found = LONG_OPTIONS.find(([n]) => n === name);
      if (!found) {
        const matches = LONG_OPTIONS.filter(([n]) => n.startsWith(name));
        if (matches.length === 0) return usageError(`${prog}: unrecognized option '${a}'\n`);
        const first = matches[0];
        const differing = matches.filter((m) => m !== first && (m[1] !== first[1] || m[2] !== first[2]));
        if (differing.length > 0) {
          const listed = matches.filter((m) => m === first || differing.includes(m));
          return usageError(`${prog}: option '${a}' is ambiguous; possibilities:${listed.map(([n]) => ` '--${n}'`).join('')}\n`);
        }
        found = first;
      }
      const [full, hasArg, key] = found;
      let arg: string | undefined;
      if (eq >= 0) {
        if (hasArg === 0) return usageError(`${prog}: option '--${full}' doesn't allow an argument\n`);
        arg = body.slice(eq + 1);
      } else if (hasArg === 1) {
        if (i + 1 >= args.length) return usageError(`${prog}: option '--${full}' requires an argument\n`);
        arg = args[++i];
      }
      const r = apply(key, arg);
      if (r) return r;
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let k = 1; k < a.length; k++) {
        const c = a[k];
        const hasArg = SHORT_OPTIONS.get(c);
        if (hasArg === undefined) return usageError(`${prog}: invalid option -- '${c}'\n`);
        let arg: string | undefined;
        if (hasArg !== 0) {
          if (k + 1 < a.length) arg = a.slice(k + 1);
          else if (hasArg === 1) {
            if (i + 1 >= args.length) return usageError(`${prog}: option requires an argument -- '${c}'\n`);
            arg = args[++i];
          }
        }
        const r = apply(c, arg);
        if (r) return r;
        if (hasArg !== 0) break;
      }
      continue;
    }
    files.push(a);
  }
  if (!hasDisplayOption(o)) return { kind: 'exit', stdout: '', stderr: messages + usageText(false), status: 1 };
  // -L alone is readelf's check_all: every display (a file with DWARF or LTO symbols kelp then refuses, as it would -w).
  if (o.lint && !hasDisplayOption({ ...o, lint: false })) {
    setAll(o);
    o.dynSyms = o.archiveIndex = o.checkAll = true;
  }
  if (files.length === 0) return { kind: 'exit', stdout: '', stderr: `${messages}${prog}: Warning: Nothing to do.\n${usageText(false)}`, status: 1 };
  return { kind: 'run', opts: o, files, messages };
}
