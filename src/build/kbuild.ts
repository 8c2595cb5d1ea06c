/**
 * Building single objects with a tree's own kbuild, and reading what kbuild
 * records about them (.cmd files: the command, the source, the dependencies,
 * the module an object belongs to).
 */
import { kernelModuleName } from '../kmod/names.js';
import { promises as fs, readFileSync } from 'node:fs';
import { basename, dirname, join, posix } from 'node:path';
import { KelpError } from '../errors.js';
import { runMake, type Children, type MakeResult } from '../kernel/make.js';
import { templatesDir } from '../link/template.js';

/** The code-generation flags every object kelp compares is built with. */
export { KELP_KCFLAGS } from '../target/source.js';

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

/** Runs make for `kelp build`: kpatch-style patches find kpatch-macros.h (patchIncludePath), quiet kbuild. */
export function runBuildMake(args: string[], opts: { cwd: string; children: Children; onSpawn?: (pid: number) => void; log?: (line: string) => void }): Promise<MakeResult> {
  return runMake(args, { ...opts, vars: { LC_ALL: 'C', KBUILD_VERBOSE: '0', CPATH: patchIncludePath() } });
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

