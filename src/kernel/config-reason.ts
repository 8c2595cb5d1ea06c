/**
 * Why the configuration does not build a file: the CONFIG option its
 * directory's Makefile ties it to (`obj-$(CONFIG_X) += file.o`, a composite
 * `foo-$(CONFIG_X) += file.o`, an `ifdef CONFIG_X` around the line), or, for a
 * directory kbuild never enters, the option of the parent's `dir/` line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { ConfiguredTree } from './configured.js';

export interface NotConfigured {
  /** The option the Makefile ties the file (or its directory) to, when one is named. */
  option: string | null;
  /** The Makefile that does. */
  makefile: string | null;
  /** One sentence for the user. */
  message: string;
  /**
   * The Makefile builds the file, but outside vmlinux's and the modules'
   * objects (a blob such as the kexec purgatory, a prepare step): kelp cannot
   * tell whether the running kernel changes, so this is a refusal, not "no change".
   */
  special: boolean;
}

interface LogicalLine { text: string; conds: string[] }

/** A Makefile's logical lines (continuations joined), each with the CONFIG_ options of the conditionals around it. */
function logicalLines(text: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const stack: string[][] = [];
  const raw = text.replace(/\\\n/g, ' ').split('\n');
  for (const line of raw) {
    const l = line.replace(/#.*$/, '').trim();
    if (/^(ifdef|ifndef|ifeq|ifneq)\b/.test(l)) {
      stack.push([...l.matchAll(/CONFIG_[A-Za-z0-9_]+/g)].map((m) => m[0]));
      continue;
    }
    if (/^else\b/.test(l)) continue;
    if (/^endif\b/.test(l)) {
      stack.pop();
      continue;
    }
    if (l !== '') out.push({ text: l, conds: stack.flat() });
  }
  return out;
}

function kbuildFile(tree: string, dir: string): string | null {
  for (const f of ['Kbuild', 'Makefile']) if (existsSync(join(tree, dir, f))) return posix.join(dir, f);
  return null;
}

/** The option a Makefile line assigning `token` names: the variable's $(CONFIG_X), else an enclosing conditional's. */
function optionFor(tree: string, makefile: string, token: string, depth = 0): { option: string | null; line: string; variable: string } | null {
  const text = readFileSync(join(tree, makefile), 'latin1');
  for (const l of logicalLines(text)) {
    const m = /^([A-Za-z0-9_.$()-]+?)\s*(\+=|:=|=|\?=)\s*(.*)$/.exec(l.text);
    if (!m || !m[3].split(/\s+/).includes(token)) continue;
    const variable = m[1];
    const own = /\$\((CONFIG_[A-Za-z0-9_]+)\)/.exec(variable);
    if (own) return { option: own[1], line: l.text, variable };
    // A composite's part (foo-y += file.o): the composite's own line decides.
    const comp = /^(.+?)-(y|objs)$/.exec(variable);
    if (comp && !/^(obj|lib|subdir)$/.test(comp[1]) && depth < 3) {
      const parent = optionFor(tree, makefile, `${comp[1]}.o`, depth + 1);
      if (parent !== null && parent.option !== null) return parent;
    }
    return { option: l.conds.length > 0 ? l.conds[l.conds.length - 1] : null, line: l.text, variable };
  }
  return null;
}

function isSet(config: string, option: string): boolean {
  return new RegExp(`^${option}=`, 'm').test(config);
}

function optionState(config: string, option: string): string {
  const m = new RegExp(`^${option}=(.*)$`, 'm').exec(config);
  return m ? `${option}=${m[1]}` : `${option} is not set`;
}

/** Why `file` (a .c path relative to the tree) is not built by the configuration `conf`. */
export function whyNotConfigured(tree: string, conf: ConfiguredTree, config: string, file: string): NotConfigured {
  const visited = new Set(conf.dirs);
  const dir = posix.dirname(file);
  if (file.startsWith('tools/')) {
    return { option: null, makefile: null, special: false, message: 'a source of the host tools under tools/: no object of this kernel\'s configuration is built from it or includes it' };
  }
  const obj = `${posix.basename(file).replace(/\.[cS]$/, '')}.o`;
  if (visited.has(dir)) {
    const mk = kbuildFile(tree, dir);
    const found = mk === null ? null : optionFor(tree, mk, obj);
    if (found === null) return { option: null, makefile: mk, special: false, message: `not built by this kernel's configuration (${mk ?? dir} does not list ${obj})` };
    if (found.option !== null && !isSet(config, found.option)) {
      return { option: found.option, makefile: mk, special: false, message: `not built by this kernel's configuration: ${mk} builds it with ${found.option} (${optionState(config, found.option)})` };
    }
    return { option: null, makefile: mk, special: true, message: `built by ${mk} outside vmlinux's and the modules' objects (${found.line}), which kelp cannot live-patch` };
  }
  // The nearest directory kbuild enters, and the line that would lead on.
  const parts = dir.split('/');
  for (let n = parts.length - 1; n >= 1; n--) {
    const up = parts.slice(0, n).join('/');
    if (!visited.has(up)) continue;
    const child = `${parts[n]}/`;
    const mk = kbuildFile(tree, up);
    const found = mk === null ? null : optionFor(tree, mk, child);
    const sub = parts.slice(0, n + 1).join('/');
    if (found !== null && found.option !== null && !isSet(config, found.option)) {
      return { option: found.option, makefile: mk, special: false, message: `not built by this kernel's configuration: ${mk} enters ${sub}/ with ${found.option} (${optionState(config, found.option)})` };
    }
    return { option: null, makefile: mk, special: false, message: `not built by this kernel's configuration (kbuild does not enter ${sub}/)` };
  }
  return { option: null, makefile: null, special: false, message: `not built by this kernel's configuration (kbuild does not enter ${dir}/)` };
}
