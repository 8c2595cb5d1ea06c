/**
 * Rendering the patch module's C source (templates/livepatch.c.in): one
 * klp_func table per patched object, the klp_object array with callbacks, and
 * the klp_patch with the atomic-replace flag.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KelpError } from '../errors.js';

/** The repository's templates/ directory (works from src/ and from dist/src/). */
export function templatesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'templates', 'livepatch.c.in');
    try {
      readFileSync(candidate);
      return join(dir, 'templates');
    } catch {
      const up = resolve(dir, '..');
      if (up === dir) throw new KelpError('cannot find the templates/ directory');
      dir = up;
    }
  }
}

export interface TemplateFunction {
  /** klp_func.old_name. */
  oldName: string;
  /** The C identifier of the replacement (declared extern). */
  newSymbol: string;
  /** klp_func.old_sympos. */
  sympos: number;
}

export interface TemplateCallbacks {
  prePatch?: string;
  postPatch?: string;
  preUnpatch?: string;
  postUnpatch?: string;
}

export interface TemplateObject {
  /** `vmlinux` or a module name. */
  name: string;
  functions: TemplateFunction[];
  callbacks: TemplateCallbacks;
  /** Old .cold parts of the replaced functions: recorded as modinfo kelp_cold=OBJECT:SYMBOL. */
  coldParts?: string[];
}

export interface TemplateInput {
  moduleName: string;
  objects: TemplateObject[];
  replace: boolean;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A C string literal for a symbol or object name. */
export function cString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (c < 0x20 || c > 0x7e) out += `\\${c.toString(8).padStart(3, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function ident(s: string, what: string): string {
  if (!IDENT.test(s)) throw new KelpError(`${what} ${JSON.stringify(s)} is not a C identifier`);
  return s;
}

/** Renders the module source from the template text. */
export function renderLivepatchSource(input: TemplateInput, template?: string): string {
  const text = template ?? readFileSync(join(templatesDir(), 'livepatch.c.in'), 'utf8');
  if (input.objects.length === 0) throw new KelpError('a livepatch needs at least one patched object');
  const decls: string[] = [];
  const tables: string[] = [];
  const objects: string[] = [];
  const declared = new Set<string>();
  const declare = (line: string, key: string) => {
    if (!declared.has(key)) {
      declared.add(key);
      decls.push(line);
    }
  };
  input.objects.forEach((obj, i) => {
    const table = `kelp_funcs_${i}`;
    const cb = obj.callbacks;
    for (const f of obj.functions) declare(`extern void ${ident(f.newSymbol, 'function symbol')}(void);`, f.newSymbol);
    if (cb.prePatch) declare(`extern int ${ident(cb.prePatch, 'callback')}(struct klp_object *obj);`, cb.prePatch);
    for (const name of [cb.postPatch, cb.preUnpatch, cb.postUnpatch]) {
      if (name) declare(`extern void ${ident(name, 'callback')}(struct klp_object *obj);`, name);
    }
    const lines = [`static struct klp_func ${table}[] = {`];
    for (const f of obj.functions) {
      if (!Number.isInteger(f.sympos) || f.sympos < 0) throw new KelpError(`function ${f.oldName}: sympos ${f.sympos} is not a non-negative integer`);
      lines.push('\t{');
      lines.push(`\t\t.old_name = ${cString(f.oldName)},`);
      lines.push(`\t\t.new_func = ${f.newSymbol},`);
      lines.push(`\t\t.old_sympos = ${f.sympos},`);
      lines.push('\t},');
    }
    lines.push('\t{ }', '};', '');
    tables.push(lines.join('\n'));
    const o = ['\t{'];
    o.push(obj.name === 'vmlinux' ? '\t\t.name = NULL, /* vmlinux */' : `\t\t.name = ${cString(obj.name)},`);
    o.push(`\t\t.funcs = ${table},`);
    const cbs: string[] = [];
    if (cb.prePatch) cbs.push(`\t\t\t.pre_patch = ${cb.prePatch},`);
    if (cb.postPatch) cbs.push(`\t\t\t.post_patch = ${cb.postPatch},`);
    if (cb.preUnpatch) cbs.push(`\t\t\t.pre_unpatch = ${cb.preUnpatch},`);
    if (cb.postUnpatch) cbs.push(`\t\t\t.post_unpatch = ${cb.postUnpatch},`);
    if (cbs.length > 0) o.push('\t\t.callbacks = {', ...cbs, '\t\t},');
    o.push('\t},');
    objects.push(o.join('\n'));
  });
  const coldInfo = input.objects.flatMap((obj) => [...new Set(obj.coldParts ?? [])].sort().map((p) => `MODULE_INFO(kelp_cold, ${cString(`${obj.name}:${p}`)});`));
  const values: Record<string, string> = {
    MODULE_INFO: coldInfo.join('\n'),
    MODULE_NAME: input.moduleName,
    DECLARATIONS: decls.join('\n'),
    FUNCTION_TABLES: tables.join('\n'),
    OBJECTS: objects.join('\n'),
    REPLACE: input.replace ? 'true' : 'false',
  };
  return text.replace(/@([A-Z_]+)@/g, (all, key: string) => {
    const v = values[key];
    if (v === undefined) throw new KelpError(`template: unknown placeholder ${all}`);
    return v;
  });
}
