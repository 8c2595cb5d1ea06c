/**
 * jsdiff, loaded on first use: `kelp diff` without --patch never needs it
 * (its peak memory is benchmarked), nor does any command that only reads ELF.
 */
import { createRequire } from 'node:module';
import type * as JsDiff from 'diff';

let jsdiff: typeof JsDiff | null = null;

export function diffLib(): typeof JsDiff {
  if (!jsdiff) jsdiff = createRequire(import.meta.url)('diff') as typeof JsDiff;
  return jsdiff;
}
