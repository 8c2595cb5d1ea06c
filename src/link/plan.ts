/**
 * From diff outputs to what kbuild links: the klp_object tables, the aliases
 * the generated C reaches the replacement functions and callbacks through,
 * and the short stand-in names the placeholders carry through kbuild.
 *
 * Why stand-ins: modpost lists every undefined symbol of the module in
 * __versions, whose entries hold names of at most 55 bytes, and the
 * `.klp.sym.<object>.<name>,<sympos>` names are often longer. So the copies
 * handed to kbuild name each placeholder `__kelp_klp_sym_<n>` (accepted by
 * modpost through a generated extra symvers file), and the post-link step
 * gives the symbols their real names back.
 */
import { STB_GLOBAL, STT_FUNC, STV_HIDDEN } from '../../elf/constants.js';
import { KelpError } from '../errors.js';
import { ElfSymbol } from '../../elf/model.js';
import { writeObject } from '../../elf/writer.js';
import { KLP_SYM_PREFIX } from '../kmod/names.js';
import { klpRelaObject, type KlpSymbol } from '../patch/meta.js';
import { removeSection } from './elf-edit.js';
import { CALLBACK_KINDS, definedFunction, type DiffInput } from './inputs.js';
import type { TemplateObject } from './template.js';

export const STAND_IN_PREFIX = '__kelp_klp_sym_';

export interface LinkPlan {
  objects: TemplateObject[];
  /** Stand-in name → the klp symbol it stands for. */
  standIns: Map<string, LinkKlpSymbol>;
  /** Placeholder name → stand-in name. */
  standInOf: Map<string, string>;
}

/** A placeholder as the link carries it: with the object whose `.klp.rela` sections hold its relocations. */
export interface LinkKlpSymbol extends KlpSymbol {
  relaObject: string;
}

/** The stand-in key of a placeholder used by code patched into `target`. */
function standInKey(k: KlpSymbol, target: string): string {
  const rela = klpRelaObject(k, target);
  return rela === k.object ? k.placeholder : `${k.placeholder}\0${rela}`;
}

/** Decides the tables and names; throws on conflicting inputs. */
export function planLink(inputs: DiffInput[]): LinkPlan {
  if (inputs.length === 0) throw new KelpError('no diff objects to link');
  // Placeholders: one stand-in per distinct placeholder and object whose .klp.rela sections
  // carry its relocations (another module's symbol gets one per target that uses it), numbered in order.
  const klp = new Map<string, LinkKlpSymbol>();
  for (const input of inputs) {
    for (const k of input.meta.klpSymbols) {
      const key = standInKey(k, input.meta.target);
      if (!klp.has(key)) klp.set(key, { ...k, relaObject: klpRelaObject(k, input.meta.target) });
    }
  }
  const keys = [...klp.keys()].sort();
  const standIns = new Map<string, LinkKlpSymbol>();
  const standInOf = new Map<string, string>();
  keys.forEach((key, n) => {
    const alias = `${STAND_IN_PREFIX}${n}`;
    standIns.set(alias, klp.get(key)!);
    standInOf.set(key, alias);
  });

  const objects = new Map<string, TemplateObject>();
  const funcKeys = new Map<string, string>();
  inputs.forEach((input, i) => {
    const target = input.meta.target;
    let obj = objects.get(target);
    if (!obj) {
      obj = { name: target, functions: [], callbacks: {} };
      objects.set(target, obj);
    }
    if (input.meta.coldParts && input.meta.coldParts.length > 0) obj.coldParts = [...(obj.coldParts ?? []), ...input.meta.coldParts];
    input.meta.functions.forEach((f, k) => {
      const key = `${target}\0${f.oldName}\0${f.sympos}`;
      const prev = funcKeys.get(key);
      if (prev !== undefined) throw new KelpError(`function ${f.oldName} (sympos ${f.sympos}) of ${target} is also patched by ${prev}`, input.file);
      funcKeys.set(key, input.file);
      obj!.functions.push({ oldName: f.oldName, newSymbol: `__kelp_func_${i}_${k}`, sympos: f.sympos });
    });
    for (const kind of CALLBACK_KINDS) {
      if (!input.meta.callbacks[kind]) continue;
      if (obj.callbacks[kind]) throw new KelpError(`a second ${kind} callback for ${target} (one per object)`, input.file);
      obj.callbacks[kind] = `__kelp_cb_${i}_${kind}`;
    }
  });
  // The kernel applies a module's .klp.rela sections only for a klp_object of
  // that module; relocations go to the target's sections (klpRelaObject), and
  // one for a module the patch does not patch would never be applied.
  for (const input of inputs) {
    for (const k of input.meta.klpSymbols) {
      const rela = klpRelaObject(k, input.meta.target);
      if (rela !== 'vmlinux' && !objects.has(rela)) {
        throw new KelpError(`${k.placeholder}: the patch patches nothing in ${rela}, so the kernel would never apply relocations against it`, input.file);
      }
    }
  }
  return { objects: [...objects.values()], standIns, standInOf };
}

