/** The demangler's reading position in a mangled name, and the ABI's small productions (numbers, sequence ids, source names). */

export class Fail extends Error {}

/** `_GLOBAL__N...` is how gcc names an anonymous namespace. */
const ANON = /^_GLOBAL_[._$]N/;

export class Cursor {
  i = 0;

  constructor(readonly s: string) {}

  peek(o = 0): string {
    return this.s[this.i + o] ?? '';
  }

  eat(c: string): boolean {
    if (this.s.startsWith(c, this.i)) {
      this.i += c.length;
      return true;
    }
    return false;
  }

  need(c: string): void {
    if (!this.eat(c)) throw new Fail();
  }

  number(): number {
    const neg = this.eat('n');
    const m = /^\d+/.exec(this.s.slice(this.i, this.i + 12));
    if (!m) throw new Fail();
    this.i += m[0].length;
    return neg ? -Number(m[0]) : Number(m[0]);
  }

  /** [<base36 digits>] _ : 0 for `_`, n+1 for `n_`. */
  seqId(): number {
    if (this.eat('_')) return 0;
    const m = /^[0-9A-Z]+/.exec(this.s.slice(this.i, this.i + 8));
    if (!m) throw new Fail();
    this.i += m[0].length;
    this.need('_');
    return parseInt(m[0], 36) + 1;
  }

  /** A lambda's or unnamed type's number: `_` is 1, `n_` is n+2 (decimal). */
  lambdaNumber(): number {
    if (this.eat('_')) return 1;
    const n = this.number();
    this.need('_');
    return n + 2;
  }

  /** `_ <digit>` or `__ <number> _` discriminators, which c++filt does not print. */
  discriminator(): void {
    if (this.peek() !== '_') return;
    if (this.peek(1) === '_') {
      this.i += 2;
      this.number();
      this.need('_');
    } else if (/\d/.test(this.peek(1))) {
      this.i += 2;
    }
  }

  sourceName(): string {
    const len = this.number();
    if (len <= 0 || this.i + len > this.s.length) throw new Fail();
    const id = this.s.slice(this.i, this.i + len);
    this.i += len;
    return len >= 10 && ANON.test(id) ? '(anonymous namespace)' : id;
  }

}
