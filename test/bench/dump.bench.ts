/**
 * `kelp dump` on the node binary (~185k symbols) against readelf, both as
 * whole processes run alternately: `-s -W` (median of 5 runs each) and
 * `-a -W` (everything -a prints: headers, dynamic section, relocations,
 * symbols, histogram, versions, notes; median of 3).
 * Goals for each: kelp takes no longer than readelf, its peak RSS stays below
 * twice the file's size, and the two runs are identical (stdout byte for byte,
 * the same messages on stderr, the same exit status).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { goal, median, timeProcess } from './measure.js';

const target = existsSync('/usr/bin/node') ? '/usr/bin/node' : process.execPath;
const kelp = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..', 'bin', 'kelp');
const size = statSync(target).size;

function bench(args: string[], runs: number): boolean {
  const label = args.join(' ');
  const a = spawnSync('readelf', [...args, target], { maxBuffer: 1 << 30 });
  const b = spawnSync(process.execPath, [kelp, 'dump', ...args, target], { maxBuffer: 1 << 30 });
  // Identical: the same stdout, the same messages (readelf's name read as kelp's) and the same exit status.
  const messages = (x: Buffer): string => x.toString('latin1').replace(/readelf: /g, 'kelp: ');
  const identical = a.status === b.status && a.stdout.equals(b.stdout) && messages(a.stderr) === messages(b.stderr);
  const lines = a.stdout.toString('latin1').split('\n').length;
  process.stdout.write(`${target}: ${(size / 1048576).toFixed(1)} MiB, ${lines} lines of ${label} output; outputs ${identical ? 'identical' : 'DIFFER'}\n`);
  const rt: number[] = [];
  const kt: number[] = [];
  const kr: number[] = [];
  const rr: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = timeProcess('readelf', [...args, target]);
    const k = timeProcess(process.execPath, [kelp, 'dump', ...args, target]);
    rt.push(r.seconds); rr.push(r.maxRssKiB);
    kt.push(k.seconds); kr.push(k.maxRssKiB);
  }
  const rtm = median(rt);
  const ktm = median(kt);
  const krm = Math.max(...kr);
  process.stdout.write(`readelf ${label}: median ${rtm.toFixed(2)} s, peak RSS ${(Math.max(...rr) / 1024).toFixed(0)} MiB\n`);
  process.stdout.write(`kelp dump ${label}: median ${ktm.toFixed(2)} s, peak RSS ${(krm / 1024).toFixed(0)} MiB (runs: ${kt.map((t) => t.toFixed(2)).join(' ')})\n`);
  return [
    goal(`identical ${label} output`, identical, identical ? 'byte for byte' : 'outputs differ'),
    goal(`kelp dump ${label} no slower than readelf ${label}`, ktm <= rtm, `${ktm.toFixed(2)} s vs ${rtm.toFixed(2)} s`),
    goal(`kelp dump ${label}: peak memory below twice the file size`, krm * 1024 < 2 * size, `${(krm / 1024).toFixed(0)} MiB vs ${(2 * size / 1048576).toFixed(0)} MiB`),
  ].every(Boolean);
}

const ok = [bench(['-s', '-W'], 5), bench(['-a', '-W'], 3)].every(Boolean);
process.exitCode = ok ? 0 : 1;