/**
 * The object kbuild links for input number `index`: .kelp.meta removed,
 * placeholders renamed to their stand-ins, and a hidden GLOBAL alias for each
 * replacement function and callback (the original symbols keep their names and
 * binding, so kallsyms and stack traces show the real names).
 */
/**
 * The tables objtool makes that kbuild's objtool run on the linked module
 * makes again: under IBT (Linux 6.12's delay-objtool) objtool runs on the
 * linked module only, and skips each table some part already has ("file
 * already has .return_sites, skipping"), leaving the other parts' code, kelp's
 * own module init and exit among it, unlisted: a return through an unlisted
 * __x86_return_thunk warns "Unpatched return thunk" on a kernel that needs no
 * thunk. So without them in any part, the linked run lists all the module's code.
 */
export const OBJTOOL_LINK_TABLES: readonly string[] = ['.return_sites', '.call_sites', '.retpoline_sites', '.ibt_endbr_seal', '.orc_unwind', '.orc_unwind_ip'];

export function kbuildCopy(input: DiffInput, index: number, plan: LinkPlan, opts: { objtoolOnLink?: boolean } = {}): Buffer {
  const obj = input.obj;
  try {
    removeSection(obj, input.metaSection);
    if (opts.objtoolOnLink === true) {
      for (const s of obj.sections.filter((x) => OBJTOOL_LINK_TABLES.includes(x.name))) removeSection(obj, s);
    }
  } catch (e) {
    throw new KelpError(`cannot drop ${input.metaSection.name} or objtool's tables: ${(e as Error).message}`, input.file);
  }
  for (const sym of obj.symbols) {
    if (sym.name.startsWith(STAND_IN_PREFIX) || sym.name.startsWith('__kelp_func_') || sym.name.startsWith('__kelp_cb_')) {
      throw new KelpError(`symbol ${sym.name} uses a name kelp link reserves`, input.file);
    }
    if (!sym.name.startsWith(KLP_SYM_PREFIX)) continue;
    const k = input.meta.klpSymbols.find((x) => x.placeholder === sym.name);
    const alias = k === undefined ? undefined : plan.standInOf.get(standInKey(k, input.meta.target));
    if (!alias) throw new KelpError(`placeholder ${sym.name} is not listed in .kelp.meta`, input.file);
    sym.name = alias;
    sym.bind = STB_GLOBAL;
  }
  const addAlias = (target: ElfSymbol, alias: string) => {
    const a = new ElfSymbol(alias, STB_GLOBAL, STT_FUNC);
    a.section = target.section;
    a.value = target.value;
    a.size = target.size;
    a.other = STV_HIDDEN;
    obj.addSymbol(a);
  };
  input.meta.functions.forEach((f, k) => addAlias(definedFunction(input, f.name, 'patched function'), `__kelp_func_${index}_${k}`));
  for (const kind of CALLBACK_KINDS) {
    const name = input.meta.callbacks[kind];
    if (name) addAlias(definedFunction(input, name, `${kind} callback`), `__kelp_cb_${index}_${kind}`);
  }
  return writeObject(obj);
}
