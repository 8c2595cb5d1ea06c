/**
 * The demangler's model of C++ types and names, and how they print the way
 * GNU c++filt (libiberty's cp-demangle) prints them: qualifiers after the
 * type (`char const*`), declarators around the name (`void (*)(int)`,
 * `int (&) [3]`, `int A::*`), `> >` between closing template brackets,
 * reference collapsing in pack expansions.
 */

export type Ty =
  /** A builtin, class or other named type; `last` is the name a constructor takes, `template` whether it ends in template arguments. */
  | { k: 'name'; s: string; last?: string; template?: boolean; ctorDtorConv?: boolean }
  | { k: 'ptr' | 'lref' | 'rref'; t: Ty }
  /** Postfix qualifiers, as printed (` const`, ` volatile`, ` restrict`). */
  | { k: 'cv'; t: Ty; q: string }
  | { k: 'fn'; ret: Ty | undefined; params: Ty[]; quals: string }
  | { k: 'arr'; dim: string; t: Ty }
  | { k: 'pm'; cls: Ty; t: Ty }
  | { k: 'vec'; dim: string; t: Ty }
  /** A template argument pack (J...E), printed as its elements. */
  | { k: 'pack'; items: Ty[] };

export const name = (s: string, extra: Partial<Extract<Ty, { k: 'name' }>> = {}): Ty => ({ k: 'name', s, ...extra });

/** The type as c++filt prints it, with `inner` the declarator text inside it (a name, `*`, `&`, ...). */
export function printType(t: Ty, inner = ''): string {
  switch (t.k) {
    case 'name':
      return t.s + inner;
    case 'pack':
      return t.items.map((x) => printType(x, inner)).filter((x) => x !== '').join(', ');
    case 'cv':
      if (t.t.k === 'fn') return printFn(t.t, inner, t.q);
      // Qualifiers on an array qualify its elements.
      if (t.t.k === 'arr') return printType(qualifyElements(t.t, t.q), inner);
      // A qualifier the type already has (a template parameter that is `T const`) is printed once.
      if (t.t.k === 'cv' && t.t.q.includes(t.q)) return printType(t.t, inner);
      return printType(t.t, t.q + inner);
    case 'ptr':
    case 'lref':
    case 'rref': {
      const sym = t.k === 'ptr' ? '*' : t.k === 'lref' ? '&' : '&&';
      if (t.t.k === 'fn') return printFn(t.t, sym + inner);
      if (t.t.k === 'arr') return printArray(t.t, sym + inner);
      return printType(t.t, sym + inner);
    }
    case 'fn':
      return printFn(t, inner);
    case 'arr':
      return printArray(t, inner);
    case 'pm': {
      const m = printType(t.cls) + '::*';
      if (t.t.k === 'fn') return printFn(t.t, m + inner);
      if (t.t.k === 'cv' && t.t.t.k === 'fn') return printFn(t.t.t, m + inner, t.t.q);
      return printType(t.t, ' ' + m + inner);
    }
    case 'vec':
      return `${printType(t.t)} __vector(${t.dim})${inner}`;
  }
}

/** The parameter list as c++filt prints it: `()` for (void). */
export function printParams(params: Ty[]): string {
  if (params.length === 1 && params[0].k === 'name' && params[0].s === 'void') return '()';
  return '(' + params.map((p) => printType(p)).filter((x) => x !== '').join(', ') + ')';
}

function printFn(f: Extract<Ty, { k: 'fn' }>, inner: string, extraQuals = ''): string {
  const decl = `${inner ? `(${inner})` : ''}${printParams(f.params)}${f.quals}${extraQuals}`;
  if (!f.ret) return decl;
  // A function returning a pointer to a function nests its declarator inside the returned type's.
  if (declaresFunction(f.ret)) return printType(f.ret, decl);
  return `${printType(f.ret)} ${decl}`;
}

/** True for a pointer, reference or member pointer to a function (whose declarator wraps what it is applied to). */
export function declaresFunction(t: Ty): boolean {
  if (t.k === 'ptr' || t.k === 'lref' || t.k === 'rref') return t.t.k === 'fn' || (t.t.k === 'cv' && t.t.t.k === 'fn');
  if (t.k === 'pm') return t.t.k === 'fn' || (t.t.k === 'cv' && t.t.t.k === 'fn');
  if (t.k === 'cv') return declaresFunction(t.t);
  return false;
}

