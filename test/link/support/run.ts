/** Running readelf, nm, modinfo and the kelp CLI from kelp link's tests. */
import { spawnSync } from 'node:child_process';

export function runStatus(cmd: string, args: string[]): { stdout: string; stderr: string; status: number } {
  const r = spawnSync(cmd, args, { encoding: 'latin1', maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: 'C' } });
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '', status: r.status ?? -1 };
}

export function run(cmd: string, args: string[]): string {
  const r = runStatus(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
