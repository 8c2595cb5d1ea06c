/**
 * Inclusion: which functions and data go into the output, and how every
 * reference the included code makes is reached: defined in the output,
 * an ordinary undefined symbol (exported by vmlinux or another module), or a
 * `.klp.sym` placeholder (local to the target, not exported, or exported by
 * the target module itself). Starts from the changed functions, callbacks
 * and new globals, and follows relocations to a fixed point.
 */
import { findSympos } from '../symbols/sympos.js';
import type { DiffContext } from './context.js';
import { refuse } from './context.js';
import type { DRel, DSec, DSym } from './model.js';
import { isAuxCode, isDropped, isInit } from './sections.js';
import { hasFentry } from './structure.js';
import type { Markers } from './markers.js';

export type Resolution =
  | { kind: 'self' }
  | { kind: 'undef'; name: string }
  | { kind: 'klp'; object: string; name: string; sympos: number }
  | { kind: 'error' };

export class Inclusion {
  readonly whole = new Set<DSec>();
  readonly chunks = new Map<DSec, Set<DSym>>();
  /** Changed functions that replace target functions (klp_func), in patched order. */
  readonly functions: DSym[] = [];
  readonly newFunctions: DSym[] = [];
  readonly newData: DSym[] = [];
  readonly resolutions = new Map<DSym, Resolution>();
  /** Kept entry indices per special section. */
  readonly special = new Map<DSec, number[]>();
  private readonly queue: Array<[DSec, number, number]> = [];
  private neighbours: Set<string> | null = null;

  constructor(private readonly ctx: DiffContext) {}

  includeFunction(f: DSym): void {
    if (f.include) return;
    f.include = true;
    if (f.prefix) f.prefix.include = true;
    const sec = f.sec!;
    if (sec.bundled === f) this.includeWhole(sec);
    else {
      if (f.prefix) this.includeChunk(f.prefix);
      this.includeChunk(f);
    }
    if (!(f.twin && f.status === 'changed' && !f.parent)) this.newFunctions.push(f);
    for (const c of f.children) this.includeFunction(c);
  }

  includeWhole(sec: DSec): void {
    if (this.whole.has(sec)) return;
    this.whole.add(sec);
    this.queue.push([sec, 0, Number.MAX_SAFE_INTEGER]);
  }

  includeChunk(sym: DSym): void {
    const sec = sym.sec!;
    if (this.whole.has(sec)) return;
    let set = this.chunks.get(sec);
    if (!set) this.chunks.set(sec, (set = new Set()));
    if (set.has(sym)) return;
    set.add(sym);
    this.queue.push([sec, sym.value, sym.value + Math.max(sym.size, 1)]);
  }

  isIncludedCode(r: DRel): boolean {
    const t = r.sym;
    if (!t || !t.sec) return false;
    if (t.isFunc) return t.include;
    return t.sec.isText && this.whole.has(t.sec) && (t.sec.bundled === null || t.sec.bundled.include);
  }

  /** Follows the relocations of everything queued. */
  drain(): void {
    while (this.queue.length > 0) {
      const [sec, from, to] = this.queue.shift()!;
      for (const r of sec.relocsIn(from, to)) if (r.sym) this.resolve(r.sym, sec, r);
    }
  }

  resolve(sym: DSym, from: DSec, r: DRel): Resolution {
    const hit = this.resolutions.get(sym);
    if (hit) return hit;
    const res = this.decide(sym, from, r);
    this.resolutions.set(sym, res);
    return res;
  }

