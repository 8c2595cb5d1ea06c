/**
 * Inclusion: which functions and data go into the output, and how every
 * reference the included code makes is reached: defined in the output,
 * an ordinary undefined symbol (exported by vmlinux or another module), or a
 * `.klp.sym` placeholder (local to the target, not exported, or exported by
 * the target module itself). Starts from the changed functions, callbacks
 * and new globals, and follows relocations to a fixed point. Symbols and
 * sections are the patched object's indices.
 */
import { findSympos } from '../symbols/sympos.js';
import type { DiffContext } from './context.js';
import { refuse } from './context.js';
import { CHANGED, F_FORCED, F_IGNORED, F_INCLUDE, F_VIA_CALLERS, NEW, SAME, type Kelf } from './model.js';
import { C_AUX, C_DROPPED, C_INIT, C_KPATCH, C_SPECIAL } from './sections.js';
import { isReplaceable, patchThroughCallers } from './callers.js';
import { hasFentry } from './structure.js';
import type { Markers } from './markers.js';
import type { KeyTest } from './key-test.js';

export type Resolution =
  | { kind: 'self' }
  | { kind: 'undef'; name: string }
  | { kind: 'klp'; object: string; name: string; sympos: number }
  | { kind: 'error' };

const SELF: Resolution = { kind: 'self' };
const ERROR: Resolution = { kind: 'error' };

export class Inclusion {
  /** Sections copied whole. */
  readonly whole = new Set<number>();
  /** Sections copied in part: the included symbols' ranges. */
  readonly chunks = new Map<number, Set<number>>();
  /** Changed functions that replace target functions (klp_func), in patched order. */
  readonly functions: number[] = [];
  readonly newFunctions: number[] = [];
  readonly newData: number[] = [];
  /** Changed functions without __fentry__ replaced through their callers → those callers. */
  readonly viaCallers = new Map<number, number[]>();
  readonly resolutions = new Map<number, Resolution>();
  /** Kept entry indices per special section. */
  readonly special = new Map<number, number[]>();
  /** Jump label sites keyed in a module, tested at run time (key-test.ts), by `section:offset`. */
  readonly keyTests = new Map<string, KeyTest>();
  /** Tracepoint sites keyed in a module that stay off (NOPed), by section: where no key test fits (key-test.ts). */
  readonly offSites = new Map<number, Array<{ at: number; length: 2 | 5 }>>();
  private readonly queue: Array<[number, number, number]> = [];
  private neighbours: Set<string> | null = null;

  constructor(private readonly ctx: DiffContext) {}

  includeFunction(f: number): void {
    const k = this.ctx.patched;
    if (k.has(f, F_INCLUDE)) return;
    k.set(f, F_INCLUDE);
    const pfx = k.prefix.get(f);
    if (pfx !== undefined) k.set(pfx, F_INCLUDE);
    const sec = k.symSec[f];
    if (k.secBundled[sec] === f) this.includeWhole(sec);
    else {
      if (pfx !== undefined) this.includeChunk(pfx);
      this.includeChunk(f);
    }
    if (!(k.symTwin[f] && k.symStatus[f] === CHANGED && !k.parent.has(f))) this.newFunctions.push(f);
    for (const c of k.children.get(f) ?? []) this.includeFunction(c);
  }

  includeWhole(sec: number): void {
    if (this.whole.has(sec)) return;
    this.whole.add(sec);
    this.queue.push([sec, 0, Number.MAX_SAFE_INTEGER]);
  }

  includeChunk(sym: number): void {
    const k = this.ctx.patched;
    const sec = k.symSec[sym];
    if (this.whole.has(sec)) return;
    let set = this.chunks.get(sec);
    if (!set) this.chunks.set(sec, (set = new Set()));
    if (set.has(sym)) return;
    set.add(sym);
    this.queue.push([sec, k.value(sym), k.value(sym) + Math.max(k.size(sym), 1)]);
  }

