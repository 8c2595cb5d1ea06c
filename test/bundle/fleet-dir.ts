/**
 * A fleet build's output directory for bundle tests, from real ELF objects
 * with a real .modinfo (test/kelpctl/harness.ts): OUTDIR/<release>/NAME.ko and
 * NAME.json (a build report's `objects`), for the running kernel and others.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildModule, vermagic } from '../kelpctl/harness.js';

export function report(functions: Record<string, string[]>): string {
  const objects = Object.entries(functions).map(([target, fns], i) => ({
    object: `obj${i}.o`, target, result: 'changed', cached: false,
    changedFunctions: fns.map((f) => ({ name: f, oldName: f })), throughCallers: [], newFunctions: [], newData: [], diffBytes: 1,
  }));
  return `${JSON.stringify({ name: 'fix', objects }, null, 2)}\n`;
}

/** Writes DIR/<release>/<file>.ko (livepatch=Y, name) and its report. */
export function addRelease(dir: string, release: string, file = 'livepatch-fix', functions: Record<string, string[]> = { vmlinux: ['cmdline_proc_show'] }, sub = true): string {
  const d = sub ? path.join(dir, release) : dir;
  fs.mkdirSync(d, { recursive: true });
  const ko = buildModule(d, `${file}.ko`, { modinfo: ['license=GPL', 'livepatch=Y', `name=${file.replace(/-/g, '_')}`, vermagic(release)] });
  fs.rmSync(path.join(d, `${file}.ko.c`));
  fs.writeFileSync(path.join(d, `${file}.json`), report(functions));
  return ko;
}
