/** Compiles small C pairs with kernel-like flags and runs `kelp diff` on them. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfObject } from '../../elf/model.js';
import type { DiffMeta } from '../../src/patch/meta.js';

export const ROOT = process.cwd();
export const KELP = join(ROOT, 'bin/kelp');
const INCLUDE = join(ROOT, 'test/fixtures/diff');
export const CFLAGS = ['-O2', '-fno-pie', '-mcmodel=kernel', '-mno-red-zone', '-mfentry', '-pg', '-mrecord-mcount', '-ffunction-sections', '-fdata-sections'];

export function workdir(): string {
  return mkdtempSync(join(tmpdir(), 'kelp-diff-'));
}

export function compile(dir: string, name: string, source: string, extra: string[] = []): string {
  const c = join(dir, `${name}.c`);
  const o = join(dir, `${name}.o`);
  writeFileSync(c, `#include "common.h"\n${source}`);
  execFileSync('gcc', [...CFLAGS, ...extra, '-I', INCLUDE, '-c', c, '-o', o]);
  return o;
}

export interface DiffRun {
  status: number | null;
  stderr: string;
  out: string;
  obj: ElfObject | null;
  meta: DiffMeta | null;
}

export function kelpDiff(orig: string, patched: string, out: string, args: string[] = []): DiffRun {
  const r = spawnSync('node', [KELP, 'diff', orig, patched, '-o', out, ...args], { encoding: 'utf8' });
  let obj: ElfObject | null = null;
  let meta: DiffMeta | null = null;
  if (existsSync(out)) {
    obj = ElfObject.read(readFileSync(out), out);
    const m = obj.sections.find((s) => s.name === '.kelp.meta');
    if (m) meta = JSON.parse(m.data.toString('utf8')) as DiffMeta;
  }
  return { status: r.status, stderr: r.stderr, out, obj, meta };
}

/** Compiles ORIG and PATCHED from source and diffs them. */
export function diffC(orig: string, patched: string, args: string[] = [], extra: string[] = []): DiffRun {
  const dir = workdir();
  const o = compile(dir, 'orig', orig, extra);
  const p = compile(dir, 'patched', patched, extra);
  return kelpDiff(o, p, join(dir, 'out.o'), args);
}

/** Names of the functions the output defines (nm t/T). */
export function definedFunctions(run: DiffRun): string[] {
  return run.obj!.symbols.filter((s) => s.type === 2 && s.section !== null).map((s) => s.name).sort();
}

export function undefinedNames(run: DiffRun): string[] {
  return run.obj!.symbols.filter((s) => s.isUndefined && s.name !== '').map((s) => s.name).sort();
}
