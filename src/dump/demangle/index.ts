/**
 * A demangler for Itanium C++ ABI names (`_Z...`), printing what GNU c++filt
 * and readelf -C print (libiberty's cp-demangle with DMGL_PARAMS|DMGL_ANSI):
 * nested and local names, templates and their parameters, substitutions,
 * constructors and destructors, operators, ABI tags, lambdas and unnamed
 * types, special names (vtables, typeinfo, thunks, guard variables, TLS
 * wrappers), clone suffixes, function, array, pointer-to-member and vector
 * types, and literal template arguments. Template arguments that are
 * expressions (decltype, sizeof... in signatures) are not decoded: such names,
 * like every name that does not parse to its end, are returned undefined and
 * printed mangled.
 */
import { Cursor, Fail } from './cursor.js';
import { specialName } from './special.js';
import { expression, templateArg } from './template-args.js';
import { BUILTINS, D_BUILTINS, declaresFunction, OPERATORS, name, printParams, printTemplateArgs, printType, wrap, type Ty } from './types.js';

/** The standard abbreviations: short form, the form before a constructor/destructor, and the name a constructor takes. */
const STD_SUBS: Record<string, [string, string, string]> = {
  t: ['std', 'std', 'std'],
  a: ['std::allocator', 'std::allocator', 'allocator'],
  b: ['std::basic_string', 'std::basic_string', 'basic_string'],
  s: ['std::string', 'std::basic_string<char, std::char_traits<char>, std::allocator<char> >', 'basic_string'],
  i: ['std::istream', 'std::basic_istream<char, std::char_traits<char> >', 'basic_istream'],
  o: ['std::ostream', 'std::basic_ostream<char, std::char_traits<char> >', 'basic_ostream'],
  d: ['std::iostream', 'std::basic_iostream<char, std::char_traits<char> >', 'basic_iostream'],
};

export interface Encoding {
  /** The name as printed, without parameters. */
  name: Ty;
  /** The function type, when the encoding is a function. */
  fn?: { ret: Ty | undefined; params: Ty[] };
  /** Member function qualifiers and ref-qualifier (` const`, ` &`). */
  quals: string;
}

export class Parser extends Cursor {
  private readonly subs: Ty[] = [];
  /** The template arguments T_ refers to (the encoding's own). */
  private templateArgs: Ty[] = [];

  top(): string {
    this.need('_Z');
    const enc = this.encoding(true);
    let out = printEncoding(enc);
    while (this.peek() === '.' && /[a-z0-9_]/.test(this.peek(1))) {
      const m = /^\.[a-z0-9_][a-z0-9_]*(?:\.\d+)*/.exec(this.s.slice(this.i))!;
      this.i += m[0].length;
      out += ` [clone ${m[0]}]`;
    }
    if (this.i !== this.s.length) throw new Fail();
    return out;
  }

  encoding(top: boolean): Encoding {
    const c = this.peek();
    if (c === 'G' || c === 'T') return { name: name(specialName(this)), quals: '' };
    const saved = this.templateArgs;
    const { n, quals } = this.name(false, true);
    if (this.i >= this.s.length || this.peek() === 'E' || this.peek() === '.') {
      if (!top) this.templateArgs = saved;
      return { name: n, quals };
    }
    const hasRet = n.k === 'name' && n.template === true && !n.ctorDtorConv;
    const ret = hasRet ? this.type() : undefined;
    const params: Ty[] = [];
    while (this.i < this.s.length && this.peek() !== 'E' && this.peek() !== '.') params.push(this.type());
    if (params.length === 0) throw new Fail();
    if (!top) this.templateArgs = saved;
    return { name: n, fn: { ret, params }, quals };
  }

  /** <name>: nested, local, unscoped (with std::) or a substitution, with template arguments. */
  name(substable: boolean, isEncoding: boolean): { n: Ty; quals: string } {
    const c = this.peek();
    if (c === 'N' || c === 'Z') {
      const r = c === 'N' ? this.nestedName(isEncoding) : this.localName();
      if (substable) this.subs.push(r.n);
      return r;
    }
    let n: Ty;
    let fromSub = false;
    if (c === 'S' && this.peek(1) === 't') {
      this.i += 2;
      n = this.unqualified(name('std'));
    } else if (c === 'S') {
      n = this.substitution();
      fromSub = true;
    } else n = this.unqualified(undefined);
    if (this.peek() === 'I') {
      if (!fromSub) this.subs.push(n);
      n = this.withTemplateArgs(n, isEncoding);
      fromSub = false;
    }
    if (substable && !fromSub) this.subs.push(n);
    return { n, quals: '' };
  }

  withTemplateArgs(n: Ty, isEncoding: boolean): Ty {
    const args = this.templateArgList();
    if (isEncoding) this.templateArgs = args;
    const base = n.k === 'name' ? n.s : printType(n);
    const last = n.k === 'name' ? n.last : undefined;
    return name(base + (base.endsWith('<') ? ' ' : '') + printTemplateArgs(args), { last, template: true, ctorDtorConv: n.k === 'name' && n.ctorDtorConv });
  }