  /** True when relocation `j` (of the patched object) reaches included code. */
  isIncludedCode(j: number): boolean {
    const k = this.ctx.patched;
    const t = k.relSym[j];
    if (!t || !k.symSec[t]) return false;
    if (k.isFunc(t)) return k.has(t, F_INCLUDE);
    const sec = k.symSec[t];
    const b = k.secBundled[sec];
    return k.isText(sec) && this.whole.has(sec) && (b === 0 || k.has(b, F_INCLUDE));
  }

  /** Follows the relocations of everything queued. */
  drain(): void {
    const k = this.ctx.patched;
    let head = 0;
    while (head < this.queue.length) {
      const [sec, from, to] = this.queue[head++];
      const [a, b] = k.relRange(sec, from, to);
      for (let j = a; j < b; j++) if (k.relSym[j]) this.resolve(k.relSym[j], sec, j);
    }
    this.queue.length = 0;
  }

  resolve(sym: number, from: number, j: number): Resolution {
    const own = this.ownDescriptor(sym, j);
    if (own !== null) return own;
    const hit = this.resolutions.get(sym);
    if (hit) return hit;
    const res = this.decide(sym, from, j);
    this.resolutions.set(sym, res);
    return res;
  }

  /** Dynamic-debug descriptors the output carries as its own (module targets), in the order first reached. */
  readonly ownDescriptors: number[] = [];

  /**
   * A module's dynamic-debug descriptor (pr_debug, dev_dbg) that included
   * code refers to: the livepatch gets its own copy in its own __dyndbg
   * section. The module's descriptor holds the jump label key of the site,
   * and the kernel applies a livepatch's relocations to a module too late
   * for jump labels; with its own descriptor the key is the livepatch
   * module's, registered when it loads, and the site is switched on and off
   * through the livepatch module's entry in dynamic debug control. Decided
   * per relocation: references by section symbol reach different descriptors.
   */
  private ownDescriptor(sym: number, j: number): Resolution | null {
    const k = this.ctx.patched;
    const sec = k.symSec[sym];
    if (this.ctx.target === 'vmlinux' || !sec || k.secName(sec) !== '__dyndbg') return null;
    const at = (k.isSection(sym) ? 0 : k.value(sym)) + k.relAdd[j];
    const d = k.isData(sym) && !k.isSection(sym) ? sym : k.symbolAt(sec, at);
    if (!d || !k.isData(d)) return null;
    if (!k.has(d, F_INCLUDE)) {
      this.includeData(d, false);
      this.ownDescriptors.push(d);
    }
    return SELF;
  }

