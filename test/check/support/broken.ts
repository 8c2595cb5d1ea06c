/**
 * Shared by the kelp check tests: the good vmlinux livepatch kelp link builds
 * from the cmdline fixture, and the tools that break a copy of it one rule at
 * a time with the ELF model and writer.
 */
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RELA_SIZE, SHF_ALLOC, SHF_INFO_LINK, SHF_RELA_LIVEPATCH, SHT_RELA } from '../../../elf/constants.js';
import { ElfObject, Section, type Relocation } from '../../../elf/model.js';
import { writeObject } from '../../../elf/writer.js';
import { linkModule } from '../../../src/link/index.js';
import type { CheckReport } from '../../../src/check/index.js';
import { cmdlineDiff } from '../../link/support/fixtures.js';

export const VMLINUX_SYM = '.klp.sym.vmlinux.saved_command_line,0';
export const VMLINUX_RELA = '.klp.rela.vmlinux..text';
/** The function the cmdline fixture patches (its klp_func old_name). */
export const PATCHED_FUNCTION = 'cmdline_proc_show';

/** Builds the cmdline diff object and links it into a vmlinux livepatch `<dir>/<name>.ko` (replace mode). */
export async function linkCmdlineModule(dir: string, kdir: string, name: string): Promise<{ module: string; diff: string }> {
  const diff = await cmdlineDiff(dir, kdir);
  const module = join(dir, `${name}.ko`);
  await linkModule({ inputs: [diff], kdir, name, output: module, replace: true });
  return { module, diff };
}

/** The distinct rules of a report, sorted. */
export const rules = (r: CheckReport): string[] => [...new Set(r.problems.map((p) => p.rule))].sort();

/** Reads a good module, lets `edit` break it, writes it to `out`. */
export async function writeBroken(from: string, out: string, edit: (obj: ElfObject) => void): Promise<string> {
  const obj = ElfObject.read(await fs.readFile(from), from);
  edit(obj);
  await fs.writeFile(out, writeObject(obj));
  return out;
}

export const section = (obj: ElfObject, name: string): Section => {
  const s = obj.sections.find((x) => x.name === name);
  if (!s) throw new Error(`no section ${name}`);
  return s;
};

export const klpSym = (obj: ElfObject, name: string) => {
  const s = obj.symbols.find((x) => x.name === name);
  if (!s) throw new Error(`no symbol ${name}`);
  return s;
};

/** Replaces a NUL-terminated string (or, with `prefix`, the start of one) in a section with text of the same length. */
export function replaceString(s: Section, from: string, to: string, prefix = false): void {
  expect(to.length).toBe(from.length);
  const data = Buffer.from(s.data);
  const at = data.indexOf(Buffer.from(prefix ? `\0${from}` : `${from}\0`, 'latin1')) + (prefix ? 1 : 0);
  expect(at).toBeGreaterThanOrEqual(prefix ? 1 : 0);
  expect(at).toBeGreaterThanOrEqual(0);
  data.write(to, at, 'latin1');
  s.data = data;
}

/** Replaces the klp_func old_name string `from` (in the .rodata.str sections) with `to`, of the same length. */
export function renameOldName(obj: ElfObject, from: string, to: string): void {
  let n = 0;
  for (const s of obj.sections) {
    if (s.name.startsWith('.rodata.str') && s.data.includes(Buffer.from(`${from}\0`, 'latin1'))) {
      replaceString(s, from, to);
      n++;
    }
  }
  expect(n).toBeGreaterThan(0);
}

export function dropModinfo(obj: ElfObject, key: string): void {
  const s = section(obj, '.modinfo');
  const entry = Buffer.from(`${key}=`, 'latin1');
  const data = Buffer.from(s.data);
  const at = data.indexOf(entry);
  expect(at).toBeGreaterThanOrEqual(0);
  // Overwrite the key so the entry no longer reads as `key=`; sizes and symbols stay put.
  data.write('x'.repeat(key.length), at, 'latin1');
  s.data = data;
}

/** Appends a `key=value` entry at the end of .modinfo (nothing points past its end, so nothing moves). */
export function addModinfo(obj: ElfObject, key: string, value: string): void {
  const s = section(obj, '.modinfo');
  s.data = Buffer.concat([s.data, Buffer.from(`${key}=${value}\0`, 'latin1')]);
}

/** Each name of a System.map with how often it occurs and its type letters. */
export function systemMapNames(systemMap: string): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const line of readFileSync(systemMap, 'latin1').split('\n')) {
    const [, letter, name] = line.split(' ');
    if (!name || !/^[A-Za-z_]\w*$/.test(name)) continue;
    let l = names.get(name);
    if (!l) names.set(name, (l = []));
    l.push(letter);
  }
  return names;
}

/** A name the System.map holds exactly twice (of `length` characters, when given). */
export function duplicatedName(systemMap: string, length?: number): string {
  const dup = [...systemMapNames(systemMap)].find(([name, l]) => l.length === 2 && (length === undefined || name.length === length));
  if (!dup) throw new Error(`no duplicated name${length === undefined ? '' : ` of ${length} characters`} in the System.map`);
  return dup[0];
}

/** A name the System.map holds once, as a data symbol (d, D, b or B), of `length` characters. */
export function uniqueDataName(systemMap: string, length: number): string {
  const found = [...systemMapNames(systemMap)].find(([name, l]) => name.length === length && l.length === 1 && /^[dDbB]$/.test(l[0]));
  if (!found) throw new Error(`no unique data symbol of ${length} characters in the System.map`);
  return found[0];
}

/**
 * The `.klp.rela.<object>.<target>` section of a module, made as kelp link
 * makes one (SHT_RELA, SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH,
 * sh_link .symtab, sh_info the target) when the module has none.
 */
export function klpRelaSection(obj: ElfObject, object: string, target: string): Section {
  const name = `.klp.rela.${object}.${target}`;
  const found = obj.sections.find((x) => x.name === name);
  if (found) return found;
  const s = new Section(name, SHT_RELA, SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH);
  s.link = obj.symtab;
  s.infoSection = section(obj, target);
  s.entsize = RELA_SIZE;
  s.align = 8;
  s.relocations = [];
  obj.sections.push(s);
  return s;
}

/** Takes the relocation at `offset` of `target` out of whichever relocation section holds it (dropping a section it empties). */
export function takeRelocation(obj: ElfObject, target: string, offset: bigint): Relocation {
  const t = section(obj, target);
  for (const s of obj.sections) {
    if (s.infoSection !== t || !s.relocations) continue;
    const i = s.relocations.findIndex((r) => r.offset === offset);
    if (i < 0) continue;
    const [r] = s.relocations.splice(i, 1);
    if (s.relocations.length === 0) obj.sections = obj.sections.filter((x) => x !== s);
    return r;
  }
  throw new Error(`no relocation at ${target}+0x${offset.toString(16)}`);
}
