/**
 * Building single objects with a tree's own kbuild, and reading what kbuild
 * records about them (.cmd files: the command, the source, the dependencies,
 * the module an object belongs to).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { kernelModuleName } from '../kmod/names.js';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { ExitCode, KelpError } from '../errors.js';
import { makeInvocation } from '../kernel/toolchain.js';
import { templatesDir } from '../link/template.js';

/** The code-generation flags every object kelp compares is built with. */
export { KELP_KCFLAGS } from '../target/source.js';

/** The processes kelp runs (make), so an interrupt can stop them all. */
export class Children {
  private readonly running = new Set<ChildProcess>();
  stopping = false;

  add(c: ChildProcess): void {
    this.running.add(c);
    c.once('exit', () => this.running.delete(c));
  }

  /** Stops every child's process group (TERM, then KILL); resolves when all have exited. */
  async stopAll(graceMs = 1500): Promise<void> {
    this.stopping = true;
    const list = [...this.running];
    const exited = list.map((c) => new Promise<void>((res) => {
      if (c.exitCode !== null || c.signalCode !== null) res();
      else c.once('exit', () => res());
    }));
    const signal = (sig: NodeJS.Signals) => {
      for (const c of list) {
        if (c.pid === undefined) continue;
        try { process.kill(-c.pid, sig); } catch { /* already gone */ }
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), graceMs);
    await Promise.all(exited);
    clearTimeout(timer);
    // Grandchildren that ignored TERM (none should) get KILL.
    signal('SIGKILL');
  }
}

/**
 * Where gcc finds `#include "kpatch-macros.h"` of kpatch-style patches:
 * templates/ through CPATH (searched like -I, -nostdinc or not). Not through
 * KCFLAGS: a changed command line would make kbuild redo the tree's prepare
 * step and rewrite files there.
 */
export function patchIncludePath(): string {
  const own = process.env.CPATH;
  return own !== undefined && own !== '' ? `${templatesDir()}:${own}` : templatesDir();
}

export interface MakeResult { exitCode: number | null; signal: NodeJS.Signals | null; output: string }

/** Runs make in its own process group (so an interrupt stops gcc too), collecting its output. */
export function runMake(args: string[], opts: { cwd: string; children: Children; log?: (line: string) => void; onSpawn?: (pid: number) => void }): Promise<MakeResult> {
  return new Promise((res, rej) => {
    if (opts.children.stopping) {
      rej(new KelpError('interrupted', opts.cwd, ExitCode.Interrupted));
      return;
    }
    const run = makeInvocation(args, opts.cwd, { LC_ALL: 'C', KBUILD_VERBOSE: '0', CPATH: patchIncludePath() });
    const child = spawn(run.file, run.args, { cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: run.env });
    opts.children.add(child);
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const chunks: string[] = [];
    let size = 0;
    const keep = (d: Buffer) => {
      const s = d.toString('latin1');
      if (opts.log) for (const l of s.split('\n')) if (l !== '') opts.log(l);
      chunks.push(s);
      size += s.length;
      while (size > (1 << 20) && chunks.length > 1) size -= chunks.shift()!.length;
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('error', (e) => rej(new KelpError(`cannot run make: ${e.message}`, opts.cwd)));
    child.on('close', (code, sig) => res({ exitCode: code, signal: sig, output: chunks.join('') }));
  });
}

/** The lines of make's output worth showing when a build fails (compiler errors first). */
export function makeFailure(output: string): string {
  const lines = output.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
  const errors = lines.filter((l) => /\berror\b|Error \d|No rule to make target/.test(l));
  const pick = (errors.length > 0 ? errors : lines).slice(0, 3);
  return pick.join(' / ') || 'make failed';
}

/** What kbuild's .cmd file says about an object. */
export interface CmdInfo {
  command: string;
  source: string | null;
  /** Dependencies (paths as kbuild wrote them, relative to the build's cwd or absolute). */
  deps: string[];
  /** KBUILD_MODNAME (with `_`, as the kernel spells module names). */
  modname: string | null;
  /** Built as part of a module (-DMODULE) rather than vmlinux. */
  module: boolean;
}

/** The .cmd file kbuild writes for `obj`: dir/.base.o.cmd. */
export function cmdFileOf(obj: string): string {
  return join(dirname(obj), `.${basename(obj)}.cmd`);
}

/** Parses the .cmd file kbuild wrote for `obj` (path as make knows it). */
export function parseCmdFile(text: string, obj: string): CmdInfo {
  const lines = text.split('\n');
  let command = '';
  let source: string | null = null;
  const deps: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    // 6.1 writes cmd_<obj> := ...; since 6.2 kbuild writes savedcmd_<obj> := ... instead.
    if ((l.startsWith('cmd_') || l.startsWith('savedcmd_')) && l.includes(':=')) command = l.slice(l.indexOf(':=') + 2).trim();
    else if (l.startsWith('source_')) source = l.slice(l.indexOf(':=') + 2).trim();
    else if (l.startsWith('deps_') && l.includes(':=')) {
      for (let j = i + 1; j < lines.length; j++) {
        const d = lines[j].trim();
        if (d === '') { i = j; break; }
        const path = d.replace(/\\$/, '').trim();
        if (path === '' || path.startsWith('$(wildcard')) continue;
        deps.push(path);
      }
    }
  }
  if (command === '') throw new KelpError('kbuild recorded no command for this object', cmdFileOf(obj));
  const mod = /-DKBUILD_MODNAME='?"?([A-Za-z0-9_-]+)/.exec(command);
  return {
    command, source, deps,
    modname: mod ? kernelModuleName(mod[1]) : null,
    module: /(^|\s)-DMODULE(\s|$)/.test(command),
  };
}

