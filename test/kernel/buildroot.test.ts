/**
 * The build root's compiler line is asked once per state of the root's dpkg
 * database: the record is used while the database is unchanged, and a changed
 * database (a package installed or upgraded) makes kelp ask the compiler again.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { BuildRoot } from '../../src/kernel/buildroot.js';
import { makeTmpDir } from '../support/tmp.js';

const tmp = makeTmpDir('buildroot');

test('compilerText uses its record while the root\'s packages are unchanged', async () => {
  const root = new BuildRoot(tmp.dir, 'trixie', 'gcc-14');
  const status = join(root.root, 'var/lib/dpkg/status');
  await fs.mkdir(join(root.root, 'var/lib/dpkg'), { recursive: true });
  await fs.writeFile(status, 'Package: gcc-14\nVersion: 14.2.0-19\n');
  // This root has no compiler (and no /bin/sh): asking it fails.
  const asked = await root.compilerText('x86_64-linux-gnu-gcc-14');
  expect(asked).toHaveProperty('error');
  const memo = join(root.dir, 'compiler-x86_64-linux-gnu-gcc-14.json');
  await expect(fs.stat(memo)).rejects.toThrow(/ENOENT/); // a failure is not recorded

  const st = await fs.stat(status);
  const text = 'x86_64-linux-gnu-gcc-14 (Debian 14.2.0-19) 14.2.0';
  await fs.writeFile(memo, JSON.stringify({ state: `${st.size}:${st.mtimeMs}:${st.ino}`, text }));
  expect(await root.compilerText('x86_64-linux-gnu-gcc-14')).toEqual({ text });

  // An upgrade changes the database: the record no longer holds.
  await fs.appendFile(status, '\nPackage: gcc-14\nVersion: 14.2.0-20\n');
  expect(await root.compilerText('x86_64-linux-gnu-gcc-14')).toHaveProperty('error');
});
