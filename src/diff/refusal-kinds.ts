/**
 * What kind of thing a refusal is about, and the one line of advice that
 * helps the patch author rewrite the fix (callbacks, shadow variables, a
 * different function to patch) where there is one. The categories are the
 * JSON report's; an engineer reads them to decide what to do next.
 */
export type RefusalCategory =
  /** Existing data (a variable's initial value, a table) changed. */
  | 'data-changed'
  /** A MODULE_DEVICE_TABLE changed: which devices the module binds. */
  | 'device-table'
  /** __init or __exit code changed. */
  | 'init-code'
  /** A changed function has no __fentry__ call and cannot be replaced through its callers. */
  | 'no-fentry'
  /** A changed function shares its section with other code (no -ffunction-sections). */
  | 'shared-section'
  /** A jump label whose key is defined in a module, at a site kelp cannot turn into a run-time test of the key. */
  | 'jump-label-key-in-module'
  /** A tracepoint of a module, used by patched code. */
  | 'tracepoint'
  /** A dynamic debug site (pr_debug, dev_dbg) of a module, in patched code. */
  | 'dynamic-debug'
  /** A local symbol the target has several of, which no position tells apart. */
  | 'ambiguous-symbol'
  /** A reference to a place no symbol names. */
  | 'unnamed-reference'
  /** A kpatch marker (KPATCH_* record) that kelp cannot use. */
  | 'patch-marker'
  /** An address of a target function taken where IBT may have sealed its ENDBR. */
  | 'ibt-endbr'
  /** A struct or union that existed before changes layout (members added, removed or reordered). */
  | 'layout-change'
  /** Code built outside vmlinux's and the modules' objects (the vDSO, boot code, ...). */
  | 'not-livepatchable-object';

const ADVICE: Record<RefusalCategory, string | null> = {
  'data-changed': 'keep the existing data as it is: attach new state with a shadow variable (klp_shadow_get_or_alloc) or change the data in a post-patch callback',
  'device-table': 'a device ID table decides which devices a module binds when it loads; a new ID needs an updated module, not a livepatch',
  'init-code': 'init code has already run: patch the code that runs later, or do the one-time work in a pre- or post-patch callback',
  'no-fentry': 'patch the functions that call it (use KPATCH_SYSCALL_DEFINEn / KLP_SYSCALL_DEFINEn for a system call), or make it a non-inline function',
  'shared-section': 'build the object with -ffunction-sections (kelp build does)',
  'jump-label-key-in-module': 'test the key with static_key_enabled() instead of static_branch_likely()/unlikely()',
  tracepoint: 'leave the trace_*() call out of the patched code, or trace from a function of vmlinux',
  'dynamic-debug': 'use pr_info()/dev_info() or KPATCH_PRINTK for the message in the patched code',
  'ambiguous-symbol': 'the target has several local symbols of that name: refer to it through a function of the same file, or avoid the reference',
  'unnamed-reference': null,
  'ibt-endbr': 'call the function directly, or through a function of the patch\'s own that calls it',
  'layout-change': 'keep the layout: objects in the running kernel have the old one; attach new state with a shadow variable (klp_shadow_alloc)',
  'not-livepatchable-object': null,
  'patch-marker': 'check the KPATCH_* macro use: one callback of each kind per object, pointing at a function',
};

/** The advice for a category (null when there is none worth giving). */
export function adviceFor(category: RefusalCategory): string | null {
  return ADVICE[category];
}
