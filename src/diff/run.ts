/**
 * `kelp diff`: the passes, in order. Reads ORIG and PATCHED, correlates,
 * compares, includes what the changes need, keeps the special-section
 * entries, builds the output and reports. Returns the exit status; writes
 * OUT atomically and only on success.
 */
import { readFileSync } from 'node:fs';
import { CompactElf } from '../../elf/compact.js';
import { basename } from 'node:path';
import { ExitCode, KelpError } from '../errors.js';
import { writeObject } from '../../elf/writer.js';
import { EM_X86_64, ET_REL } from '../../elf/constants.js';
import { LineMap, type LineMapData } from '../patch/lines.js';
import { kernelModuleName } from '../kmod/names.js';
import { META_VERSION, type DiffMeta } from '../patch/meta.js';
import { parseSymbolTable } from '../symbols/read.js';
import { importedNamespaces, modinfoEntriesOfImage, moduleDepends } from '../target/modinfo.js';
import { readMaybeCompressed } from '../util/decompress.js';
import { SymbolIndex } from '../symbols/table.js';
import { Symvers, readSymvers } from '../symbols/symvers.js';
import { canonicalise } from './canonical.js';
import { compareData, compareFunctions } from './compare.js';
import type { DiffContext } from './context.js';
import { correlate } from './correlate.js';
import { includeChanges, type Inclusion } from './include.js';
import { checkIndirectBranchTargets, readIbtFacts } from './ibt.js';
import { applyIgnoredSections, readMarkers } from './markers.js';
import { Kelf } from './model.js';
import { buildOutput } from './output.js';
import { formatReport, makeReport, oldColdParts, type DiffReport } from './report.js';
import { specialSpecs } from './sections.js';
import { SIZE_ENV } from '../../rela/special-sections.js';
import { selectSpecialEntries } from './special.js';
import { analyseStructure } from './structure.js';
import { writeFileAtomicSync } from '../util/atomic.js';

export interface DiffOptions {
  orig: string;
  patched: string;
  output: string;
  target?: string;
  symbols?: string;
  symvers?: string;
  /** The target's vmlinux or bzImage (vmlinuz): which functions keep their ENDBR under IBT. */
  kernel?: string;
  /** The System.map naming --kernel's addresses (default --symbols for a vmlinux target). */
  kernelMap?: string;
  /** SECTION=BYTES overrides. */
  entrySizes?: string[];
  json?: string;
  verbose?: boolean;
  /** Environment for the kpatch-style size variables (default process.env). */
  env?: Record<string, string | undefined>;
  /** The patches that made PATCHED from ORIG, in order: line-number immediates must move as the patch moves lines. */
  patches?: string[];
  /** The same, precomputed (kelp build passes the line moves of the files it patched). */
  lineMap?: LineMapData;
  /** Where the human report goes (default stderr). */
  log?: (text: string) => void;
  /** Global symbols other objects of the same livepatch newly define (resolved inside the livepatch module). */
  provided?: string[];
  /** This object's new globals that other objects of the livepatch use: the output is needed for them alone. */
  usedElsewhere?: string[];
}

export interface DiffResult {
  exitCode: ExitCode;
  report: DiffReport;
}

function entrySizes(opts: DiffOptions): Map<string, number> {
  const m = new Map<string, number>();
  const env = opts.env ?? process.env;
  for (const [k, sec] of SIZE_ENV) {
    const v = env[k];
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new KelpError(`${k}=${v}: not a positive entry size`, k);
    m.set(sec, n);
  }
  for (const e of opts.entrySizes ?? []) {
    const m2 = /^([^=]+)=(\d+)$/.exec(e);
    if (!m2 || Number(m2[2]) <= 0) throw new KelpError(`--entry-size ${e}: expected SECTION=BYTES`);
    m.set(m2[1], Number(m2[2]));
  }
  return m;
}

function load(file: string): Kelf {
  const e = CompactElf.open(file);
  try {
    const h = e.header;
    if (h.e_type !== ET_REL) throw new KelpError('not a relocatable object (ET_REL)', file);
    if (h.e_machine !== EM_X86_64) throw new KelpError(`machine ${h.e_machine} is not supported (x86-64 only)`, file);
    if (!e.symtab) throw new KelpError('has no symbol table', file);
    return new Kelf(file, e);
  } catch (err) {
    e.close();
    throw err;
  }
}