  private decide(sym: DSym, from: DSec, r: DRel): Resolution {
    const ctx = this.ctx;
    if (sym.isUndefined) return this.external(sym);
    const sec = sym.sec;
    if (!sec) return this.external(sym); // SHN_ABS and friends: by name
    if (sym.isSection || sec.isStrings || (!sym.isFunc && !sym.isData)) {
      // An unnamed place: copy its section when that is safe.
      if (this.whole.has(sec)) return { kind: 'self' };
      if (sec.isStrings || isAuxCode(sec.name) || !sec.syms.some((s) => s.isData || s.isFunc) || (!sec.isWritable && !sec.isText && sec.syms.every((s) => !s.isData || s.status !== 'changed'))) {
        this.includeWhole(sec);
        return { kind: 'self' };
      }
      if (sec.bundled && !sym.isSection) return this.resolve(sec.bundled, from, r);
      refuse(ctx, ctx.patched.where(from, r.offset), `reference to ${sec.name}+0x${(Number(r.addend) + (sym.isSection ? 0 : sym.value)).toString(16)}, which no symbol names; it cannot be reached from a patch`);
      return { kind: 'error' };
    }
    if (sym.isFunc) {
      if (sym.aliasOf) {
        const res = this.resolve(sym.aliasOf, from, r);
        return res.kind === 'self' ? res : this.existing(sym);
      }
      if (sym.include) return { kind: 'self' };
      if (sym.status === 'new' || (sym.status === 'changed' && !sym.ignored)) {
        this.includeFunction(sym);
        return { kind: 'self' };
      }
      return this.existing(sym);
    }
    // Data.
    if (sym.include) return { kind: 'self' };
    if (sym.status === 'new' && !isDropped(sec.name)) {
      this.includeData(sym);
      return { kind: 'self' };
    }
    return this.existing(sym);
  }

  includeData(d: DSym): void {
    if (d.include) return;
    d.include = true;
    this.newData.push(d);
    if (d.sec!.bundled === d) this.includeWhole(d.sec!);
    else this.includeChunk(d);
  }

  /** A symbol of the target that the output refers to. */
  private existing(sym: DSym): Resolution {
    const name = sym.twin ? sym.twin.name : sym.name;
    if (!sym.isLocal) {
      const exp = this.ctx.symvers.get(name);
      if (exp && this.loaderResolves(exp.module)) return { kind: 'undef', name };
    }
    return { kind: 'klp', object: this.ctx.target, name, sympos: this.sympos(name, sym.isLocal ? false : true, sym) };
  }

  /** The module loader resolves exports of vmlinux and of other modules; the target module's own go through klp. */
  private loaderResolves(exporter: string): boolean {
    return exporter === 'vmlinux' || exporter !== this.ctx.target;
  }

  /** A symbol the patched object does not define. */
  private external(sym: DSym): Resolution {
    const exp = this.ctx.symvers.get(sym.name);
    if (exp && this.loaderResolves(exp.module)) return { kind: 'undef', name: sym.name };
    const object = this.ownerOfExternal(sym);
    return { kind: 'klp', object, name: sym.name, sympos: this.sympos(sym.name, true, sym, object) };
  }

  /**
   * Which object defines a symbol this object references from outside (and
   * no export resolves): for a vmlinux target, vmlinux; for a module target,
   * the module when its original object defined the symbol or the target's
   * symbol table places it in the module (another object of a multi-object
   * module), otherwise vmlinux, which a vmlinux table (System.map, kallsyms,
   * vmlinux's ELF symbols) can confirm.
   */
  private ownerOfExternal(sym: DSym): string {
    const ctx = this.ctx;
    const target = ctx.target;
    if (target === 'vmlinux') return target;
    if (ctx.orig.byName.get(sym.name)?.some((x) => !x.isUndefined)) return target;
    const table = ctx.symbols;
    if (!table) return 'vmlinux';
    const positions = table.defined(sym.name);
    const kind = this.tableKind();
    if (kind === 'kallsyms') {
      const mods = positions.map((p) => table.table.symbols[p].module);
      if (mods.includes(target)) return target;
      return 'vmlinux';
    }
    if (kind === 'module') return positions.length > 0 ? target : 'vmlinux';
    // A vmlinux table: what it defines is vmlinux's; anything else must come from the module's other objects.
    if (positions.length > 0) return 'vmlinux';
    ctx.notes.push(`${sym.name} is not in vmlinux's symbol table ${table.table.source}; assuming another object of module ${target} defines it`);
    return target;
  }

