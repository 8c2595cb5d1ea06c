/**
 * The tree facts kelp build computes once per kernel tree and configuration
 * (then cached): the configured objects from the Makefiles (GNU make reading
 * every directory's Kbuild/Makefile with auto.conf) and the include index of
 * their sources, on the prepared Debian 6.1 tree, uncached. Goals: each under
 * 15 s. Prints the sizes and the load average.
 */
import { loadavg } from 'node:os';
import { configuredObjects } from '../../src/kernel/configured.js';
import { buildIncludeIndex } from '../../src/kernel/includes.js';
import { fetchTarget } from '../../src/target/fetch.js';
import { goal } from './measure.js';

const target = await fetchTarget({ source: true, progress: (l) => process.stdout.write(`fetch: ${l}\n`) });
const tree = target.source!;
process.stdout.write(`load average before: ${loadavg().map((l) => l.toFixed(2)).join(' ')} (${target.release})\n`);
let t = Date.now();
const conf = await configuredObjects(tree, null);
const listing = (Date.now() - t) / 1000;
process.stdout.write(`configured objects: ${conf.objects.size} in ${conf.dirs.length} directories, ${conf.modules.length} modules, ${listing.toFixed(1)} s\n`);
t = Date.now();
const index = await buildIncludeIndex(tree, conf);
const scan = (Date.now() - t) / 1000;
process.stdout.write(`include index: ${index.files.length} files, ${index.includes.reduce((n, a) => n + a.length, 0)} edges, ${scan.toFixed(1)} s\n`);
process.stdout.write(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
const ok1 = goal('configured objects from the Makefiles, uncached, under 15 s', listing < 15, `${listing.toFixed(1)} s`);
const ok2 = goal('include index of the configured sources, uncached, under 15 s', scan < 15, `${scan.toFixed(1)} s`);
process.exitCode = ok1 && ok2 ? 0 : 1;