/** The line map from --patch files or the one given; null when neither. */
function lineMapOf(opts: DiffOptions): LineMap | null {
  if (opts.lineMap !== undefined) return LineMap.from(opts.lineMap);
  if (opts.patches === undefined || opts.patches.length === 0) return null;
  const texts: string[] = [];
  for (const f of opts.patches) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new KelpError(`cannot read the patch: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, f);
    }
    let map: LineMap;
    try {
      map = LineMap.fromPatchTexts([text]);
    } catch (e) {
      throw new KelpError(`not a unified diff: ${(e as Error).message}`, f);
    }
    if (map.files.length === 0) throw new KelpError('changes no existing file (not a unified diff?)', f);
    texts.push(text);
  }
  return LineMap.fromPatchTexts(texts);
}

export function runDiff(opts: DiffOptions): DiffResult {
  const open: Kelf[] = [];
  try {
    return diffObjects(opts, open);
  } finally {
    for (const k of open) k.close();
  }
}

function diffObjects(opts: DiffOptions, open: Kelf[]): DiffResult {
  const log = opts.log ?? ((t: string) => process.stderr.write(t));
  const target = kernelModuleName(opts.target ?? 'vmlinux');
  const sizes = entrySizes(opts);
  const specs = specialSpecs(sizes);
  const orig = load(opts.orig);
  open.push(orig);
  const patched = load(opts.patched);
  open.push(patched);
  const symbolsImage = opts.symbols ? readMaybeCompressed(opts.symbols) : undefined;
  // A module target's .ko (--symbols): what it imports and depends on.
  const targetInfo = target !== 'vmlinux' && symbolsImage ? modinfoEntriesOfImage(symbolsImage) : undefined;
  const ctx: DiffContext = {
    orig, patched, target, specs, explicitSizes: new Set(opts.entrySizes ? [...sizes.keys()] : []), refusals: [], notes: [], warnings: [], verbose: opts.verbose === true,
    symbols: symbolsImage ? new SymbolIndex(parseSymbolTable(symbolsImage, opts.symbols!)) : null,
    symvers: opts.symvers ? readSymvers(opts.symvers) : new Symvers(),
    lines: lineMapOf(opts), ibt: null,
    provided: new Set(opts.provided ?? []),
    targetImports: targetInfo && importedNamespaces(targetInfo),
    targetDepends: targetInfo && moduleDepends(targetInfo),
  };
  ctx.ibt = readIbtFacts(opts, orig, patched, target, ctx.symbols);
  if (!ctx.symbols) ctx.notes.push('no --symbols: every target symbol is assumed unique (sympos 0)');

  // The passes.
  for (const k of [orig, patched]) analyseStructure(k);
  for (const k of [orig, patched]) canonicalise(k);
  const markers = readMarkers(ctx);
  applyIgnoredSections(patched);
  correlate(ctx);
  compareData(ctx);
  compareFunctions(ctx);
  const inc: Inclusion = includeChanges(ctx, markers);
  selectSpecialEntries(ctx, inc);
  // Copies the IBT rule makes bring their own references and table entries.
  while (checkIndirectBranchTargets(ctx, inc)) {
    inc.drain();
    selectSpecialEntries(ctx, inc);
  }
  for (const d of inc.ownDescriptors) {
    ctx.warnings.push(`${patched.file}: ${patched.symName(d)}: the dynamic debug site gets the livepatch's own descriptor (enable it with 'module <livepatch module> +p' in dynamic debug control, not through ${target})`);
  }

  const O = orig;
  const P = patched;
  const meta: DiffMeta = {
    version: META_VERSION,
    target,
    source: basename(opts.patched),
    functions: inc.functions.map((f) => ({ name: P.symName(f), oldName: O.symName(P.symTwin[f]), sympos: 0 })),
    newFunctions: inc.newFunctions.map((f) => P.symName(f)),
    newData: inc.newData.map((d) => P.symName(d)),
    klpSymbols: [],
    callbacks: markers.callbacks,
    coldParts: oldColdParts(ctx, inc).flatMap((c) => c.parts),
  };
  // klp_func.old_sympos: the replaced function's position in the target.
  meta.functions.forEach((fn, i) => {
    const f = inc.functions[i];
    fn.sympos = inc.sympos(fn.oldName, !O.isLocal(P.symTwin[f]), f);
  });

  const usedElsewhere = new Set(opts.usedElsewhere ?? []);
  let result: DiffReport['result'];
  let exitCode: ExitCode;
  let out: Buffer | null = null;
  if (ctx.refusals.length > 0) {
    result = 'refused';
    exitCode = ExitCode.Refused;
  } else if (meta.functions.length === 0 && meta.newFunctions.length === 0 && !meta.newData.some((d) => usedElsewhere.has(d)) && Object.keys(meta.callbacks).length === 0) {
    result = 'no-change';
    exitCode = ExitCode.NoChange;
  } else {
    const obj = buildOutput(ctx, inc, meta, opts.output);
    if (ctx.refusals.length > 0) {
      result = 'refused';
      exitCode = ExitCode.Refused;
    } else {
      out = writeObject(obj);
      result = 'changed';
      exitCode = ExitCode.Ok;
    }
  }
  const report = makeReport(ctx, inc, result);
  if (out) writeFileAtomicSync(opts.output, out);
  if (opts.json) writeFileAtomicSync(opts.json, Buffer.from(`${JSON.stringify(report, null, 2)}\n`));
  log(formatReport(report, ctx.verbose));
  return { exitCode, report };
}
