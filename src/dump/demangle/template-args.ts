/**
 * Template arguments: packs, literals (`5u`, `true`, `(E)2`), external names,
 * and expressions: template and function parameters, scope resolution
 * (`A<T>::value`), unary and binary operators, pack expansions, sizeof and
 * addresses, printed with c++filt's parentheses around operands that are not
 * names. Other expressions (calls, casts, member access) are not decoded.
 */
import { printEncoding, type Parser } from './index.js';
import { Fail } from './cursor.js';
import { BUILTINS, LITERAL_SUFFIX, OPERATORS, name, printType, type Ty } from './types.js';

export function templateArg(p: Parser): Ty {
  if (p.eat('J')) {
    const items: Ty[] = [];
    while (!p.eat('E')) items.push(templateArg(p));
    return { k: 'pack', items };
  }
  if (p.peek() === 'L') return literal(p);
  if (p.eat('X')) {
    const e = expression(p);
    p.need('E');
    return e.pack ?? name(e.text);
  }
  return p.type();
}

function literal(p: Parser): Ty {
  p.need('L');
  if (p.eat('_Z')) {
    const enc = p.encoding(false);
    p.need('E');
    return name(printEncoding(enc));
  }
  const c = p.peek();
  if (c === 'b' && (p.peek(1) === '0' || p.peek(1) === '1') && p.peek(2) === 'E') {
    p.i += 3;
    return name(p.s[p.i - 2] === '1' ? 'true' : 'false');
  }
  const t = p.type();
  const neg = p.eat('n');
  const m = /^[0-9a-f]*/.exec(p.s.slice(p.i))!;
  p.i += m[0].length;
  p.need('E');
  const v = (neg ? '-' : '') + m[0];
  if (t.k === 'name' && c in LITERAL_SUFFIX && BUILTINS[c] === t.s) return name(v + LITERAL_SUFFIX[c]);
  return name(`(${printType(t)})${v}`);
}

/** An expression as printed; `simple` when c++filt prints it without parentheses as an operand; `pack` a template parameter pack. */
interface Expr { text: string; simple: boolean; pack?: Ty }

/** <expression>, as far as kelp decodes it. */
export function expression(p: Parser): Expr {
  const c = p.peek();
  if (c === 'T') {
    const t = p.templateParam();
    return { text: printType(t), simple: false, pack: t.k === 'pack' ? t : undefined };
  }
  if (c === 'L') return { text: printType(literal(p)), simple: false };
  if (p.eat('fp')) {
    p.eat('K');
    const n = p.peek() === '_' ? 1 : p.number() + 2;
    p.need('_');
    return { text: `{parm#${n}}`, simple: true };
  }
  if (p.eat('sr')) {
    const scope = p.type();
    let n = printType(p.unqualified(undefined));
    if (p.peek() === 'I') n = printType(p.withTemplateArgs(name(n), false));
    return { text: `${printType(scope)}::${n}`, simple: true };
  }
  if (p.eat('sp')) return expression(p);
  if (p.eat('st')) return { text: `sizeof (${printType(p.type())})`, simple: false };
  if (p.eat('sz')) return { text: `sizeof (${expression(p).text})`, simple: false };
  if (p.eat('sZ')) {
    // sizeof... of a known pack is its length.
    const e = expression(p);
    return { text: e.pack && e.pack.k === 'pack' ? String(e.pack.items.length) : `sizeof...(${e.text})`, simple: false };
  }
  if (p.s.startsWith('adL_Z', p.i)) {
    // The address of a function or object (`&name`; a function template's address is printed whole, in parentheses).
    p.i += 5;
    const enc = p.encoding(false);
    p.need('E');
    const n = enc.name;
    if (enc.fn && ((n.k === 'name' && n.template) || enc.quals !== '')) return { text: `&(${printEncoding(enc)})`, simple: false };
    return { text: '&' + printType(n), simple: false };
  }
  const op = OPERATORS[p.s.slice(p.i, p.i + 2)];
  if (!op || op[1] > 2 || /^[a-z]/.test(op[0])) throw new Fail();
  p.i += 2;
  const sub = (e: Expr): string => (e.simple ? e.text : `(${e.text})`);
  if (op[1] === 1) return { text: op[0] + sub(expression(p)), simple: false };
  const l = expression(p);
  const r = expression(p);
  const text = `${sub(l)}${op[0]}${sub(r)}`;
  return { text: op[0] === '>' ? `(${text})` : text, simple: false };
}
