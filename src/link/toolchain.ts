/**
 * The compiler `kelp link` builds the module's tables with, chosen by the
 * same rule as kelp build's (src/kernel/toolchain.ts): the kernel's own gcc,
 * read from the build directory's .config, on the host when it matches, else
 * in the build root of the Debian release that ships it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { KelpError } from '../errors.js';
import { chooseToolchain, type Toolchain } from '../kernel/toolchain.js';
import { cacheRoot } from '../target/cache.js';
import { templatesDir } from './template.js';

export async function kdirToolchain(kdir: string, symvers: string[], skipCheck: boolean, say: (l: string) => void): Promise<Toolchain> {
  const dir = resolve(kdir);
  const configFile = join(dir, '.config');
  if (!existsSync(configFile)) throw new KelpError('not a kernel build directory (no .config)', dir);
  const config = readFileSync(configFile, 'utf8');
  return chooseToolchain({
    config, configFile, cache: cacheRoot(), skipCheck, say,
    // What kbuild reads inside a root: the build directory (and the source tree its Makefile names), kelp's templates and extra symbol files.
    binds: [cacheRoot(), dir, templatesDir(), ...symvers.map((f) => dirname(resolve(f)))],
  });
}
