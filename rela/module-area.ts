/**
 * Where x86-64 kernels load modules: the range every module section (and so
 * every relocated field of a module) lies in, from the kernel configuration.
 * `kelp check` bounds PC-relative relocations with it.
 */

/** The loadable-module area: every module section lies in [lo, hi). */
export interface ModuleArea {
  lo: bigint;
  hi: bigint;
  /** How the bounds were decided. */
  why: string;
}

/**
 * x86-64 (arch/x86/include/asm/pgtable_64_types.h, page_64_types.h, 6.1):
 * MODULES_VADDR = __START_KERNEL_map (0xffffffff80000000) + KERNEL_IMAGE_SIZE,
 * which is 1 GiB with CONFIG_RANDOMIZE_BASE and 512 MiB without; MODULES_END is
 * 0xffffffffff000000, or 0xfffffffffe000000 with CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP.
 * Without the configuration, the union of both layouts is assumed, so a
 * relocation passes only when it fits wherever the module may be placed.
 */
export function moduleArea(config: Map<string, string> | undefined): ModuleArea {
  const START_KERNEL_MAP = 0xffffffff80000000n;
  if (!config) return { lo: START_KERNEL_MAP + (512n << 20n), hi: 0xffffffffff000000n, why: 'kernel configuration unknown: both layouts' };
  const kaslr = config.get('CONFIG_RANDOMIZE_BASE') === 'y';
  const forceMap = config.get('CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP') === 'y';
  return {
    lo: START_KERNEL_MAP + ((kaslr ? 1024n : 512n) << 20n),
    hi: forceMap ? 0xfffffffffe000000n : 0xffffffffff000000n,
    why: `CONFIG_RANDOMIZE_BASE=${kaslr ? 'y' : 'n'}, CONFIG_DEBUG_KMAP_LOCAL_FORCE_MAP=${forceMap ? 'y' : 'n'}`,
  };
}