  private nestedName(isEncoding: boolean): { n: Ty; quals: string } {
    this.need('N');
    let quals = '';
    let q = '';
    if (this.eat('r')) q = ' restrict' + q;
    if (this.eat('V')) q = ' volatile' + q;
    if (this.eat('K')) q = ' const' + q;
    quals = q;
    if (this.eat('R')) quals += ' &';
    else if (this.eat('O')) quals += ' &&';
    let cur: Ty | undefined;
    while (!this.eat('E')) {
      const c = this.peek();
      let fromSub = false;
      if (c === 'S') {
        if (cur) throw new Fail();
        cur = this.substitution(true);
        fromSub = true;
      } else if (c === 'I') {
        if (!cur) throw new Fail();
        cur = this.withTemplateArgs(cur, isEncoding);
      } else if (c === 'T') {
        if (cur) throw new Fail();
        cur = this.templateParam();
      } else if (c === 'M') {
        this.i++;
        continue;
      } else {
        cur = this.unqualified(cur);
      }
      if (!fromSub && this.peek() !== 'E') this.subs.push(cur);
    }
    if (!cur) throw new Fail();
    return { n: cur, quals };
  }

  private localName(): { n: Ty; quals: string } {
    this.need('Z');
    const enc = this.encoding(false);
    this.need('E');
    const scope = printEncoding(enc, true);
    if (this.eat('s')) {
      this.discriminator();
      return { n: name(scope + '::string literal'), quals: '' };
    }
    if (this.eat('d')) {
      if (this.peek() !== '_') this.number();
      this.need('_');
    }
    const { n, quals } = this.name(false, true);
    this.discriminator();
    const nn = n as Extract<Ty, { k: 'name' }>;
    return { n: name(scope + '::' + nn.s, { last: nn.last, template: nn.template, ctorDtorConv: nn.ctorDtorConv }), quals };
  }

  /** An unqualified name, qualified by `scope` when there is one. */
  unqualified(scope: Ty | undefined): Ty {
    const c = this.peek();
    const prefix = scope ? printType(scope) + '::' : '';
    let s: string;
    let last: string | undefined;
    let ctorDtorConv = false;
    if (/\d/.test(c)) {
      s = this.sourceName();
      last = s;
    } else if (c === 'C' && /[1-5I]/.test(this.peek(1))) {
      if (this.peek(1) === 'I') {
        this.i += 3;
        this.type();
      } else this.i += 2;
      if (!scope || scope.k !== 'name' || scope.last === undefined) throw new Fail();
      s = scope.last;
      ctorDtorConv = true;
    } else if (c === 'D' && /[0-5]/.test(this.peek(1))) {
      this.i += 2;
      if (!scope || scope.k !== 'name' || scope.last === undefined) throw new Fail();
      s = '~' + scope.last;
      ctorDtorConv = true;
    } else if (c === 'U' && this.peek(1) === 'l') {
      this.i += 2;
      const params: Ty[] = [];
      while (!this.eat('E')) params.push(this.type());
      s = `{lambda${printParams(params)}#${this.lambdaNumber()}}`;
    } else if (c === 'U' && this.peek(1) === 't') {
      this.i += 2;
      s = `{unnamed type#${this.lambdaNumber()}}`;
    } else if (c === 'L') {
      this.i++;
      s = this.sourceName();
      last = s;
      this.discriminator();
    } else if (c === 'c' && this.peek(1) === 'v') {
      this.i += 2;
      s = 'operator ' + printType(this.type());
      ctorDtorConv = true;
    } else if (c === 'l' && this.peek(1) === 'i') {
      this.i += 2;
      s = 'operator"" ' + this.sourceName();
    } else {
      const op = OPERATORS[this.s.slice(this.i, this.i + 2)];
      if (!op) throw new Fail();
      this.i += 2;
      s = 'operator' + (/^[a-z]/.test(op[0]) ? ' ' : '') + op[0].trimEnd();
    }
    while (this.peek() === 'B') {
      this.i++;
      s += `[abi:${this.sourceName()}]`;
    }
    return name(prefix + s, { last, ctorDtorConv });
  }

  private substitution(beforeCtor = false): Ty {
    this.need('S');
    const c = this.peek();
    const std = STD_SUBS[c];
    if (std) {
      this.i++;
      const full = beforeCtor && (this.peek() === 'C' || this.peek() === 'D');
      return name(full ? std[1] : std[0], { last: std[2] });
    }
    const id = this.seqId();
    const t = this.subs[id];
    if (!t) throw new Fail();
    return t;
  }

  templateParam(): Ty {
    this.need('T');
    const id = this.seqId();
    const t = this.templateArgs[id];
    if (!t) throw new Fail();
    return t;
  }

