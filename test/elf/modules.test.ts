/**
 * Round trip of the kernel modules Debian ships (.modinfo, __versions,
 * .gnu.linkonce.this_module, ORC tables): readelf -a, objdump -dr and ld -r.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ElfObject } from '../../elf/model.js';
import { writeObject } from '../../elf/writer.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { run, runStatus } from '../support/tools.js';

const tmp = makeTmpDir('elf-ko');
afterAll(() => tmp.cleanup());

/** Every .ko below `dir`, sorted, so the sample is the same on every run. */
function listModules(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ko')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

let pre: PrereqStatus;
let sample: string[] = [];
beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  const target = await getTarget();
  const all = listModules(join(target.modules, 'kernel'));
  // An even spread over the tree plus the three largest modules.
  const step = Math.max(1, Math.floor(all.length / 24));
  const spread = all.filter((_, i) => i % step === 0);
  const largest = [...all].sort((a, b) => statSync(b).size - statSync(a).size).slice(0, 3);
  sample = [...new Set([...spread, ...largest])];
}, 900_000);

test('Debian kernel modules read and write back identically', () => {
  if (skipUnlessReady(pre)) return;
  expect(sample.length).toBeGreaterThan(20);
  for (const ko of sample) {
    const out = join(tmp.dir, 'rt.ko');
    writeFileSync(out, writeObject(ElfObject.read(readFileSync(ko), ko)));
    const a = run('readelf', ['-a', '-W', ko]).split(ko).join('F');
    const b = run('readelf', ['-a', '-W', out]).split(out).join('F');
    if (a !== b) throw new Error(`${ko}: readelf -a differs after the round trip`);
    const da = run('objdump', ['-dr', ko]).split(ko).join('F');
    const db = run('objdump', ['-dr', out]).split(out).join('F');
    if (da !== db) throw new Error(`${ko}: objdump -dr differs after the round trip`);
    const ld = runStatus('ld', ['-r', '-o', join(tmp.dir, 'ld.o'), out]);
    if (ld.status !== 0) throw new Error(`${ko}: ld -r refused the written module: ${ld.stderr}`);
  }
}, 600_000);
