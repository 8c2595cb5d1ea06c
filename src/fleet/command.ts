/**
 * The fleet side of `kelp build`: options checked, releases selected, every
 * release built (fleet.ts), the table on stderr, the summary on stdout with
 * --json. Returns the exit code of the worst outcome (outcome.ts).
 */
import { KelpError } from '../errors.js';
import { defaultModuleName } from '../build/validate.js';
import { jobsPerRelease, runFleet } from './fleet.js';
import { parsePatchFor } from './release-list.js';
import { selectReleases } from './select.js';

/** The `kelp build` options a fleet build reads. */
export interface FleetCliOptions {
  release: string[]; releases?: string; all?: boolean; suite?: string; flavour?: string; patchFor: string[];
  sourcedir?: string; kdir?: string; ootModule?: string; target?: string; symbols?: string; symvers?: string; kernel?: string;
  skipCompilerCheck?: boolean; name?: string; output?: string; replace: boolean; jobs?: number; keepTmp?: boolean; json?: boolean;
  verify?: boolean; check: string[]; expect: string[]; expectDisabled: string[]; timeout?: number; fuzz?: number; cache?: boolean; quiet?: boolean;
}

/** Options that name one kernel's files, which no fleet shares. */
const ONE_KERNEL: Array<[keyof FleetCliOptions, string]> = [
  ['sourcedir', '--sourcedir'], ['kdir', '--kdir'], ['ootModule', '--oot-module'], ['target', '--target'],
  ['symbols', '--symbols'], ['symvers', '--symvers'], ['kernel', '--kernel'],
];

/** The options every release's child build gets. */
function childArgs(o: FleetCliOptions, name: string, parallel: number): string[] {
  const a = ['--name', name, '--jobs', String(jobsPerRelease(parallel))];
  if (o.skipCompilerCheck) a.push('--skip-compiler-check');
  if (!o.replace) a.push('--no-replace');
  if (o.keepTmp) a.push('--keep-tmp');
  if (o.cache === false) a.push('--no-cache');
  if (o.verify) a.push('--verify');
  for (const c of o.check) a.push('--check', c);
  for (const e of o.expect) a.push('--expect', e);
  for (const e of o.expectDisabled) a.push('--expect-disabled', e);
  if (o.timeout !== undefined) a.push('--timeout', String(o.timeout));
  if (o.fuzz !== undefined) a.push('--fuzz', String(o.fuzz));
  return a;
}

/** Runs a fleet build; returns the process exit code. */
export async function fleetBuild(patches: string[], o: FleetCliOptions): Promise<number> {
  for (const [k, flag] of ONE_KERNEL) if (o[k] !== undefined) throw new KelpError(`${flag}: names one kernel's files; a fleet build fetches each release's own (drop ${flag})`);
  const say = (l: string) => { if (!o.quiet) process.stderr.write(`kelp: ${l}\n`); };
  const patchFor = parsePatchFor(o.patchFor);
  const releases = await selectReleases(o, say);
  for (const r of patchFor.keys()) if (!releases.includes(r)) throw new KelpError(`--patch-for ${r}: not one of the releases built`);
  const parallel = o.jobs ?? 1;
  const name = o.name ?? defaultModuleName(patches[0]!);
  const { summary, table, path } = await runFleet({ patches, releases, patchFor, outdir: o.output ?? '.', name, parallel, args: childArgs(o, name, parallel), say });
  process.stderr.write(table);
  if (o.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else process.stdout.write(`${path}: ${summary.releases.length} release(s), worst outcome: ${summary.worst}\n`);
  return summary.exitCode;
}