  private decide(sym: number, from: number, j: number): Resolution {
    const ctx = this.ctx;
    const k = ctx.patched;
    if (k.isUndefined(sym)) return this.external(sym);
    const sec = k.symSec[sym];
    if (!sec) return this.external(sym); // SHN_ABS and friends: by name
    if ((k.secClass[sec] & C_KPATCH) !== 0) {
      // Patch-author markers are read by the diff, never copied: code must not point into them.
      refuse(ctx, k.where(from, k.relOff[j]), `reference to ${k.secName(sec)}, a kpatch marker section that never reaches the output`, 'patch-marker');
      return ERROR;
    }
    const isFunc = k.isFunc(sym);
    const isData = k.isData(sym);
    if (k.isSection(sym) || k.isStrings(sec) || (!isFunc && !isData)) {
      // An unnamed place: copy its section when that is safe.
      if (this.whole.has(sec)) return SELF;
      const syms = k.symsOf(sec);
      let hasCode = false;
      let changedData = false;
      for (const s of syms) {
        if (k.isData(s) || k.isFunc(s)) hasCode = true;
        if (k.isData(s) && k.symStatus[s] === CHANGED) changedData = true;
      }
      if (k.isStrings(sec) || (k.secClass[sec] & C_AUX) !== 0 || !hasCode || (!k.isWritable(sec) && !k.isText(sec) && !changedData)) {
        this.includeWhole(sec);
        return SELF;
      }
      const b = k.secBundled[sec];
      if (b && !k.isSection(sym)) return this.resolve(b, from, j);
      refuse(ctx, k.where(from, k.relOff[j]), `reference to ${k.secName(sec)}+0x${(k.relAdd[j] + (k.isSection(sym) ? 0 : k.value(sym))).toString(16)}, which no symbol names; it cannot be reached from a patch`, 'unnamed-reference');
      return ERROR;
    }
    if (isFunc) {
      const alias = k.aliasOf.get(sym);
      if (alias !== undefined) {
        const res = this.resolve(alias, from, j);
        return res.kind === 'self' ? res : this.existing(sym);
      }
      if (k.has(sym, F_INCLUDE)) return SELF;
      const st = k.symStatus[sym];
      if (st === NEW || (st === CHANGED && !k.has(sym, F_IGNORED))) {
        this.includeFunction(sym);
        return SELF;
      }
      return this.existing(sym);
    }
    // Data.
    if (k.has(sym, F_INCLUDE)) return SELF;
    if (isCompilerConstant(k, sym) || isPerSiteState(k, sym)) {
      // __func__.N and CSWTCH.N, and the once-flags and ratelimit states of
      // WARN_ONCE, printk_once and printk_ratelimited: the patch carries its
      // own copy, changed or not. The target's would need a position among
      // its many same-named ones (often undecidable: vmlinux has dozens of
      // __already_done.26), and a fresh copy only lets a warning print once more.
      this.includeData(sym, k.symStatus[sym] === NEW);
      return SELF;
    }
    if (k.symStatus[sym] === NEW && (k.secClass[sec] & C_DROPPED) === 0) {
      this.includeData(sym);
      return SELF;
    }
    if (this.isAmbiguousConstant(sym)) {
      // A file's read-only bytes (ACPI_MODULE_NAME's _acpi_module_name, a
      // const lookup table) that the target has under the same name in many
      // files, none tellable from the others: the patch carries an identical
      // copy. Nothing can change bytes that are read-only and point nowhere.
      ctx.notes.push(`${k.symName(sym)}: the target has several read-only ${k.symName(sym)} and none can be told apart; the patch carries its own copy of these ${k.size(sym)} constant byte(s)`);
      this.includeData(sym, false);
      return SELF;
    }
    return this.existing(sym);
  }

  /** Copies data into the output; `report`: list it as new data (not for copies of unchanged records). */
  includeData(d: number, report = true): void {
    const k = this.ctx.patched;
    if (k.has(d, F_INCLUDE)) return;
    k.set(d, F_INCLUDE);
    if (report) this.newData.push(d);
    const sec = k.symSec[d];
    if (k.secBundled[sec] === d) this.includeWhole(sec);
    else this.includeChunk(d);
  }

  /**
   * A local, unchanged, read-only data object without relocations (plain
   * bytes) whose position among the target's same-named symbols cannot be
   * decided.
   */
  private isAmbiguousConstant(sym: number): boolean {
    const ctx = this.ctx;
    const k = ctx.patched;
    const sec = k.symSec[sym];
    if (!ctx.symbols || !k.isLocal(sym) || k.isWritable(sec) || k.isText(sec) || k.symStatus[sym] === CHANGED) return false;
    const [a, b] = k.relRange(sec, k.value(sym), k.value(sym) + Math.max(k.size(sym), 1));
    if (b > a) return false;
    const twin = k.symTwin[sym];
    const name = twin ? ctx.orig.symName(twin) : k.symName(sym);
    return !findSympos(ctx.symbols, { name, file: ctx.orig.sourceFile, neighbours: this.ownNames(), global: false }).ok;
  }

  /** The named symbols the original object defines (neighbours for findSympos). */
  private ownNames(): Set<string> {
    if (!this.neighbours) {
      this.neighbours = new Set();
      const o = this.ctx.orig;
      for (let s = 1; s < o.nsym; s++) if (o.isNamed(s) && !o.isUndefined(s)) this.neighbours.add(o.symName(s));
    }
    return this.neighbours;
  }

