/**
 * readelf -P/--process-links: with it readelf also dumps the separate debug
 * file a `.gnu_debuglink` or `.gnu_debugaltlink` section names, when it finds
 * one (next to the file, in its .debug/ directory or under /usr/lib/debug).
 * kelp does not dump linked files: when such a file exists it refuses the
 * file rather than print less than readelf; when none exists the output is
 * readelf's (readelf prints nothing more then either).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DumpContext } from './context.js';
import { DumpUnsupportedError } from './names.js';

/** The places readelf looks for a separate debug file named `name`, linked from `file`. */
export function candidates(file: string, name: string): string[] {
  if (name.startsWith('/')) return [name];
  const dir = dirname(file);
  return [join(dir, name), join(dir, '.debug', name), join('/usr/lib/debug', dir, name), join('/usr/lib/debug', name), join('/lib/debug', name), join('.debug', name), name];
}

export function checkProcessLinks(ctx: DumpContext): void {
  for (const s of ctx.elf.sections) {
    const n = ctx.elf.sectionNameOrUndefined(s);
    if (n !== '.gnu_debuglink' && n !== '.gnu_debugaltlink') continue;
    ctx.needSection(s);
    const data = ctx.elf.sectionData(s);
    const end = data.indexOf(0);
    const name = data.toString('latin1', 0, end < 0 ? data.length : end);
    if (name === '') continue;
    const found = candidates(ctx.file, name).find((p) => existsSync(p));
    if (found !== undefined) throw new DumpUnsupportedError(ctx.file, `-P: dumping the linked file ${found}`);
  }
}
