/** State shared by the rule families of one `kelp check` run. */
import type { ModuleImage } from '../kmod/image.js';
import type { ProblemList } from './problem.js';
import type { CheckTarget } from './target.js';

/** An address known exactly (lo = hi) or only as a range. */
export interface AddressRange {
  lo: bigint;
  hi: bigint;
}

export interface CheckContext {
  m: ModuleImage;
  target: CheckTarget;
  p: ProblemList;
  /** Objects (vmlinux or module names) the patch's klp_object tables name; null when the tables could not be read. */
  patchedObjects: Set<string> | null;
  /** Where each resolvable livepatch symbol (by symbol index) lands, as the livepatch core resolves it. */
  klpAddress: Map<number, AddressRange>;
}