export function readCmdFile(dir: string, obj: string): CmdInfo {
  const file = join(dir, cmdFileOf(obj));
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    throw new KelpError('kbuild wrote no .cmd file for the object', file);
  }
  return parseCmdFile(text, obj);
}

/**
 * The objects whose kbuild dependency files name one of `headers` (paths
 * relative to `dir`). Walks `dir` for `.*.o.cmd` files; skips the directories
 * that hold no kernel objects.
 */
export async function objectsIncluding(dir: string, headers: string[]): Promise<string[]> {
  const wanted = new Set(headers.map((h) => posix.normalize(h)));
  const found: string[] = [];
  const skip = new Set(['.git', 'Documentation', 'scripts', 'tools', 'usr', 'debian']);
  async function walk(rel: string): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    const subdirs: string[] = [];
    for (const e of entries) {
      const p = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (!(rel === '' && skip.has(e.name))) subdirs.push(p);
      } else if (e.isFile() && e.name.startsWith('.') && e.name.endsWith('.o.cmd') && !e.name.endsWith('.mod.o.cmd')) {
        const obj = `${rel === '' ? '' : `${rel}/`}${e.name.slice(1, -'.cmd'.length)}`;
        const text = await fs.readFile(join(dir, p), 'latin1');
        let info: CmdInfo;
        try {
          info = parseCmdFile(text, obj);
        } catch {
          continue;
        }
        if (info.source === null || !info.source.endsWith('.c')) continue;
        if (info.deps.some((d) => wanted.has(posix.normalize(d.replace(/^\.\//, ''))) || [...wanted].some((w) => d.endsWith(`/${w}`)))) found.push(obj);
      }
    }
    await Promise.all(subdirs.map(walk));
  }
  await walk('');
  return found.sort();
}

/** The value of CONFIG_<name> in a .config text (undefined when unset). */
export function configValue(config: string, name: string): string | undefined {
  const m = new RegExp(`^CONFIG_${name}=(.*)$`, 'm').exec(config);
  return m ? m[1] : undefined;
}

/** Reads a kernel .config, refusing one without livepatch support. */
export function requireLivepatchConfig(configFile: string): string {
  if (!existsSync(configFile)) throw new KelpError('no kernel configuration (.config); configure the tree first', configFile);
  const config = readFileSync(configFile, 'latin1');
  if (configValue(config, 'LIVEPATCH') !== 'y') {
    throw new KelpError('CONFIG_LIVEPATCH is not set: this kernel cannot load livepatch modules', configFile);
  }
  return config;
}
