/**
 * `kelp link`: diff outputs → a livepatch module.
 *
 *  1. read each DIFF.o and its .kelp.meta (inputs.ts), plan the klp tables
 *     and names (plan.ts);
 *  2. render the klp_patch / klp_object / klp_func source (template.ts);
 *  3. build the module with the target's kbuild (kbuild.ts), the diff objects
 *     carrying short stand-ins for their placeholders;
 *  4. post-link (klp.ts): .klp.rela sections, SHN_LIVEPATCH symbols, __versions;
 *  5. verify the result re-reads and write it atomically.
 */
import { writeFileAtomic } from '../util/atomic.js';
import { existsSync, mkdtempSync, promises as fs, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SHF_RELA_LIVEPATCH, SHN_LIVEPATCH } from '../../elf/constants.js';
import { asKelpError, KelpError } from '../errors.js';
import { ElfObject } from '../../elf/model.js';
import { writeObject } from '../../elf/writer.js';
import { kdirRelease } from '../kernel/kdir.js';
import { KLP_RELA_PREFIX, KLP_SYM_PREFIX, kernelModuleName } from '../kmod/names.js';
import type { ModInfo } from '../kmod/modinfo.js';
import { diffBasename, runKbuild, TABLES_BASENAME } from './kbuild.js';
import { convertToLivepatch, versionNames, type KlpConversion } from './klp.js';
import { readDiffInput } from './inputs.js';
import { checkLivepatchModinfo } from './modinfo.js';
import { kbuildCopy, planLink, STAND_IN_PREFIX, type LinkPlan } from './plan.js';
import { SymbolCounts } from '../kernel/symbol-map.js';
import { checkKlpSymbols } from './symbol-table.js';
import { renderLivepatchSource } from './template.js';

export interface LinkOptions {
  inputs: string[];
  kdir: string;
  /** Module file name (without .ko); `-` allowed, the kernel name uses `_`. */
  name: string;
  output: string;
  replace: boolean;
  /** System.map or kallsyms of the target, to check the klp symbols against. */
  symbols?: string;
  /** Extra Module.symvers files for modpost. */
  symvers?: string[];
  /** Keep the build directory (its path is returned). */
  keepBuild?: boolean;
  log?: (line: string) => void;
}

export interface LinkResult {
  output: string;
  moduleName: string;
  plan: LinkPlan;
  conversion: KlpConversion;
  modinfo: ModInfo;
  builddir: string | null;
}

const MODULE_FILE_NAME = /^[A-Za-z0-9_-]{1,55}$/;

export async function linkModule(opts: LinkOptions): Promise<LinkResult> {
  const name = opts.name;
  if (!MODULE_FILE_NAME.test(name)) throw new KelpError(`--name ${JSON.stringify(name)}: a module name is 1 to 55 letters, digits, '_' or '-'`);
  const moduleName = kernelModuleName(name);
  const reserved = [TABLES_BASENAME, ...opts.inputs.map((_, i) => diffBasename(i))].map(kernelModuleName);
  if (reserved.includes(moduleName)) throw new KelpError(`--name ${name}: kelp link uses that name for a part of the module`);
  const kdir = resolve(opts.kdir);
  if (!existsSync(kdir)) throw new KelpError('no such kernel build directory', opts.kdir);
  for (const s of opts.symvers ?? []) if (!existsSync(s)) throw new KelpError('no such file', s);

  const inputs = opts.inputs.map((f) => readDiffInput(f));
  const plan = planLink(inputs);
  if (opts.symbols !== undefined) {
    checkKlpSymbols(opts.symbols, SymbolCounts.read(opts.symbols), plan.standIns.values());
  }
  const source = renderLivepatchSource({ moduleName, objects: plan.objects, replace: opts.replace });
  // Under IBT kbuild's objtool runs on the linked module (delay-objtool) and makes its tables for all of it.
  const objtoolOnLink = existsSync(join(kdir, '.config')) && /^CONFIG_X86_KERNEL_IBT=y$/m.test(readFileSync(join(kdir, '.config'), 'latin1'));
  const objects = inputs.map((input, i) => kbuildCopy(input, i, plan, { objtoolOnLink }));

  const builddir = mkdtempSync(join(tmpdir(), 'kelp-link-'));
  let keep = opts.keepBuild === true;
  try {
    const built = await runKbuild({
      kdir, builddir, name, source, objects,
      standIns: [...plan.standIns.keys()],
      extraSymvers: (opts.symvers ?? []).map((s) => resolve(s)),
      log: opts.log,
    });
    const obj = ElfObject.read(await fs.readFile(built), opts.output);
    const conversion = convertToLivepatch(obj, plan.standIns);
    const bytes = writeObject(obj);
    const modinfo = checkLinkedModule(bytes, opts.output, moduleName, kdirRelease(kdir), plan);
    await writeFileAtomic(opts.output, bytes);
    return { output: opts.output, moduleName, plan, conversion, modinfo, builddir: keep ? builddir : null };
  } catch (e) {
    if (process.env.KELP_KEEP_TMP) keep = true;
    const k = keep ? asKelpError(e) : undefined;
    if (k !== undefined) throw new KelpError(`${k.message} (build directory kept: ${builddir})`, k.file, k.exitCode);
    throw e;
  } finally {
    if (!keep && !process.env.KELP_KEEP_TMP) rmSync(builddir, { recursive: true, force: true });
  }
}

/** Re-reads the written bytes and checks what the kernel will rely on. */
export function checkLinkedModule(bytes: Buffer, file: string, moduleName: string, release: string | undefined, plan: LinkPlan): ModInfo {
  const obj = ElfObject.read(bytes, file);
  for (const sym of obj.symbols) {
    if (sym.name.startsWith(STAND_IN_PREFIX)) throw new KelpError(`stand-in ${sym.name} survived the conversion`, file);
  }
  const leftover = versionNames(obj).filter((n) => n.startsWith(STAND_IN_PREFIX) || n.startsWith(KLP_SYM_PREFIX));
  if (leftover.length > 0) throw new KelpError(`__versions still lists ${leftover.join(', ')}`, file);
  if (!obj.sections.some((s) => s.name === '.gnu.linkonce.this_module')) throw new KelpError('no .gnu.linkonce.this_module section', file);
  const placeholders = new Set([...plan.standIns.values()].map((k) => k.placeholder));
  for (const s of obj.sections) {
    if (!s.name.startsWith(KLP_RELA_PREFIX) || !s.relocations) continue;
    if ((s.flags & SHF_RELA_LIVEPATCH) === 0 || !s.infoSection) throw new KelpError(`${s.name} is not a livepatch relocation section`, file);
    for (const r of s.relocations) {
      if (!r.symbol || r.symbol.shndx !== SHN_LIVEPATCH || !placeholders.has(r.symbol.name)) {
        throw new KelpError(`${s.name}: a relocation against ${r.symbol ? r.symbol.name : 'symbol 0'}, which is not a livepatch symbol`, file);
      }
    }
  }
  return checkLivepatchModinfo(obj, moduleName, release);
}

export { writeFileAtomic };