  /** A symbol of the target that the output refers to. */
  private existing(sym: number): Resolution {
    const k = this.ctx.patched;
    const twin = k.symTwin[sym];
    const name = twin ? this.ctx.orig.symName(twin) : k.symName(sym);
    const local = k.isLocal(sym);
    if (!local) {
      const exp = this.ctx.symvers.get(name);
      if (exp && this.loaderResolves(exp.module)) return { kind: 'undef', name };
    }
    return { kind: 'klp', object: this.ctx.target, name, sympos: this.sympos(name, !local, sym) };
  }

  /** The module loader resolves exports of vmlinux and of other modules; the target module's own go through klp. */
  private loaderResolves(exporter: string): boolean {
    return exporter === 'vmlinux' || exporter !== this.ctx.target;
  }

  /** A symbol the patched object does not define. */
  private external(sym: number): Resolution {
    const name = this.ctx.patched.symName(sym);
    // New in another object of this livepatch: the module's own link resolves it.
    if (this.ctx.provided.has(name)) return { kind: 'undef', name };
    const exp = this.ctx.symvers.get(name);
    if (exp && exp.module !== 'vmlinux' && exp.module !== this.ctx.target && this.ctx.targetDepends?.has(exp.module)) {
      // An export of a module the target depends on: a livepatch relocation applied with the
      // target (which loads after it), so the livepatch loads on hosts that lack that module.
      return { kind: 'klp', object: exp.module, name, sympos: 0 };
    }
    if (exp && this.loaderResolves(exp.module)) return { kind: 'undef', name };
    const object = this.ownerOfExternal(sym, name);
    return { kind: 'klp', object, name, sympos: this.sympos(name, true, sym, object) };
  }

