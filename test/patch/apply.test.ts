/**
 * src/patch/apply.ts against GNU patch on real kernel code: patches made by
 * GNU diff -u from a kernel header, applied to a copy of the header that has
 * drifted (lines added and removed near and far from the hunks), must apply
 * or fail exactly as `patch -p1 -F N` does, with the same text, and the same
 * offset and fuzz for every hunk patch reports.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyHunks } from '../../src/patch/apply.js';
import { diffLib } from '../../src/patch/jsdiff.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';

let pre: PrereqStatus;
let sources: Array<{ name: string; text: string }> = [];
const tmp = makeTmpDir('patch-apply');

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages(), 'patch', 'diffutils']);
  if (!pre.ok) return;
  const target = await getTarget();
  // Debian's headers package: the arch part (kdir) and the common part it points into.
  const roots = [target.kdir, realpathSync(join(target.kdir, 'include', '..')), ...['common'].map((c) => target.kdir.replace(/-amd64$/, `-${c}`))];
  for (const rel of ['include/linux/sched.h', 'include/linux/fs.h', 'include/linux/mm.h']) {
    const root = roots.find((r) => existsSync(join(r, rel)));
    if (root === undefined) throw new Error(`no ${rel} under ${roots.join(', ')}`);
    sources.push({ name: rel, text: readFileSync(join(root, rel), 'latin1') });
  }
}, 900_000);
afterAll(() => tmp.cleanup());

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Edits at random lines: a changed line, an inserted one, or a removed one. */
function mutate(lines: string[], edits: number, rand: () => number, tag: string): string[] {
  const out = [...lines];
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * out.length);
    const kind = Math.floor(rand() * 3);
    if (kind === 0) out[at] = `${out[at]} /* ${tag}${e} */`;
    else if (kind === 1) out.splice(at, 0, `/* ${tag} inserted ${e} */`);
    else out.splice(at, 1);
  }
  return out;
}

interface PatchOutcome { ok: boolean; text: string; hunks: Map<number, { offset: number; fuzz: number }>; failed: number[] }

/** Runs GNU patch -p1 -F fuzz on a copy of `target`. */
function gnuPatch(dir: string, target: string, patchText: string, fuzz: number): PatchOutcome {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'f.h'), target, 'latin1');
  writeFileSync(join(dir, 'p.patch'), patchText, 'latin1');
  const r = spawnSync('patch', ['-p1', '-F', String(fuzz), '--no-backup-if-mismatch', '-r', '-', '-i', join(dir, 'p.patch')], { cwd: dir, encoding: 'latin1' });
  const hunks = new Map<number, { offset: number; fuzz: number }>();
  const failed: number[] = [];
  for (const l of r.stdout.split('\n')) {
    const m = /^Hunk #(\d+) succeeded at \d+(?: with fuzz (\d+))?(?: \(offset (-?\d+) lines?\))?\.$/.exec(l);
    if (m) hunks.set(Number(m[1]), { fuzz: Number(m[2] ?? 0), offset: Number(m[3] ?? 0) });
    const f = /^Hunk #(\d+) FAILED/.exec(l);
    if (f) failed.push(Number(f[1]));
  }
  return { ok: r.status === 0, text: readFileSync(join(dir, 'f.h'), 'latin1'), hunks, failed };
}

test('patches from GNU diff on kernel headers apply to drifted copies exactly as GNU patch applies them (offsets, fuzz 0-2, failures)', () => {
  if (skipUnlessReady(pre)) return;
  const rand = rng(0x6b656c70);
  let cases = 0;
  let withOffset = 0;
  let withFuzz = 0;
  let failures = 0;
  for (const src of sources) {
    const lines = src.text.replace(/\n$/, '').split('\n');
    for (let i = 0; i < 40; i++) {
      // The fix: a few edits clustered in one region, as real fixes are.
      const start = Math.floor(rand() * (lines.length - 200));
      const region = lines.slice(start, start + 150);
      const fixed = [...lines.slice(0, start), ...mutate(region, 2 + Math.floor(rand() * 3), rand, 'fix'), ...lines.slice(start + 150)];
      const patchText = diffLib().createTwoFilesPatch('a/f.h', 'b/f.h', `${lines.join('\n')}\n`, `${fixed.join('\n')}\n`, '', '', { context: 3 });
      // The target's copy drifted: edits anywhere, some close to the hunks.
      const near = mutate(lines.slice(start, start + 150), Math.floor(rand() * 3), rand, 'drift');
      const drifted = mutate([...lines.slice(0, start), ...near, ...lines.slice(start + 150)], 1 + Math.floor(rand() * 4), rand, 'far');
      const target = `${drifted.join('\n')}\n`;
      const fuzz = i % 4 === 3 ? 0 : 2;
      const gnu = gnuPatch(join(tmp.dir, `${src.name.replace(/\W/g, '_')}-${i}`), target, patchText, fuzz);
      const [structured] = diffLib().parsePatch(patchText);
      const mine = applyHunks(target, structured.hunks, fuzz);
      const label = `${src.name} case ${i} (fuzz ${fuzz})`;
      cases++;
      expect([label, mine.ok]).toEqual([label, gnu.ok]);
      if (mine.ok) {
        expect([label, mine.text === gnu.text]).toEqual([label, true]);
        const reported = new Map(mine.placements.filter((p) => p.offset !== 0 || p.fuzz !== 0).map((p) => [p.hunk, { offset: p.offset, fuzz: p.fuzz }]));
        expect([label, [...reported]]).toEqual([label, [...gnu.hunks]]);
        if (mine.placements.some((p) => p.offset !== 0)) withOffset++;
        if (mine.placements.some((p) => p.fuzz !== 0)) withFuzz++;
      } else {
        expect([label, mine.hunk]).toEqual([label, gnu.failed[0]]);
        failures++;
      }
    }
  }
  // The sample covers every outcome.
  expect(cases).toBe(120);
  expect(withOffset).toBeGreaterThan(20);
  expect(withFuzz).toBeGreaterThan(3);
  expect(failures).toBeGreaterThan(3);
});
