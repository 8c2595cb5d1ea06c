/** Symbol and section status, and symbol flags, of the diff's model (model.ts). */

/** Symbol and section status. */
export const SAME = 0;
export const CHANGED = 1;
export const NEW = 2;

/** Symbol flags. */
export const F_INCLUDE = 1;
export const F_IGNORED = 2;
export const F_FORCED = 4;
export const F_LINE_ONLY = 8;
/** Named: a symbol the correlation pass matches by name (not a section or file symbol, name not empty). */
export const F_NAMED = 16;
/** A changed function without __fentry__ that the patch replaces through its callers (they call its copy). */
export const F_VIA_CALLERS = 32;
/** Changed read-only data that the patch carries as a new copy, read by functions replaced for it (compare.ts `isCodeOnlyTable`). */
export const F_TABLE_COPY = 64;