  private templateArgList(): Ty[] {
    this.need('I');
    const args: Ty[] = [];
    while (!this.eat('E')) args.push(this.templateArg());
    return args;
  }

  private templateArg(): Ty {
    return templateArg(this);
  }

  type(): Ty {
    const c = this.peek();
    if (BUILTINS[c] !== undefined && c !== 'u') {
      this.i++;
      return name(BUILTINS[c]);
    }
    let t: Ty;
    switch (c) {
      case 'r': case 'V': case 'K': {
        let q = '';
        if (this.eat('r')) q = ' restrict';
        if (this.eat('V')) q = ' volatile' + q;
        if (this.eat('K')) q = ' const' + q;
        const inner = this.type();
        t = inner.k === 'pack' ? { k: 'pack', items: inner.items.map((x) => ({ k: 'cv', t: x, q }) as Ty) } : { k: 'cv', t: inner, q };
        break;
      }
      case 'P': this.i++; t = wrap('ptr', this.type()); break;
      case 'R': this.i++; t = wrap('lref', this.type()); break;
      case 'O': this.i++; t = wrap('rref', this.type()); break;
      case 'F': t = this.functionType(''); break;
      case 'A': {
        this.i++;
        let dim = '';
        if (/\d/.test(this.peek())) dim = String(this.number());
        else if (this.peek() !== '_') throw new Fail();
        this.need('_');
        t = { k: 'arr', dim, t: this.type() };
        break;
      }
      case 'M': {
        this.i++;
        const cls = this.type();
        t = { k: 'pm', cls, t: this.type() };
        break;
      }
      case 'T': {
        t = this.templateParam();
        if (this.peek() === 'I') {
          this.subs.push(t);
          t = this.withTemplateArgs(t, false);
        }
        break;
      }
      case 'S': {
        const n1 = this.peek(1);
        if (n1 === 't' || !(n1 in STD_SUBS)) {
          if (n1 === 't') return this.name(true, false).n;
          t = this.substitution();
          if (this.peek() !== 'I') return t;
          t = this.withTemplateArgs(t, false);
        } else {
          t = this.substitution();
          if (this.peek() !== 'I') return t;
          t = this.withTemplateArgs(t, false);
        }
        break;
      }
      case 'D': {
        const d = this.peek(1);
        if (D_BUILTINS[d] !== undefined) {
          this.i += 2;
          return name(D_BUILTINS[d]);
        }
        if (d === 'F') {
          this.i += 2;
          const n = this.number();
          const x = this.eat('x');
          this.need('_');
          return name(`_Float${n}${x ? 'x' : ''}`);
        }
        if (d === 'T' || d === 't') {
          this.i += 2;
          t = name(`decltype (${expression(this).text})`);
          this.need('E');
          break;
        }
        if (d === 'p') {
          this.i += 2;
          t = this.type();
          break;
        }
        if (d === 'v') {
          this.i += 2;
          const dim = String(this.number());
          this.need('_');
          t = { k: 'vec', dim, t: this.type() };
          break;
        }
        if (d === 'o' || d === 'x') {
          this.i += 2;
          t = this.functionType(d === 'o' ? ' noexcept' : ' transaction_safe');
          break;
        }
        throw new Fail();
      }
      case 'N': case 'Z': case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
        return this.name(true, false).n;
      case 'u': {
        this.i++;
        t = name(this.sourceName());
        break;
      }
      default:
        throw new Fail();
    }
    this.subs.push(t);
    return t;
  }

  private functionType(extra: string): Ty {
    this.need('F');
    this.eat('Y');
    const ret = this.type();
    const params: Ty[] = [];
    let quals = '';
    for (;;) {
      if (this.eat('E')) break;
      if (this.peek() === 'R' && this.peek(1) === 'E') { this.i += 2; quals = ' &'; break; }
      if (this.peek() === 'O' && this.peek(1) === 'E') { this.i += 2; quals = ' &&'; break; }
      params.push(this.type());
    }
    return { k: 'fn', ret, params, quals: quals + extra };
  }
}

/** The encoding as printed; as the scope of a local name, without its return type. */
export function printEncoding(e: Encoding, scope = false): string {
  const n = printType(e.name);
  if (!e.fn) return n;
  const sig = n + printParams(e.fn.params) + e.quals;
  if (!e.fn.ret || scope) return sig;
  return printType(e.fn.ret, declaresFunction(e.fn.ret) ? sig : ' ' + sig);
}

/** The demangled form of `sym` as readelf -C prints it, or undefined when it is not a C++ name kelp can decode. */
export function demangle(sym: string): string | undefined {
  if (!sym.startsWith('_Z')) return undefined;
  try {
    return new Parser(sym).top();
  } catch (e) {
    if (e instanceof Fail || e instanceof RangeError) return undefined;
    throw e;
  }
}
