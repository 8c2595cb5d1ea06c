/** The state shared by the passes: the object pair, options, and collected refusals and notes. */
import type { LineMap } from '../patch/lines.js';
import type { SymbolIndex } from '../symbols/table.js';
import type { Symvers } from '../symbols/symvers.js';
import type { Pair } from './model.js';
import { adviceFor, type RefusalCategory } from './refusal-kinds.js';
import type { SpecialSpec } from './sections.js';
import type { IbtFacts } from './ibt.js';

export interface Refusal {
  /** `file: sym+0xoff` or `file: section`. */
  where: string;
  reason: string;
  /** What kind of problem it is (the JSON report's category). */
  category: RefusalCategory;
  /** One line of advice for rewriting the fix, when there is one. */
  advice: string | null;
}

export interface DiffContext extends Pair {
  /** `vmlinux` or a module name (with `_`). */
  target: string;
  symbols: SymbolIndex | null;
  symvers: Symvers;
  specs: Map<string, SpecialSpec>;
  /** Sections whose entry size was given (--entry-size or the environment). */
  explicitSizes: Set<string>;
  refusals: Refusal[];
  notes: string[];
  /** What the patch builds differently from the source, always shown (an inert tracepoint site, say). */
  warnings: string[];
  verbose: boolean;
  /** The IBT facts of the target (null: not known yet). */
  ibt: IbtFacts | null;
  /** Where the patch moved source lines, when known (`--patch`, or given by kelp build). */
  lines: LineMap | null;
  /**
   * Global symbols another object of the same livepatch newly defines: a
   * reference to one stays an ordinary undefined symbol, which linking the
   * livepatch module resolves inside it (the target has no such symbol).
   */
  provided: Set<string>;
  /**
   * The namespaces the target module imports (its .ko's .modinfo, when
   * --symbols is the module): the code of every object of the module may use
   * their exports, whichever object's MODULE_IMPORT_NS put them there.
   */
  targetImports?: Set<string>;
  /**
   * The modules the target module depends on (its .ko's .modinfo, when
   * --symbols is the module): loaded whenever it is, so the patched code
   * reaches their exports by livepatch relocations applied with the target,
   * and the livepatch itself does not need them loaded (klp-build does the same).
   */
  targetDepends?: Set<string>;
}

export function refuse(ctx: DiffContext, where: string, reason: string, category: RefusalCategory): void {
  if (!ctx.refusals.some((r) => r.where === where && r.reason === reason)) ctx.refusals.push({ where, reason, category, advice: adviceFor(category) });
}
