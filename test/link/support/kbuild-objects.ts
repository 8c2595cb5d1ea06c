/** Compiling fixture C files into objects with the target kernel's kbuild (so flags match the kernel's). */
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { REPO_ROOT } from '../../support/paths.js';

export const TEMPLATES_DIR = join(REPO_ROOT, 'templates');

/**
 * Copies a fixture directory into `dir` and builds the named objects there
 * with `make -C <kdir> M=<dir> <obj>...` (kpatch-macros.h on the include path,
 * `ccflags` added to the kernel's flags).
 * Returns the objects' paths.
 */
export async function buildObjects(fixture: string, dir: string, kdir: string, objects: string[], ccflags = ''): Promise<string[]> {
  await fs.cp(resolve(REPO_ROOT, fixture), dir, { recursive: true });
  await fs.writeFile(join(dir, 'Kbuild'), `obj-m := ${objects.join(' ')}\nccflags-y := -I${TEMPLATES_DIR}${ccflags === '' ? '' : ` ${ccflags}`}\n`);
  const r = await execa('make', ['-C', kdir, `M=${dir}`, ...objects], { reject: false, all: true, env: { LC_ALL: 'C' } });
  if (r.exitCode !== 0) throw new Error(`building ${objects.join(' ')} of ${fixture} failed:\n${(r.all ?? '').split('\n').slice(-30).join('\n')}`);
  return objects.map((o) => join(dir, o));
}
