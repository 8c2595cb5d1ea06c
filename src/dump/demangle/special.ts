/** The ABI's special names: vtables, VTTs, typeinfo, thunks, guard variables, TLS functions, clones, as c++filt prints them. */
import { Fail } from './cursor.js';
import { printEncoding, type Parser } from './index.js';
import { printType } from './types.js';

export function specialName(p: Parser): string {
  if (p.eat('TV')) return 'vtable for ' + printType(p.type());
  if (p.eat('TT')) return 'VTT for ' + printType(p.type());
  if (p.eat('TI')) return 'typeinfo for ' + printType(p.type());
  if (p.eat('TS')) return 'typeinfo name for ' + printType(p.type());
  if (p.eat('TH')) return 'TLS init function for ' + printType(p.name(false, false).n);
  if (p.eat('TW')) return 'TLS wrapper function for ' + printType(p.name(false, false).n);
  if (p.eat('Th')) {
    p.number();
    p.need('_');
    return 'non-virtual thunk to ' + printEncoding(p.encoding(false));
  }
  if (p.eat('Tv')) {
    p.number();
    p.need('_');
    p.number();
    p.need('_');
    return 'virtual thunk to ' + printEncoding(p.encoding(false));
  }
  if (p.eat('Tc')) {
    callOffset(p);
    callOffset(p);
    return 'covariant return thunk to ' + printEncoding(p.encoding(false));
  }
  if (p.eat('TC')) {
    const derived = printType(p.type());
    p.number();
    p.need('_');
    return `construction vtable for ${printType(p.type())}-in-${derived}`;
  }
  if (p.eat('GV')) return 'guard variable for ' + printType(p.name(false, false).n);
  if (p.eat('GR')) {
    const n = printType(p.name(false, false).n);
    const id = p.peek() === '_' || /[0-9A-Z]/.test(p.peek()) ? p.seqId() : 0;
    return `reference temporary #${id} for ${n}`;
  }
  if (p.eat('GTt')) return 'transaction clone for ' + printEncoding(p.encoding(false));
  if (p.eat('GTn')) return 'non-transaction clone for ' + printEncoding(p.encoding(false));
  if (p.eat('GA')) return 'hidden alias for ' + printEncoding(p.encoding(false));
  throw new Fail();
}

function callOffset(p: Parser): void {
  if (p.eat('h')) {
    p.number();
    p.need('_');
  } else if (p.eat('v')) {
    p.number();
    p.need('_');
    p.number();
    p.need('_');
  } else throw new Fail();
}
