/**
 * modinfo and versions rules: what the module loader reads before anything
 * else. The loader marks a module as a livepatch when .modinfo has a
 * `livepatch` entry (kelp requires `livepatch=Y`, what MODULE_INFO(livepatch,
 * "Y") writes and what modinfo tools test), names it from `name=` and
 * .gnu.linkonce.this_module, refuses a vermagic or a __versions CRC that does
 * not match the running kernel, and resolves GPL-only exports only for
 * GPL-compatible licenses.
 */
import { modinfoValue } from '../kmod/modinfo.js';
import { MODVERSION_INFO_SIZE, versionEntries, VERSIONS_SECTION } from '../kmod/versions.js';
import { thisModuleName, type ModuleImage } from '../kmod/image.js';
import { hex, type ProblemList } from './problem.js';
import type { CheckTarget } from './target.js';

const MODULE_NAME = /^[A-Za-z0-9_]{1,55}$/;

/** Licenses the kernel treats as GPL-compatible (include/linux/license.h). */
const GPL_COMPATIBLE = new Set(['GPL', 'GPL v2', 'GPL and additional rights', 'Dual BSD/GPL', 'Dual MIT/GPL', 'Dual MPL/GPL']);

export function isGplCompatible(license: string | undefined): boolean {
  return license !== undefined && GPL_COMPATIBLE.has(license);
}


export function checkModinfo(m: ModuleImage, target: CheckTarget, p: ProblemList): void {
  if (!m.sectionByName('.modinfo')) p.add('modinfo.livepatch', 'section .modinfo', 'the module has no .modinfo section');
  const info = m.modinfo();
  const livepatch = modinfoValue(info, 'livepatch');
  if (livepatch === undefined) p.add('modinfo.livepatch', '.modinfo', 'no livepatch= entry: the kernel does not treat the module as a livepatch and klp_enable_patch() refuses it');
  else if (livepatch !== 'Y') p.add('modinfo.livepatch', '.modinfo', `livepatch=${livepatch}, expected livepatch=Y`);

  const name = modinfoValue(info, 'name');
  const own = thisModuleName(m);
  if (!m.sectionByName('.gnu.linkonce.this_module')) {
    p.add('modinfo.name', 'section .gnu.linkonce.this_module', 'missing: the loader finds no module in the object');
  }
  if (name === undefined) p.add('modinfo.name', '.modinfo', 'no name= entry');
  else if (!MODULE_NAME.test(name)) p.add('modinfo.name', '.modinfo', `name=${name} is not a module name (1 to 55 letters, digits or '_')`);
  else if (own !== undefined && own !== name) p.add('modinfo.name', '.modinfo', `name=${name} but .gnu.linkonce.this_module names the module ${own}`);

  const vermagic = modinfoValue(info, 'vermagic');
  if (vermagic === undefined) {
    p.add('modinfo.vermagic', '.modinfo', 'no vermagic= entry: the loader refuses the module ("no version magic")');
  } else {
    const cut = vermagic.indexOf(' ');
    const release = cut < 0 ? vermagic : vermagic.slice(0, cut);
    if (target.release !== undefined) {
      if (release !== target.release) {
        p.add('modinfo.vermagic', '.modinfo', `vermagic "${vermagic.trim()}" is for ${release}, the target is ${target.release} (from ${target.releaseSource})`);
      }
    } else {
      p.note('vermagic not compared: the target release is unknown (give --release, --kdir or a System.map-<release>)');
    }
    // The loader's same_magic(): the words after the release must match exactly (with or without __versions).
    if (target.vermagicFlags !== undefined) {
      const flags = cut < 0 ? '' : vermagic.slice(cut + 1);
      if (flags !== target.vermagicFlags) {
        p.add('modinfo.vermagic', '.modinfo', `vermagic "${vermagic}" has the flags "${flags}", the target's configuration (${target.vermagicSource}) gives "${target.vermagicFlags}": the loader refuses it ("version magic ... should be ...")`);
      }
    } else {
      p.note('vermagic flags not compared: the target configuration is unknown (give --kdir)');
    }
  }

  // modversions: each __versions entry's CRC must match the export's.
  const versions = m.sectionByName(VERSIONS_SECTION);
  const vd = versions ? m.data(versions) : undefined;
  if (vd && target.symvers) {
    if (vd.length % MODVERSION_INFO_SIZE !== 0) {
      p.add('versions.crc', `section ${VERSIONS_SECTION}`, `size ${vd.length} is not a multiple of ${MODVERSION_INFO_SIZE}`);
    }
    for (const { offset: o, crc, name: sym } of versionEntries(vd)) {
      const e = target.symvers.get(sym);
      if (e?.crc !== undefined && e.crc !== crc) {
        p.add('versions.crc', `${VERSIONS_SECTION}+0x${o.toString(16)}`, `the module disagrees about the version of symbol ${sym}: CRC ${hex(crc)}, the target exports it with ${hex(e.crc)}`);
      }
    }
  }
}
