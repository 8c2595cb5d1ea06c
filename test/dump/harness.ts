/**
 * Running GNU readelf and `kelp dump` side by side: readelf as a process,
 * kelp in-process (runDump) or through bin/kelp, and a byte comparison that
 * names the first differing line and the file it belongs to.
 */
import { spawnSync } from 'node:child_process';
import { runDump, emptyOptions, setAll, type DumpOptions } from '../../src/dump/index.js';
import { localeIsUtf8 } from '../../src/dump/format.js';
import { KELP_BIN } from '../support/paths.js';

export interface ProcResult {
  stdout: Buffer;
  stderr: string;
  status: number;
}

/** Runs /usr/bin/readelf (binutils 2.40) with `args` and `files`. */
export function readelf(args: readonly string[], files: readonly string[], env: NodeJS.ProcessEnv = process.env): ProcResult {
  const r = spawnSync('readelf', [...args, ...files], { env, maxBuffer: 1 << 30, timeout: 120_000 });
  return { stdout: r.stdout ?? Buffer.alloc(0), stderr: (r.stderr ?? Buffer.alloc(0)).toString('latin1'), status: r.status ?? -1 };
}

/** Turns readelf-style arguments (combined short flags, -x/-p with a value) into DumpOptions. */
export function parseArgs(args: readonly string[]): DumpOptions {
  const o = emptyOptions();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const long = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (long) {
      const [, name, value] = long;
      switch (name) {
        case 'file-header': o.fileHeader = true; break;
        case 'program-headers': case 'segments': o.programHeaders = true; break;
        case 'section-headers': case 'sections': o.sectionHeaders = true; break;
        case 'section-groups': o.sectionGroups = true; break;
        case 'syms': case 'symbols': o.syms = true; break;
        case 'relocs': o.relocs = true; break;
        case 'notes': o.notes = true; break;
        case 'wide': o.wide = true; break;
        case 'headers': o.fileHeader = o.programHeaders = o.sectionHeaders = true; break;
        case 'all': setAll(o); break;
        case 'use-dynamic': o.useDynamic = true; break;
        case 'decompress': o.decompress = true; break;
        case 'archive-index': o.archiveIndex = true; break;
        case 'section-details': case 'full-section-name': o.sectionHeaders = o.sectionDetails = true; break;
        case 'dynamic': o.dynamic = true; break;
        case 'version-info': o.versionInfo = true; break;
        case 'dyn-syms': o.dynSyms = true; break;
        case 'histogram': o.histogram = true; break;
        case 'arch-specific': o.archSpecific = true; break;
        case 'unwind': o.unwind = true; break;
        case 'hex-dump': o.hexDumps.push(value ?? args[++i]); break;
        case 'string-dump': o.stringDumps.push(value ?? args[++i]); break;
        default: throw new Error(`test harness: unknown option ${a}`);
      }
      continue;
    }
    if (!a.startsWith('-')) throw new Error(`test harness: not an option: ${a}`);
    for (let k = 1; k < a.length; k++) {
      const c = a[k];
      if (c === 'x' || c === 'p') {
        const v = k + 1 < a.length ? a.slice(k + 1) : args[++i];
        (c === 'x' ? o.hexDumps : o.stringDumps).push(v);
        break;
      }
      switch (c) {
        case 'h': o.fileHeader = true; break;
        case 'l': o.programHeaders = true; break;
        case 'S': o.sectionHeaders = true; break;
        case 'g': o.sectionGroups = true; break;
        case 's': o.syms = true; break;
        case 'r': o.relocs = true; break;
        case 'n': o.notes = true; break;
        case 'W': o.wide = true; break;
        case 'e': o.fileHeader = o.programHeaders = o.sectionHeaders = true; break;
        case 'a': setAll(o); break;
        case 'D': o.useDynamic = true; break;
        case 'z': o.decompress = true; break;
        case 'c': o.archiveIndex = true; break;
        case 't': case 'N': o.sectionHeaders = o.sectionDetails = true; break;
        case 'd': o.dynamic = true; break;
        case 'V': o.versionInfo = true; break;
        case 'I': o.histogram = true; break;
        case 'A': o.archSpecific = true; break;
        case 'u': o.unwind = true; break;
        default: throw new Error(`test harness: unknown flag -${c}`);
      }
    }
  }
  return o;
}

/** Runs `kelp dump` in this process. */
export function kelpInProcess(args: readonly string[], files: readonly string[], opts: { utf8?: boolean; sparseFrom?: number } = {}): ProcResult {
  const chunks: Buffer[] = [];
  let stderr = '';
  const status = runDump(files, parseArgs(args), {
    stdout: (b) => chunks.push(Buffer.from(b)),
    stderr: (l) => { stderr += l; },
    utf8: opts.utf8 ?? localeIsUtf8(),
    sparseFrom: opts.sparseFrom,
  });
  return { stdout: Buffer.concat(chunks), stderr, status };
}

/** Runs `bin/kelp dump` as a process. */
export function kelpProcess(args: readonly string[], files: readonly string[], env: NodeJS.ProcessEnv = process.env): ProcResult {
  const r = spawnSync(process.execPath, [KELP_BIN, 'dump', ...args, ...files], { env, maxBuffer: 1 << 30, timeout: 120_000 });
  return { stdout: r.stdout ?? Buffer.alloc(0), stderr: (r.stderr ?? Buffer.alloc(0)).toString('latin1'), status: r.status ?? -1 };
}

/**
 * Empty when the two outputs are byte-identical; otherwise a short report:
 * the first differing line of each and the `File:` it falls under.
 */
export function difference(expected: Buffer, actual: Buffer, label: string): string {
  if (expected.equals(actual)) return '';
  const e = expected.toString('latin1').split('\n');
  const a = actual.toString('latin1').split('\n');
  let i = 0;
  while (i < e.length && i < a.length && e[i] === a[i]) i++;
  let file = '';
  for (let k = Math.min(i, e.length - 1); k >= 0; k--) {
    if (e[k].startsWith('File: ')) { file = e[k]; break; }
  }
  return `${label}: outputs differ at line ${i + 1}${file ? ` (${file})` : ''}\n  readelf: ${JSON.stringify(e[i] ?? '<end>')}\n  kelp:    ${JSON.stringify(a[i] ?? '<end>')}`;
}
