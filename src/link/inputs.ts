/**
 * Reading `kelp diff` outputs for linking: the ELF object, its .kelp.meta
 * (src/patch/meta.ts), and the checks that the two agree.
 */
import { readFileSync } from 'node:fs';
import { EM_X86_64, ET_REL, SHN_UNDEF, STT_FUNC } from '../../elf/constants.js';
import { KelpError } from '../errors.js';
import { ElfObject, ElfSymbol, Section } from '../../elf/model.js';
import { KLP_SYM_PREFIX, klpSymbolName } from '../kmod/names.js';
import {
  META_SECTION, META_VERSION,
  type Callbacks, type DiffMeta, type KlpSymbol, type PatchedFunction,
} from '../patch/meta.js';

export interface DiffInput {
  file: string;
  obj: ElfObject;
  meta: DiffMeta;
  metaSection: Section;
}

/** A kernel object name: `vmlinux` or a module name as the kernel spells it. */
const OBJECT_NAME = /^[A-Za-z0-9_]{1,55}$/;
const CALLBACK_KINDS = ['prePatch', 'postPatch', 'preUnpatch', 'postUnpatch'] as const;
export type CallbackKind = typeof CALLBACK_KINDS[number];
export { CALLBACK_KINDS };

function bad(file: string, msg: string): never {
  throw new KelpError(msg, file);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(file: string, v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') bad(file, `${META_SECTION}: ${what} is not a non-empty string`);
  return v;
}

function pos(file: string, v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad(file, `${META_SECTION}: ${what} is not a non-negative integer`);
  return v;
}

function strings(file: string, v: unknown, what: string): string[] {
  if (!Array.isArray(v)) bad(file, `${META_SECTION}: ${what} is not an array`);
  return v.map((x, i) => str(file, x, `${what}[${i}]`));
}

/** Parses and shape-checks the JSON of a .kelp.meta section. */
export function parseMeta(file: string, bytes: Buffer): DiffMeta {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    bad(file, `${META_SECTION}: not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(raw)) bad(file, `${META_SECTION}: not a JSON object`);
  if (raw.version !== META_VERSION) bad(file, `${META_SECTION}: version ${JSON.stringify(raw.version)} is not ${META_VERSION}`);
  const target = str(file, raw.target, 'target');
  if (!OBJECT_NAME.test(target)) bad(file, `${META_SECTION}: target ${JSON.stringify(target)} is not vmlinux or a module name`);
  if (!Array.isArray(raw.functions)) bad(file, `${META_SECTION}: functions is not an array`);
  const functions: PatchedFunction[] = raw.functions.map((f: unknown, i: number) => {
    if (!isRecord(f)) bad(file, `${META_SECTION}: functions[${i}] is not an object`);
    return { name: str(file, f.name, `functions[${i}].name`), oldName: str(file, f.oldName, `functions[${i}].oldName`), sympos: pos(file, f.sympos, `functions[${i}].sympos`) };
  });
  if (!Array.isArray(raw.klpSymbols)) bad(file, `${META_SECTION}: klpSymbols is not an array`);
  const klpSymbols: KlpSymbol[] = raw.klpSymbols.map((k: unknown, i: number) => {
    if (!isRecord(k)) bad(file, `${META_SECTION}: klpSymbols[${i}] is not an object`);
    const sym: KlpSymbol = {
      placeholder: str(file, k.placeholder, `klpSymbols[${i}].placeholder`),
      object: str(file, k.object, `klpSymbols[${i}].object`),
      name: str(file, k.name, `klpSymbols[${i}].name`),
      sympos: pos(file, k.sympos, `klpSymbols[${i}].sympos`),
    };
    if (!OBJECT_NAME.test(sym.object)) bad(file, `${META_SECTION}: klpSymbols[${i}].object ${JSON.stringify(sym.object)} is not vmlinux or a module name`);
    // The kernel parses `.klp.sym.%55[^.].%511[^,],%lu`.
    if (sym.name.includes(',') || sym.name.length > 511) bad(file, `${META_SECTION}: klpSymbols[${i}].name ${JSON.stringify(sym.name)} cannot be a livepatch symbol name (a ',' or over 511 bytes)`);
    if (sym.placeholder !== klpSymbolName(sym.object, sym.name, sym.sympos)) {
      bad(file, `${META_SECTION}: klpSymbols[${i}].placeholder ${sym.placeholder} does not match its object, name and sympos`);
    }
    return sym;
  });
  const cbRaw = raw.callbacks === undefined ? {} : raw.callbacks;
  if (!isRecord(cbRaw)) bad(file, `${META_SECTION}: callbacks is not an object`);
  const callbacks: Callbacks = {};
  for (const kind of CALLBACK_KINDS) {
    if (cbRaw[kind] !== undefined && cbRaw[kind] !== null) callbacks[kind] = str(file, cbRaw[kind], `callbacks.${kind}`);
  }
  return {
    version: META_VERSION,
    target,
    source: typeof raw.source === 'string' ? raw.source : file,
    functions,
    newFunctions: raw.newFunctions === undefined ? [] : strings(file, raw.newFunctions, 'newFunctions'),
    newData: raw.newData === undefined ? [] : strings(file, raw.newData, 'newData'),
    klpSymbols,
    callbacks,
    coldParts: raw.coldParts === undefined ? [] : strings(file, raw.coldParts, 'coldParts'),
  };
}

/** The one defined function of that name, or an error naming the file. */
export function definedFunction(input: DiffInput, name: string, what: string): ElfSymbol {
  const found = input.obj.symbols.filter((s) => s.name === name && s.section !== null && s.type === STT_FUNC);
  if (found.length === 0) bad(input.file, `${what} ${name} is not a function defined in the object`);
  if (found.length > 1) bad(input.file, `${what} ${name} is defined ${found.length} times in the object`);
  return found[0];
}

/** Reads a diff output and checks that its symbols and its .kelp.meta agree. */
export function readDiffInput(file: string, buf: Buffer = readFileSync(file)): DiffInput {
  const obj = ElfObject.read(buf, file);
  if (obj.header.type !== ET_REL) bad(file, 'not a relocatable object (ET_REL), so not a kelp diff output');
  if (obj.header.machine !== EM_X86_64) bad(file, `machine ${obj.header.machine} is not x86-64`);
  const metas = obj.sections.filter((s) => s.name === META_SECTION);
  if (metas.length === 0) bad(file, `no ${META_SECTION} section: not a kelp diff output`);
  if (metas.length > 1) bad(file, `${metas.length} ${META_SECTION} sections`);
  const meta = parseMeta(file, metas[0].data);
  const input: DiffInput = { file, obj, meta, metaSection: metas[0] };

  for (const f of meta.functions) definedFunction(input, f.name, 'patched function');
  for (const kind of CALLBACK_KINDS) {
    const name = meta.callbacks[kind];
    if (name) definedFunction(input, name, `${kind} callback`);
  }
  const listed = new Map(meta.klpSymbols.map((k) => [k.placeholder, k]));
  if (listed.size !== meta.klpSymbols.length) bad(file, `${META_SECTION}: klpSymbols lists a placeholder twice`);
  const seen = new Set<string>();
  for (const sym of obj.symbols) {
    if (!sym.name.startsWith(KLP_SYM_PREFIX)) continue;
    if (sym.section !== null || sym.shndx !== SHN_UNDEF) bad(file, `placeholder ${sym.name} is defined; placeholders must be undefined`);
    if (sym.isLocal) bad(file, `placeholder ${sym.name} is local; placeholders must be GLOBAL`);
    if (!listed.has(sym.name)) bad(file, `placeholder ${sym.name} is not listed in ${META_SECTION} klpSymbols`);
    if (seen.has(sym.name)) bad(file, `placeholder ${sym.name} appears twice in the symbol table`);
    seen.add(sym.name);
  }
  return input;
}
