/**
 * `module.sections`: the section checks the 6.12 loader makes before it
 * reads anything (kernel/module/main.c, elf_validity_cache_copy), which
 * 6.1's loader does not make:
 *  - at most one `.modinfo` ("Only one .modinfo section must exist.");
 *  - exactly one `.gnu.linkonce.this_module`, not SHT_NOBITS, SHF_ALLOC,
 *    and exactly sizeof(struct module) bytes ("... section size must match
 *    the kernel's built struct module size at run time").
 * Applied when the target's release is 6.12 or later (the checks are
 * absent in 6.1; the kernels between are not verified here, so they are not
 * held to them). The size of struct module comes from a module of the
 * target itself (--modules): kbuild sized its section for that kernel.
 */
import { SHF_ALLOC, SHT_NOBITS } from '../../elf/constants.js';
import { ElfFile } from '../../elf/reader.js';
import { kernelVersionOf } from '../../rela/special-sections.js';
import { readMaybeCompressed } from '../util/decompress.js';
import type { ModuleImage } from '../kmod/image.js';
import type { ProblemList } from './problem.js';
import type { CheckTarget } from './target.js';

const THIS_MODULE = '.gnu.linkonce.this_module';

/** sizeof(struct module) of the target: the size of a target module's this_module section; undefined when no module is at hand. */
function structModuleSize(target: CheckTarget): { size: number; from: string } | undefined {
  const files = [...(target.moduleFiles?.values() ?? [])].sort();
  for (const f of files.slice(0, 3)) {
    try {
      const elf = ElfFile.parse(readMaybeCompressed(f), f);
      const s = elf.findSectionByName(THIS_MODULE);
      if (s && s.sh_type !== SHT_NOBITS) return { size: s.sh_size, from: f };
    } catch {
      // an unreadable target module says nothing about struct module
    }
  }
  return undefined;
}

export function checkModuleSections(m: ModuleImage, target: CheckTarget, p: ProblemList): void {
  const v = target.release !== undefined ? kernelVersionOf(target.release) : null;
  if (v === null || v[0] < 6 || (v[0] === 6 && v[1] < 12)) return;
  const named = (name: string) => m.sections.filter((s) => s.index > 0 && m.name(s) === name);
  const infos = named('.modinfo');
  if (infos.length > 1) p.add('module.sections', 'section .modinfo', `${infos.length} .modinfo sections: Linux ${v[0]}.${v[1]} refuses the module ("Only one .modinfo section must exist.")`);
  const mods = named(THIS_MODULE);
  if (mods.length > 1) p.add('module.sections', `section ${THIS_MODULE}`, `${mods.length} such sections: Linux ${v[0]}.${v[1]} refuses the module ("Only one .gnu.linkonce.this_module section must exist.")`);
  if (mods.length !== 1) return; // none: modinfo.name reports it
  const s = mods[0];
  if (s.sh_type === SHT_NOBITS) p.add('module.sections', `section ${THIS_MODULE}`, 'is SHT_NOBITS: the loader refuses the module ("must have a size set")');
  if ((s.sh_flags & SHF_ALLOC) === 0) p.add('module.sections', `section ${THIS_MODULE}`, 'is not SHF_ALLOC: the loader refuses the module ("must occupy memory during process execution")');
  const want = structModuleSize(target);
  if (want !== undefined && s.sh_size !== want.size) {
    p.add('module.sections', `section ${THIS_MODULE}`, `is ${s.sh_size} bytes, but the target's struct module is ${want.size} (${want.from}): the loader refuses the module ("section size must match the kernel's built struct module size")`);
  }
}
