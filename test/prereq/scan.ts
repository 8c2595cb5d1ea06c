/**
 * Finds, without running anything, the external programs kelp, its tests, its
 * examples and its tools spawn: the literal first argument of
 * execa/spawn/spawnSync/execFile/execFileSync (and of the test helpers `run`,
 * `runStatus`, `timeProcess` where a file imports them), `requireTool('x')`,
 * `requireTools([...])`, `ensureCommands({ x: 'pkg' })`, the `*_TOOLS` tables,
 * the commands of literal `sh -c '...'` scripts, and the commands of shell
 * scripts (bin/kelpctl, examples/, tools/). A call whose program is not a
 * literal is reported as dynamic, for the caller to resolve.
 */

/** One program a source spawns, or a call whose program is a variable. */
export interface Spawn {
  file: string;
  line: number;
  /** The program name, or for a dynamic call the expression that names it. */
  name: string;
  dynamic: boolean;
  /** How it was found (the calling function, a table, a shell script...). */
  via: string;
}

const SPAWNERS = ['execa', 'execaSync', 'execaNode', 'spawn', 'spawnSync', 'execFile', 'execFileSync', 'exec', 'execSync'];
/** Test helpers whose first argument is the program (test/support/tools.ts, test/link/support/run.ts, test/bench/measure.ts). */
const WRAPPERS = ['run', 'runStatus', 'timeProcess'];

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/**
 * Blanks out comments (keeping offsets), so commented-out calls do not count.
 * A comment starts after whitespace or at a line start (so 'lib/*' and
 * 'http://' inside strings are not comments); string and regex literals are
 * not parsed.
 */
function stripTsComments(text: string): string {
  const blank = (m: string) => m.replace(/[^\n]/g, ' ');
  return text
    .replace(/(^|[ \t])\/\*[\s\S]*?\*\//gm, (m, pre: string) => pre + blank(m.slice(pre.length)))
    .replace(/(^|[ \t])\/\/.*$/gm, (m, pre: string) => pre + blank(m.slice(pre.length)));
}

/** The text of the first argument starting at `start` (just after the '('), up to the top-level ',' or ')'. */
function firstArgument(text: string, start: number): { arg: string; end: number } {
  let depth = 0;
  let quote: string | null = null;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === '\\') { i++; continue; }
      if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) return { arg: text.slice(start, i).trim(), end: i };
      depth--;
    } else if (c === ',' && depth === 0) return { arg: text.slice(start, i).trim(), end: i };
  }
  return { arg: text.slice(start).trim(), end: text.length };
}

