/**
 * Struct and union layout changes a patch may make, read from the source text
 * before and after it: a member added, removed, reordered or retyped in a type
 * that already existed. Objects of such a type live in the running kernel with
 * the old layout, which no livepatch can change. Renaming a member, comments,
 * whitespace, qualifiers and annotations that move no data (sparse's __rcu,
 * __user, __iomem, __percpu, __force; __counted_by) are not reported.
 *
 * Source text cannot tell what the compiler does with a member under a
 * disabled CONFIG option or a macro, so these are suspects: the build decides
 * with the layouts the compiler gave the objects (dwarf-layout.ts,
 * build/layout.ts).
 */

export interface LayoutChange {
  /** `struct foo`, `union bar` (or the typedef name of an anonymous one). */
  type: string;
  /** 1-based line of the type's definition in the patched text. */
  line: number;
  added: string[];
  removed: string[];
}

interface TypeDef { type: string; members: string[]; line: number }

/** Blanks comments and string literals' contents, keeping offsets and newlines. */
function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, (m) => (m.startsWith('"') || m.startsWith("'") ? `${m[0]}${' '.repeat(m.length - 2)}${m[m.length - 1]}` : m.replace(/[^\n]/g, ' ')));
}

/** Preprocessor lines (continuations included) blanked: members under #ifdef count either way. */
function stripDirectives(text: string): string {
  return text.replace(/^[ \t]*#(?:[^\n\\]|\\[\s\S])*$/gm, (m) => m.replace(/[^\n]/g, ' '));
}

function matchBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  return -1;
}

/** Splits a struct body at its top-level semicolons into normalised member declarations. */
function members(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '{' || c === '(') depth++;
    else if (c === '}' || c === ')') depth--;
    else if (c === ';' && depth === 0) {
      const m = body.slice(start, i).replace(/\s+/g, ' ').trim();
      if (m !== '') out.push(m);
      start = i + 1;
    }
  }
  return out;
}

/** The struct/union definitions of a C text, by type name. */
export function typeDefinitions(source: string): Map<string, TypeDef> {
  const text = stripDirectives(stripComments(source));
  const out = new Map<string, TypeDef>();
  const re = /\b(struct|union)\s+(?:(?:__attribute__\s*\(\([^)]*\)\)|__[A-Za-z_]\w*(?:\([^)]*\))?)\s+)*([A-Za-z_]\w*)?\s*\{/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const open = m.index + m[0].length - 1;
    const close = matchBrace(text, open);
    if (close < 0) break;
    let name = m[2];
    if (name === undefined) {
      // typedef struct { ... } name_t;
      const before = text.slice(Math.max(0, m.index - 40), m.index);
      const after = /^\s*([A-Za-z_]\w*)\s*;/.exec(text.slice(close + 1));
      if (!/\btypedef\s+$/.test(before) || !after) continue;
      name = after[1];
    }
    const type = m[2] !== undefined ? `${m[1]} ${name}` : name;
    const line = text.slice(0, m.index).split('\n').length;
    // Nested definitions are found too (the regex goes on inside the body).
    re.lastIndex = open + 1;
    if (!out.has(type)) out.set(type, { type, members: members(text.slice(open + 1, close)), line });
  }
  return out;
}

/** A member declaration with its declared names taken out (what the layout depends on). */
export function memberShape(decl: string): string {
  let d = decl.replace(/\s*(?:__attribute__\s*\(\(.*\)\)|__aligned\([^)]*\)|____cacheline_aligned(?:_in_smp)?)\s*$/, '');
  // Function pointers: (*name)(args).
  d = d.replace(/\(\s*\*\s*(?:const\s+)?[A-Za-z_]\w*\s*\)/g, '(*)');
  // Each declarator of `int a, b[2], c:3`.
  return d.split(/,(?![^()[\]{}]*[)\]}])/).map((part, i) => {
    const p = part.trim();
    const stripped = p.replace(/([A-Za-z_]\w*)(\s*(?:\[[^\]]*\]\s*)*(?::\s*\w+)?)$/, (all, id: string, rest: string) => (/^(int|long|char|short|unsigned|signed|void)$/.test(id) ? all : rest));
    return i === 0 ? stripped : `,${stripped}`;
  }).join('');
}

/** Annotations that expand to nothing for gcc (sparse's) or to attributes that move no data, and qualifiers. */
const NO_LAYOUT = /\b(?:__rcu|__user|__iomem|__force|__percpu|__kernel|__private|__nocast|__safe|__data_racy|const|volatile)\b|\b__counted_by(?:_le|_be)?\s*\([^()]*\)/g;

/** A member's shape without its name, annotations and qualifiers: what its layout depends on. */
function layoutShape(decl: string): string {
  return memberShape(decl.replace(NO_LAYOUT, ' ').replace(/\s+/g, ' ').trim()).replace(/\s+/g, ' ').replace(/\s*([*,[\]():])\s*/g, '$1').trim();
}

/**
 * The struct/union types defined in both `before` and `after` whose members
 * changed in a way that moves data (names aside).
 */
export function layoutChanges(before: string, after: string): LayoutChange[] {
  const old = typeDefinitions(before);
  const neu = typeDefinitions(after);
  const out: LayoutChange[] = [];
  for (const [type, n] of neu) {
    const o = old.get(type);
    if (o === undefined) continue;
    const os = o.members.map(layoutShape);
    const ns = n.members.map(layoutShape);
    if (os.length === ns.length && os.every((s, i) => s === ns[i])) continue;
    // Members that differ only by annotations are neither added nor removed.
    const plain = (m: string) => m.replace(NO_LAYOUT, ' ').replace(/\s+/g, ' ').replace(/\s*([*,[\]():])\s*/g, '$1').trim();
    const oldSet = new Set(o.members.map(plain));
    const newSet = new Set(n.members.map(plain));
    out.push({ type, line: n.line, added: n.members.filter((x) => !oldSet.has(plain(x))), removed: o.members.filter((x) => !newSet.has(plain(x))) });
  }
  return out.sort((a, b) => a.line - b.line);
}

/** One line describing a layout change for the user. */
export function describeLayoutChange(file: string, c: LayoutChange): string {
  return `${file}:${c.line}: ${layoutChangeReason(c)}; `
    + `existing ${c.type} objects in the running kernel keep the old layout, so a livepatch cannot change it (keep the layout and add state with shadow variables, klp_shadow_alloc)`;
}

/** A member declaration for a message: a nested definition's body shortened to `{ ... }`. */
function brief(member: string): string {
  return member.length <= 100 ? member : member.replace(/\{.*\}/s, '{ ... }');
}

/** What changed in the type's layout, e.g. "struct s changes layout (adds `int x`)". */
export function layoutChangeReason(c: LayoutChange): string {
  const what = [
    ...c.added.map((m) => `adds \`${brief(m)}\``),
    ...c.removed.map((m) => `removes \`${brief(m)}\``),
  ];
  return `${c.type} changes layout (${what.length > 0 ? what.join(', ') : 'members reordered'})`;
}