  private kind: 'vmlinux' | 'module' | 'kallsyms' | null = null;

  /** Whose table --symbols is: a module's (an object or .ko: it has undefined symbols), vmlinux's, or kallsyms (per-symbol modules). */
  private tableKind(): 'vmlinux' | 'module' | 'kallsyms' {
    if (this.kind) return this.kind;
    const t = this.ctx.symbols!.table;
    if (t.format === 'kallsyms') this.kind = 'kallsyms';
    else if (t.format === 'system.map') this.kind = 'vmlinux';
    else this.kind = t.symbols.some((s) => !s.defined && s.name !== '' && s.kind !== 'file' && s.kind !== 'section') ? 'module' : 'vmlinux';
    return this.kind;
  }

  /** klp sympos of `name` in `object` (default: the target; 0 when unique); refuses when undecidable. */
  sympos(name: string, global: boolean, sym: DSym, object: string = this.ctx.target): number {
    const ctx = this.ctx;
    if (!ctx.symbols) return 0;
    // The table describes the target; a module's table says nothing about vmlinux's symbols.
    if (object !== ctx.target && this.tableKind() === 'module') return 0;
    if (!this.neighbours) {
      this.neighbours = new Set();
      for (const s of ctx.orig.symbols) if (s.isNamed && !s.isUndefined) this.neighbours.add(s.name);
    }
    const res = findSympos(ctx.symbols, { name, file: ctx.orig.sourceFile, neighbours: this.neighbours, global });
    if (!res.ok) {
      refuse(ctx, `${ctx.patched.file}: ${sym.name}`, `cannot tell which of the target's symbols named ${name} is meant: ${res.candidates.join(', ')}`);
      return 0;
    }
    if (!res.found && !ctx.symbols.mentions(name)) ctx.notes.push(`${name} is not in the target's symbol table ${ctx.symbols.table.source}; assuming it is unique`);
    return res.sympos;
  }
}

/** Marks changed parents, checks patchability, and includes everything the patch needs. */
export function includeChanges(ctx: DiffContext, markers: Markers): Inclusion {
  const k = ctx.patched;
  const inc = new Inclusion(ctx);
  // A changed child changes its parent (the parent is what gets replaced).
  for (const f of k.symbols) {
    if (!f.isFunc || f.status !== 'changed' || !f.parent) continue;
    let p = f.parent;
    while (p.parent) p = p.parent;
    if (p.ignored) continue;
    if (p.status !== 'changed') {
      p.status = p.twin ? 'changed' : 'new';
      p.reasons.push(`its part ${f.name} changed`);
    }
  }
  for (const f of k.symbols) {
    if (!f.isFunc || !f.sec || f.prefixOf || f.aliasOf || f.parent || f.ignored) continue;
    if (f.forced && f.twin && f.status === 'same') {
      f.status = 'changed';
      f.reasons.push('forced (KPATCH_FORCE_UNSAFE)');
    }
    if (f.status !== 'changed') continue;
    if (!hasFentry(f)) {
      refuse(ctx, `${k.file}: ${f.name}`, 'changed, but it has no __fentry__ call at entry (notrace or not built with -mfentry) and cannot be patched');
    }
    if (f.sec.bundled !== f && f.sec.isText && !isInit(f.sec.name)) {
      refuse(ctx, `${k.file}: ${f.name}`, `changed, but it shares section ${f.sec.name} with other code; build with -ffunction-sections`);
    }
    inc.functions.push(f);
    inc.includeFunction(f);
  }
  for (const f of markers.callbackFunctions) inc.includeFunction(f);
  // New globals: functions and data the patch adds with external linkage.
  for (const s of k.symbols) {
    if (!s.sec || s.isLocal || s.twin || s.isUndefined || s.ignored) continue;
    const n = s.sec.name;
    if (isDropped(n) || isInit(n) || ctx.specs.has(n)) continue;
    if (s.isFunc && !s.prefixOf && !s.aliasOf) inc.includeFunction(s);
    else if (s.isData) inc.includeData(s);
  }
  inc.drain();
  return inc;
}
