/**
 * kelp target run --file: bad arguments are one line and exit 1 before any
 * boot (a missing file, a directory, a name the initramfs uses itself, two
 * files with one name); the files reach the initramfs root as /<basename>
 * with their executable bit (the VM run is test/bundle/vm.test.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildInitramfs } from '../../src/target/initramfs.js';
import { kelp } from '../build/support.js';
import { makeTmpDir } from '../support/tmp.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';

const tmp = makeTmpDir('target-files');
afterAll(() => tmp.cleanup());
let pre: PrereqStatus;
beforeAll(async () => { pre = await ensureDebianPackages(['busybox-static', 'cpio']); }, 600_000);

test.each([
  ['a missing file', () => [path.join(tmp.dir, 'nope.tar')], /nope\.tar: no such file$/],
  ['a directory', () => [tmp.dir], /: not a regular file$/],
  ['a name the initramfs uses', () => { fs.writeFileSync(path.join(tmp.dir, 'init'), ''); return [path.join(tmp.dir, 'init')]; }, /init: \/init is the target's own; rename the file$/],
  ['two files with one name', () => {
    fs.mkdirSync(path.join(tmp.dir, 'a'), { recursive: true });
    fs.mkdirSync(path.join(tmp.dir, 'b'), { recursive: true });
    fs.writeFileSync(path.join(tmp.dir, 'a', 'fix.tar'), 'a');
    fs.writeFileSync(path.join(tmp.dir, 'b', 'fix.tar'), 'b');
    return [path.join(tmp.dir, 'a', 'fix.tar'), path.join(tmp.dir, 'b', 'fix.tar')];
  }, /b\/fix\.tar: \/fix\.tar is already taken by .*a\/fix\.tar$/],
])('%s is refused before booting', (_label, files, message) => {
  const r = kelp(['target', 'run', '--kernel', path.join(tmp.dir, 'no-kernel'), ...files().flatMap((f) => ['--file', f])]);
  expect([r.status, r.stderr.trim().split('\n').length]).toEqual([1, 1]);
  expect(r.stderr.trim()).toMatch(/^kelp: /);
  expect(r.stderr.trim()).toMatch(message);
});

test('the files are in the initramfs root, executable or not as on the host', async () => {
  if (skipUnlessReady(pre)) return;
  const script = path.join(tmp.dir, 'check.sh');
  const data = path.join(tmp.dir, 'data.bin');
  fs.writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o755 });
  fs.writeFileSync(data, Buffer.from([0, 1, 2, 255]));
  const { image } = await buildInitramfs({
    plan: { nonce: '0123456789abcdef', disable: [], transitionTimeout: 5 },
    modules: [], checks: [], files: [{ file: script, name: 'check.sh' }, { file: data, name: 'data.bin' }],
  });
  const cpio = path.join(tmp.dir, 'initramfs.cpio');
  fs.writeFileSync(cpio, image);
  const { spawnSync } = await import('node:child_process');
  const list = spawnSync('cpio', ['-itv', '-F', cpio], { encoding: 'utf8' }).stdout.split('\n');
  expect(list.find((l) => / check\.sh$/.test(l))).toMatch(/^-rwxr-xr-x/);
  expect(list.find((l) => / data\.bin$/.test(l))).toMatch(/^-rw-r--r--/);
});