  /**
   * Which object defines a symbol this object references from outside (and
   * no export resolves): for a vmlinux target, vmlinux; for a module target,
   * the module when its original object defined the symbol or the target's
   * symbol table places it in the module (another object of a multi-object
   * module), otherwise vmlinux, which a vmlinux table (System.map, kallsyms,
   * vmlinux's ELF symbols) can confirm.
   */
  private ownerOfExternal(sym: number, name: string): string {
    const ctx = this.ctx;
    const target = ctx.target;
    if (target === 'vmlinux') return target;
    if (ctx.orig.namedLike(ctx.patched, sym).some((x) => !ctx.orig.isUndefined(x))) return target;
    const table = ctx.symbols;
    if (!table) return 'vmlinux';
    const positions = table.defined(name);
    const kind = this.tableKind();
    if (kind === 'kallsyms') {
      const mods = positions.map((p) => table.table.symbols[p].module);
      if (mods.includes(target)) return target;
      return 'vmlinux';
    }
    if (kind === 'module') return positions.length > 0 ? target : 'vmlinux';
    // A vmlinux table: what it defines is vmlinux's; anything else must come from the module's other objects.
    if (positions.length > 0) return 'vmlinux';
    ctx.notes.push(`${name} is not in vmlinux's symbol table ${table.table.source}; assuming another object of module ${target} defines it`);
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
  sympos(name: string, global: boolean, sym: number, object: string = this.ctx.target): number {
    const ctx = this.ctx;
    if (!ctx.symbols) return 0;
    // The table describes the target; a module's table says nothing about vmlinux's symbols.
    if (object !== ctx.target && this.tableKind() === 'module') return 0;
    const res = findSympos(ctx.symbols, { name, file: ctx.orig.sourceFile, neighbours: this.ownNames(), global });
    if (!res.ok) {
      refuse(ctx, `${ctx.patched.file}: ${ctx.patched.symName(sym)}`, `cannot tell which of the target's symbols named ${name} is meant: ${res.candidates.join(', ')}`, 'ambiguous-symbol');
      return 0;
    }
    if (!res.found && !ctx.symbols.mentions(name)) ctx.notes.push(`${name} is not in the target's symbol table ${ctx.symbols.table.source}; assuming it is unique`);
    return res.sympos;
  }
}

/** A read-only constant the compiler made and numbered: a function's name (`__func__.N`) or a switch table (`CSWTCH.N`). */
function isCompilerConstant(k: Kelf, d: number): boolean {
  return k.isLocal(d) && !k.isWritable(k.symSec[d]) && /^(?:__func__|CSWTCH)\.\d+$/.test(k.symName(d));
}

/** A static a macro makes per call site for its own bookkeeping: once-flags, ratelimit states, lockdep keys. */
function isPerSiteState(k: Kelf, d: number): boolean {
  return k.isLocal(d) && /^(?:__already_done|__print_once|__warned|_rs|__key)\.\d+$/.test(k.symName(d));
}

/** Marks changed parents, checks patchability, and includes everything the patch needs. */
export function includeChanges(ctx: DiffContext, markers: Markers): Inclusion {
  const k = ctx.patched;
  const inc = new Inclusion(ctx);
  // A changed child changes its parent (the parent is what gets replaced).
  for (const [f, first] of k.parent) {
    if (!k.isFunc(f) || k.symStatus[f] !== CHANGED) continue;
    let p = first;
    for (let q = k.parent.get(p); q !== undefined; q = k.parent.get(p)) p = q;
    if (k.has(p, F_IGNORED)) continue;
    if (k.symStatus[p] !== CHANGED) {
      k.symStatus[p] = k.symTwin[p] ? CHANGED : NEW;
      const why = k.reasons.get(f)?.[0];
      k.reason(p, `its part ${k.symName(f)} changed${why === undefined ? '' : ` (${why})`}`);
    }
  }
  for (let f = 1; f < k.nsym; f++) {
    if (!isReplaceable(k, f)) continue;
    if (k.has(f, F_FORCED) && k.symTwin[f] && k.symStatus[f] === SAME) {
      k.symStatus[f] = CHANGED;
      k.reason(f, 'forced (KPATCH_FORCE_UNSAFE)');
    }
  }
  const blocked = patchThroughCallers(ctx, inc);
  for (let f = 1; f < k.nsym; f++) {
    if (!isReplaceable(k, f) || k.symStatus[f] !== CHANGED || k.has(f, F_VIA_CALLERS)) continue;
    const sec = k.symSec[f];
    // __init/__exit code has no __fentry__ either; it is refused as init code (compare.ts), once.
    if (!hasFentry(k, f) && (k.secClass[sec] & C_INIT) === 0) {
      const why = blocked.get(f);
      refuse(ctx, `${k.file}: ${k.symName(f)}`, `changed, but it has no __fentry__ call at entry (notrace, as every \`inline\` function of the kernel is, or not built with -mfentry) and cannot be patched${why === undefined ? '' : `, nor replaced through its callers: ${why}`}`, 'no-fentry');
    }
    if (k.secBundled[sec] !== f && k.isText(sec) && (k.secClass[sec] & C_INIT) === 0) {
      refuse(ctx, `${k.file}: ${k.symName(f)}`, `changed, but it shares section ${k.secName(sec)} with other code; build with -ffunction-sections`, 'shared-section');
    }
    inc.functions.push(f);
    inc.includeFunction(f);
  }
  for (const f of markers.callbackFunctions) inc.includeFunction(f);
  // New globals: functions and data the patch adds with external linkage.
  for (let s = 1; s < k.nsym; s++) {
    const sec = k.symSec[s];
    if (!sec || k.isLocal(s) || k.symTwin[s] || k.isUndefined(s) || k.has(s, F_IGNORED)) continue;
    if ((k.secClass[sec] & (C_DROPPED | C_INIT | C_SPECIAL)) !== 0) continue;
    if (k.isFunc(s) && !k.prefixOf.has(s) && !k.aliasOf.has(s)) inc.includeFunction(s);
    else if (k.isData(s)) inc.includeData(s);
  }
  inc.drain();
  return inc;
}
