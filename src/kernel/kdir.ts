/** A kernel build directory (kdir): what makes one, and the release it builds for. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KelpError } from '../errors.js';

/** Refuses a directory that is not a built kernel's build directory (Makefile, Module.symvers, .config). */
export function checkKdir(kdir: string): void {
  for (const f of ['Makefile', 'Module.symvers', '.config']) {
    if (!existsSync(join(kdir, f))) throw new KelpError(`not a kernel build directory (no ${f})`, kdir);
  }
}

/** The release (uname -r) a kdir builds for: UTS_RELEASE of include/generated/utsrelease.h. */
export function kdirRelease(kdir: string): string | undefined {
  try {
    const m = /#define\s+UTS_RELEASE\s+"([^"]+)"/.exec(readFileSync(join(kdir, 'include', 'generated', 'utsrelease.h'), 'latin1'));
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}