/** The value of a string literal ('x', "x", `x` without ${}), or undefined. */
function literal(expr: string): string | undefined {
  const m = /^(['"`])((?:(?!\1)[^\\$]|\\.)*)\1$/.exec(expr);
  return m ? m[2]!.replace(/\\(.)/g, '$1') : undefined;
}

/** The string literals of an array literal `[...]` (non-literals skipped). */
function arrayLiterals(expr: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(/(['"`])((?:(?!\1)[^\\$]|\\.)*)\1/g)) out.push(m[2]!);
  return out;
}

/** Resolves `requireTool('x')` and `requireTools([...])['x']` to x. */
function resolveRequired(expr: string): string[] | undefined {
  let m = /^requireTool\(\s*(['"])([^'"]+)\1\s*\)$/.exec(expr);
  if (m) return [m[2]!];
  m = /^requireTools\(\s*\[[^\]]*\]\s*\)\[\s*(['"])([^'"]+)\1\s*\]!?$/.exec(expr);
  if (m) return [m[2]!];
  return undefined;
}

/** The names a file imports from relative modules. */
function importedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"]\.{1,2}\/[^'"]*['"]/g)) {
    for (const part of m[1]!.split(',')) {
      const name = part.trim().split(/\s+as\s+/).pop()!.trim();
      if (name !== '') names.add(name);
    }
  }
  return names;
}

/** The programs a TypeScript (or JavaScript) source spawns. */
export function scanTypeScript(file: string, source: string): Spawn[] {
  const text = stripTsComments(source);
  const out: Spawn[] = [];
  const imported = importedNames(text);
  const callees = [...SPAWNERS, ...WRAPPERS.filter((w) => imported.has(w))];
  const call = new RegExp(`(?<![\\w.$])(${callees.join('|')})\\s*\\(`, 'g');
  for (const m of text.matchAll(call)) {
    const fn = m[1]!;
    const { arg, end } = firstArgument(text, m.index! + m[0].length);
    const line = lineOf(text, m.index!);
    const lit = literal(arg);
    if (lit !== undefined) {
      out.push({ file, line, name: lit, dynamic: false, via: fn });
      // sh -c 'script': the script's commands run too.
      if (/^(?:.*\/)?(?:sh|bash|dash)$/.test(lit) || lit === 'busybox') {
        const rest = text.slice(end);
        const c = /^\s*,\s*\[\s*(?:'ash'\s*,\s*|'sh'\s*,\s*)?'-c'\s*,\s*(['"`])((?:(?!\1)[^\\]|\\.)*)\1/.exec(rest);
        if (c) {
          const script = c[2]!.replace(/\$\{[^}]*\}/g, '$X');
          for (const s of scanShell(file, script)) out.push({ ...s, line, via: `${fn}(${lit} -c)` });
        }
      }
      continue;
    }
    const required = resolveRequired(arg);
    if (required !== undefined) {
      for (const r of required) out.push({ file, line, name: r, dynamic: false, via: `${fn}(requireTool)` });
      continue;
    }
    if (arg === 'process.execPath') {
      out.push({ file, line, name: 'node', dynamic: false, via: `${fn}(process.execPath)` });
      continue;
    }
    out.push({ file, line, name: arg, dynamic: true, via: fn });
  }
  for (const m of text.matchAll(/(?<![\w.$])(requireTool|which)\(\s*(['"])([^'"]+)\2\s*\)/g)) {
    out.push({ file, line: lineOf(text, m.index!), name: m[3]!, dynamic: false, via: m[1]! });
  }
  for (const m of text.matchAll(/(?<![\w.$])requireTools\(\s*(\[[^\]]*\])/g)) {
    for (const t of arrayLiterals(m[1]!)) out.push({ file, line: lineOf(text, m.index!), name: t, dynamic: false, via: 'requireTools' });
  }
  // Tool tables: `const X_TOOLS = ['tar', ...]` and the shells' `argv: ['busybox', 'ash']`.
  for (const m of text.matchAll(/\b[A-Z][A-Z0-9_]*_TOOLS\b[^=\n]*=\s*(\[[^\]]*\])/g)) {
    for (const t of arrayLiterals(m[1]!)) out.push({ file, line: lineOf(text, m.index!), name: t, dynamic: false, via: 'tool table' });
  }
  for (const m of text.matchAll(/\bargv:\s*\[\s*(['"])([^'"]+)\1/g)) {
    out.push({ file, line: lineOf(text, m.index!), name: m[2]!, dynamic: false, via: 'argv table' });
  }
  for (const m of text.matchAll(/(?<![\w.$])ensureCommands\(\s*\{([^}]*)\}/g)) {
    for (const k of m[1]!.matchAll(/(?:^|,)\s*(?:(['"])([^'"]+)\1|([\w-]+))\s*:/g)) {
      out.push({ file, line: lineOf(text, m.index!), name: k[2] ?? k[3]!, dynamic: false, via: 'ensureCommands' });
    }
  }
  return out;
}

const SHELL_KEYWORDS = new Set(['if', 'then', 'else', 'elif', 'fi', 'do', 'done', 'while', 'until', 'for', 'in', 'case', 'esac', 'function', '!', '{', '}']);
/** Builtins of dash (and bash): not programs. */
const SHELL_BUILTINS = new Set([
  '.', ':', '[', 'alias', 'bg', 'break', 'cd', 'command', 'continue', 'echo', 'eval', 'exec', 'exit', 'export', 'false',
  'fg', 'getopts', 'hash', 'jobs', 'kill', 'local', 'printf', 'pwd', 'read', 'readonly', 'return', 'set', 'shift', 'test',
  'times', 'trap', 'true', 'type', 'ulimit', 'umask', 'unalias', 'unset', 'wait',
]);
/** Programs whose first operand (after options, and NAME=VALUE for env) is itself a program they run. */
const RUNNERS = new Set(['exec', 'command', 'env', 'nohup', 'xargs', 'setsid', 'time', 'timeout', 'nice']);

/**
 * The programs a shell script runs: the command word of every simple command,
 * in $(...) and `...` too; keywords, builtins, functions the script defines,
 * assignments, case patterns and here-documents are not commands. A command
 * word that is a parameter expansion ("$x") is reported as dynamic.
 */
export function scanShell(file: string, script: string): Spawn[] {
  const functions = new Set<string>();
  for (const m of script.matchAll(/^\s*([A-Za-z_][\w-]*)\s*\(\s*\)/gm)) functions.add(m[1]!);
  const out: Spawn[] = [];
  const words = shellWords(script);
  let expect = true;
  let runner: string | null = null;
  let skipUntilSep = false;
  const saved: Array<{ expect: boolean; runner: string | null; skipUntilSep: boolean }> = [];
  for (let k = 0; k < words.length; k++) {
    const w = words[k]!;
    if (w.op !== undefined) {
      if (w.op === 'case-pattern') { expect = true; continue; }
      if (w.op === 'subst-start') {
        saved.push({ expect, runner, skipUntilSep });
        expect = true;
        runner = null;
        skipUntilSep = false;
        continue;
      }
      if (w.op === 'subst-end') {
        ({ expect, runner, skipUntilSep } = saved.pop() ?? { expect: true, runner: null, skipUntilSep: false });
        continue;
      }
      expect = true;
      runner = null;
      skipUntilSep = false;
      continue;
    }
    if (skipUntilSep) continue;
    if (!expect) {
      if (runner === null) continue;
      // A runner's options (and env's NAME=VALUE) come before the program it runs.
      if (w.text.startsWith('-') || (runner === 'env' && /^\w+=/.test(w.text))) {
        if (runner === 'command' && /^-[vV]$/.test(w.text)) runner = null;
        continue;
      }
      if (runner === 'timeout' && /^\d/.test(w.text)) continue;
      runner = null;
      // falls through: this word is the program
    }
    if (/^[A-Za-z_]\w*=/.test(w.text) && !w.quotedStart) continue; // assignment
    if (w.text === 'case') { skipUntilSep = true; continue; }
    if (w.text === 'esac') { expect = false; continue; }
    if (w.text === 'for') { skipUntilSep = true; continue; }
    if (SHELL_KEYWORDS.has(w.text) && !w.quotedStart) { expect = true; continue; }
    expect = false;
    if (w.dynamic) {
      out.push({ file, line: w.line, name: w.text, dynamic: true, via: 'shell' });
      continue;
    }
    if (RUNNERS.has(w.text)) {
      runner = w.text;
      if (SHELL_BUILTINS.has(w.text)) continue;
    }
    if (SHELL_BUILTINS.has(w.text) || functions.has(w.text)) continue;
    if (!/^[\w/.+-]+$/.test(w.text) || w.text.startsWith('-')) continue;
    out.push({ file, line: w.line, name: w.text, dynamic: false, via: 'shell' });
  }
  return out;
}

interface ShellWord { text: string; line: number; dynamic: boolean; quotedStart: boolean; op?: string }

/**
 * Splits a script into words and separators (; & && | || ( ) newline, and the
 * start of $( and `); the contents of $(...) and `...` are scanned in place
 * (their words follow, between separators). Single-quoted text is one inert
 * word part; here-document bodies and comments are skipped; in a case body,
 * `pattern)` becomes a 'case-pattern' separator.
 */
function shellWords(script: string): ShellWord[] {
  const out: ShellWord[] = [];
  let i = 0;
  let line = 1;
  const heredocs: string[] = [];
  let caseDepth = 0;
  let afterCaseIn = false;
  const sep = (op: string) => out.push({ text: '', line, dynamic: false, quotedStart: false, op });
  while (i < script.length) {
    const c = script[i]!;
    if (c === '\n') {
      sep('\n');
      line++;
      i++;
      // here-document bodies start on the next line
      while (heredocs.length > 0) {
        const delim = heredocs.shift()!;
        for (;;) {
          const nl = script.indexOf('\n', i);
          const text = script.slice(i, nl < 0 ? script.length : nl);
          i = nl < 0 ? script.length : nl + 1;
          line++;
          if (text.replace(/^\t+/, '') === delim || nl < 0) break;
        }
      }
      continue;
    }
    if (c === ' ' || c === '\t') { i++; continue; }
    if (c === '\\' && script[i + 1] === '\n') { i += 2; line++; continue; }
    if (c === '#') {
      while (i < script.length && script[i] !== '\n') i++;
      continue;
    }
    if (c === ';' || c === '&' || c === '|' || c === '(' || c === ')') {
      let op = c;
      if ((c === ';' || c === '&' || c === '|') && script[i + 1] === c) op = c + c;
      i += op.length;
      sep(op);
      if (op === ';;') afterCaseIn = caseDepth > 0;
      continue;
    }
    if (c === '<' || c === '>') {
      // redirection: the operator and its target are not words
      let j = i;
      while (script[j] === '<' || script[j] === '>' || script[j] === '&' || script[j] === '-') j++;
      const op = script.slice(i, j);
      while (script[j] === ' ' || script[j] === '\t') j++;
      const target = readWord(script, j);
      if (op.startsWith('<<') && op !== '<<<') heredocs.push(target.text.replace(/['"\\]/g, ''));
      i = target.end;
      continue;
    }
    if (/^\d[<>]/.test(script.slice(i, i + 2))) { i++; continue; }
    // In a case body, at the start of an arm: `pattern)` or `pattern | pattern)`.
    if (afterCaseIn) {
      const m = /^(?:[^\n()`$;]|\$(?!\())*?\)/.exec(script.slice(i));
      if (m && !/^\s*esac\b/.test(script.slice(i))) {
        i += m[0].length;
        afterCaseIn = false;
        sep('case-pattern');
        continue;
      }
      afterCaseIn = false;
    }
    const w = readWord(script, i);
    const text = w.text;
    if (text === 'case') caseDepth++;
    if (text === 'esac') caseDepth = Math.max(0, caseDepth - 1);
    out.push({ text: w.unquoted, line, dynamic: w.dynamic, quotedStart: /^['"]/.test(text) });
    // `case WORD in` starts the first arm
    if (text === 'in' && caseDepth > 0 && out.length >= 3 && out[out.length - 3]?.text === 'case') afterCaseIn = true;
    for (const inner of w.substitutions) {
      sep('subst-start');
      for (const x of shellWords(inner)) out.push({ ...x, line: line + x.line - 1 });
      sep('subst-end');
    }
    line += (script.slice(i, w.end).match(/\n/g) ?? []).length;
    i = w.end;
  }
  return out;
}

/** Reads one word from `start`: its raw text, its unquoted text, whether it begins with an expansion, and its command substitutions. */
function readWord(s: string, start: number): { text: string; unquoted: string; dynamic: boolean; substitutions: string[]; end: number } {
  let i = start;
  let unquoted = '';
  const substitutions: string[] = [];
  let dynamic = false;
  const closeParen = (from: number): number => {
    let depth = 1;
    let q: string | null = null;
    for (let j = from; j < s.length; j++) {
      const c = s[j]!;
      if (q !== null) { if (c === '\\' && q === '"') j++; else if (c === q) q = null; continue; }
      if (c === '\\') { j++; continue; }
      if (c === "'" || c === '"') q = c;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) return j;
    }
    return s.length;
  };
  while (i < s.length) {
    const c = s[i]!;
    if (/[\s;&|()<>]/.test(c)) break;
    if (c === '\\') { unquoted += s[i + 1] ?? ''; i += 2; continue; }
    if (c === "'") {
      const e = s.indexOf("'", i + 1);
      const stop = e < 0 ? s.length : e;
      unquoted += s.slice(i + 1, stop);
      i = stop + 1;
      continue;
    }
    if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        if (s[i] === '\\') { unquoted += s[i + 1] ?? ''; i += 2; continue; }
        if (s[i] === '$' && s[i + 1] === '(' && s[i + 2] !== '(') {
          const e = closeParen(i + 2);
          substitutions.push(s.slice(i + 2, e));
          if (unquoted === '') dynamic = true;
          unquoted += '$(...)';
          i = e + 1;
          continue;
        }
        if (s[i] === '`') {
          const e = s.indexOf('`', i + 1);
          substitutions.push(s.slice(i + 1, e < 0 ? s.length : e));
          if (unquoted === '') dynamic = true;
          i = e < 0 ? s.length : e + 1;
          continue;
        }
        if (s[i] === '$' && unquoted === '') dynamic = true;
        unquoted += s[i];
        i++;
      }
      i++;
      continue;
    }
    if (c === '$' && s[i + 1] === '(') {
      const arith = s[i + 2] === '(';
      const e = closeParen(i + 2);
      if (!arith) substitutions.push(s.slice(i + 2, e));
      if (unquoted === '') dynamic = true;
      unquoted += '$(...)';
      i = e + 1;
      continue;
    }
    if (c === '$' && s[i + 1] === '{') {
      let depth = 0;
      let j = i + 1;
      for (; j < s.length; j++) {
        if (s[j] === '{') depth++;
        else if (s[j] === '}' && --depth === 0) break;
      }
      if (unquoted === '') dynamic = true;
      unquoted += s.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const e = s.indexOf('`', i + 1);
      substitutions.push(s.slice(i + 1, e < 0 ? s.length : e));
      if (unquoted === '') dynamic = true;
      i = e < 0 ? s.length : e + 1;
      continue;
    }
    if (c === '$' && unquoted === '') dynamic = true;
    unquoted += c;
    i++;
  }
  return { text: s.slice(start, i), unquoted, dynamic, substitutions, end: i };
}