function printArray(a: Extract<Ty, { k: 'arr' }>, inner: string): string {
  let dims = '';
  let t: Ty = a;
  while (t.k === 'arr') {
    dims += `[${t.dim}]`;
    t = t.t;
  }
  return `${printType(t)} ${inner ? `(${inner}) ` : ''}${dims}`;
}

/** `<a, b>`, with a space before a closing bracket that follows another. */
export function printTemplateArgs(args: Ty[]): string {
  let s = '<';
  let last = '<';
  for (let i = 0; i < args.length; i++) {
    const a = printType(args[i]);
    if (i > 0) {
      // An empty pack prints nothing; c++filt takes back the comma but still counts its space as the last character.
      if (a === '') {
        last = ' ';
        continue;
      }
      s += ', ';
    }
    if (a !== '') {
      s += a;
      last = a[a.length - 1];
    }
  }
  return s + (last === '>' ? ' >' : '>');
}

/** Applies a reference or pointer to a type, collapsing references the way c++filt prints pack expansions. */
export function wrap(k: 'ptr' | 'lref' | 'rref', t: Ty): Ty {
  if (t.k === 'pack') return { k: 'pack', items: t.items.map((x) => wrap(k, x)) };
  if (k === 'rref' && (t.k === 'lref' || t.k === 'rref')) return t;
  if (k === 'lref' && (t.k === 'lref' || t.k === 'rref')) return { k: 'lref', t: t.t };
  return { k, t };
}

export const BUILTINS: Record<string, string> = {
  v: 'void', w: 'wchar_t', b: 'bool', c: 'char', a: 'signed char', h: 'unsigned char', s: 'short', t: 'unsigned short',
  i: 'int', j: 'unsigned int', l: 'long', m: 'unsigned long', x: 'long long', y: 'unsigned long long', n: '__int128',
  o: 'unsigned __int128', f: 'float', d: 'double', e: 'long double', g: '__float128', z: '...',
};

export const D_BUILTINS: Record<string, string> = {
  d: 'decimal64', e: 'decimal128', f: 'decimal32', h: 'half', i: 'char32_t', s: 'char16_t', u: 'char8_t', a: 'auto', c: 'decltype(auto)', n: 'decltype(nullptr)',
};

/** Operator codes: the symbol and (for expressions) the arity. */
export const OPERATORS: Record<string, [string, number]> = {
  nw: ['new', 3], na: ['new[]', 3], dl: ['delete', 1], da: ['delete[]', 1], ps: ['+', 1], ng: ['-', 1], ad: ['&', 1], de: ['*', 1],
  co: ['~', 1], pl: ['+', 2], mi: ['-', 2], ml: ['*', 2], dv: ['/', 2], rm: ['%', 2], an: ['&', 2], or: ['|', 2], eo: ['^', 2],
  aS: ['=', 2], pL: ['+=', 2], mI: ['-=', 2], mL: ['*=', 2], dV: ['/=', 2], rM: ['%=', 2], aN: ['&=', 2], oR: ['|=', 2], eO: ['^=', 2],
  ls: ['<<', 2], rs: ['>>', 2], lS: ['<<=', 2], rS: ['>>=', 2], eq: ['==', 2], ne: ['!=', 2], lt: ['<', 2], gt: ['>', 2], le: ['<=', 2],
  ge: ['>=', 2], ss: ['<=>', 2], nt: ['!', 1], aa: ['&&', 2], oo: ['||', 2], pp: ['++', 1], mm: ['--', 1], cm: [',', 2], pm: ['->*', 2],
  pt: ['->', 2], cl: ['()', 2], ix: ['[]', 2], qu: ['?', 3], st: ['sizeof ', 1], sz: ['sizeof ', 1], at: ['alignof ', 1], az: ['alignof ', 1],
};

/** Literal suffixes c++filt prints for integer template arguments. */
export const LITERAL_SUFFIX: Record<string, string> = { i: '', j: 'u', l: 'l', m: 'ul', x: 'll', y: 'ull' };

function qualifyElements(a: Extract<Ty, { k: 'arr' }>, q: string): Ty {
  return { k: 'arr', dim: a.dim, t: a.t.k === 'arr' ? qualifyElements(a.t, q) : { k: 'cv', t: a.t, q } };
}
