/**
 * Text helpers that reproduce readelf's printf formats: fixed-width hex,
 * symbol-name printing with truncation (`[...]`) and control-character escapes,
 * and the locale-dependent handling of bytes above 0x7f.
 */

import { demangle } from './demangle/index.js';
import type { UnicodeDisplay } from './options.js';

const SPACES = ' '.repeat(256);

/** `n` spaces. */
export function spaces(n: number): string {
  if (n <= 0) return '';
  return n <= SPACES.length ? SPACES.slice(0, n) : ' '.repeat(n);
}

/** Right-aligned (printf `%Ns`). */
export function padStart(s: string, width: number): string {
  return s.length >= width ? s : spaces(width - s.length) + s;
}

/** Left-aligned (printf `%-Ns`). */
export function padEnd(s: string, width: number): string {
  return s.length >= width ? s : s + spaces(width - s.length);
}

/** printf `%0Nx` of a non-negative number or bigint. */
export function hex(v: number | bigint, width = 0): string {
  const s = v.toString(16);
  return s.length >= width ? s : '0'.repeat(width - s.length) + s;
}

/** printf `%#x`: `0` for zero, `0x...` otherwise. */
export function altHex(v: number | bigint): string {
  return v === 0 || v === 0n ? '0' : `0x${v.toString(16)}`;
}

/** True when the process locale makes readelf treat names as UTF-8 (its mbrtowc calls). */
export function localeIsUtf8(env: NodeJS.ProcessEnv = process.env): boolean {
  const pick = env.LC_ALL || env.LC_CTYPE || env.LANG || '';
  return /utf-?8/i.test(pick);
}

/**
 * The byte length of the UTF-8 sequence starting at `s[i]` (a latin1 string,
 * one char per byte) as the C library's mbrtowc decodes it, or 0 when the
 * bytes are not a valid sequence. `end` bounds the bytes that may be read.
 */
export function utf8Length(s: string, i: number, end: number): number {
  const b = s.charCodeAt(i);
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) need = 1;
  else if (b >= 0xe0 && b <= 0xef) {
    need = 2;
    if (b === 0xe0) lo = 0xa0;
    else if (b === 0xed) hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    need = 3;
    if (b === 0xf0) lo = 0x90;
    else if (b === 0xf4) hi = 0x8f;
  } else return 0;
  // Past the end of the string is its terminating NUL, never a continuation byte.
  if (i + need >= end) return 0;
  for (let k = 1; k <= need; k++) {
    const c = s.charCodeAt(i + k);
    if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return 0;
  }
  return need + 1;
}

const PLAIN = /^[\x20-\x7e]*$/;

/** How print_symbol shows names beyond width and locale: readelf's -C, -U and -T. */
export interface SymbolStyle {
  /** -C: C++ names demangled (the truncation test still measures the mangled name, as readelf's does). */
  demangle: boolean;
  /** -U: what bytes of UTF-8 sequences print as (default/locale: the first byte, as readelf 2.40 does). */
  unicode: UnicodeDisplay;
  /** -T: no `[...]` on a cut name. */
  silentTruncation: boolean;
  /** Whether standard output is a terminal (-U highlight colours only there). */
  tty: boolean;
}

export const PLAIN_STYLE: SymbolStyle = { demangle: false, unicode: 'default', silentTruncation: false, tty: false };

/**
 * readelf's print_symbol: prints `name` in `width` columns (negative: padded
 * with spaces to that width). Outside wide mode a name longer than the width
 * is cut and ends in `[...]` (not with -T). Control characters print as `^X`;
 * bytes above 0x7f print as they are, and in a UTF-8 locale the rest of a
 * multibyte sequence is skipped (readelf 2.40 prints only its first byte);
 * -U escape/hex/invalid/highlight print sequences as `\uXXXX`, `<0x..>` or `{0x..}`.
 */
export function fmtSymbol(width: number, name: string, wide: boolean, utf8: boolean, style: SymbolStyle = PLAIN_STYLE): string {
  let pad = false;
  if (width < 0) {
    width = -width;
    pad = true;
  } else if (width === 0) return '';
  const cut = !wide && !style.silentTruncation && name.length > width;
  if (style.demangle && name !== '') name = demangle(name) ?? name;
  if (PLAIN.test(name) && !cut) {
    if (wide || name.length <= width) return pad && name.length < width ? name + spaces(width - name.length) : name;
    const kept = name.slice(0, width);
    return pad && kept.length < width ? kept + spaces(width - kept.length) : kept;
  }
  if (PLAIN.test(name) && cut) {
    const kept = name.slice(0, Math.max(0, width - 5)) + '[...]';
    return pad && kept.length < width ? kept + spaces(width - kept.length) : kept;
  }
  let remaining = wide ? Number.MAX_SAFE_INTEGER : width;
  if (cut) remaining = Math.max(0, width - 5);
  const other = style.unicode !== 'default' && style.unicode !== 'locale';
  let out = '';
  let printed = 0;
  let i = 0;
  const n = name.length;
  const at = (k: number): number => (k < n ? name.charCodeAt(k) : 0);
  while (remaining > 0 && i < n) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      out += name[i];
      remaining--;
      printed++;
      i++;
    } else if (c < 0x20 || c === 0x7f) {
      if (remaining < 2) break;
      out += '^' + String.fromCharCode(c + 0x40);
      remaining -= 2;
      printed += 2;
      i++;
    } else if (other) {
      const r = unicodeText(name, i, at, style, remaining);
      if (r === undefined) break;
      out += r.text;
      i += r.length;
    } else {
      out += name[i];
      remaining--;
      printed++;
      const len = utf8 ? utf8Length(name, i, n) : 0;
      i += len > 0 ? len : 1;
    }
  }
  if (cut) {
    out += '[...]';
    printed += 5;
  }
  if (pad && printed < width) out += spaces(width - printed);
  return out;
}

/**
 * One byte sequence under -U escape/hex/invalid/highlight, as readelf 2.40
 * prints it (which neither counts it against the width nor as printed);
 * undefined where readelf stops printing the name.
 */
function unicodeText(_name: string, i: number, at: (k: number) => number, style: SymbolStyle, remaining: number): { text: string; length: number } | undefined {
  const b = [at(i), 0, 0, 0];
  let nbytes = 1;
  let isUtf8 = false;
  if (b[0] >= 0xc0) {
    b[1] = at(i + 1);
    if ((b[1] & 0xc0) === 0x80) {
      if ((b[0] & 0x20) === 0) {
        isUtf8 = true;
        nbytes = 2;
      } else {
        b[2] = at(i + 2);
        if ((b[2] & 0xc0) === 0x80) {
          if ((b[0] & 0x10) === 0) {
            isUtf8 = true;
            nbytes = 3;
          } else {
            b[3] = at(i + 3);
            if ((b[3] & 0xc0) === 0x80) {
              isUtf8 = true;
              nbytes = 4;
            }
          }
        }
      }
    }
  }
  if (style.unicode === 'invalid') isUtf8 = false;
  let text = '';
  if (style.unicode === 'hex' || !isUtf8) {
    if (remaining < nbytes * 2 + 2) return undefined;
    text = (isUtf8 ? '<' : '{') + '0x' + b.slice(0, nbytes).map((x) => hex(x, 2)).join('') + (isUtf8 ? '>' : '}');
  } else {
    const h = (v: number): string => hex(v & 0xff, 2);
    if (nbytes === 2 && remaining >= 6) text = `\\u${h((b[0] & 0x1c) >> 2)}${h(((b[0] & 0x03) << 6) | (b[1] & 0x3f))}`;
    else if (nbytes === 3 && remaining >= 6) text = `\\u${h(((b[0] & 0x0f) << 4) | ((b[1] & 0x3c) >> 2))}${h(((b[1] & 0x03) << 6) | (b[2] & 0x3f))}`;
    else if (nbytes === 4 && remaining >= 8) {
      text = `\\u${h(((b[0] & 0x07) << 6) | ((b[1] & 0x3c) >> 2))}${h(((b[1] & 0x03) << 6) | ((b[2] & 0x3c) >> 2))}${h(((b[2] & 0x03) << 6) | (b[3] & 0x3f))}`;
    }
    if (style.unicode === 'highlight' && style.tty) text = `\x1B[31;47m${text}\x1B[0m`;
  }
  return { text, length: nbytes };
}

/** readelf's symbol size column (--sym-base): mixed decimal/hex (0), octal, decimal or hex. */
export function symbolSize(v: bigint, base: 0 | 8 | 10 | 16): string {
  switch (base) {
    case 8: return padStart(v.toString(8), 5);
    case 10: return padStart(v.toString(10), 5);
    case 16: return '0x' + hex(v, 5);
    default: return v <= 99999n ? padStart(v.toString(10), 5) : '0x' + v.toString(16);
  }
}

/**
 * readelf's printable_section_name: control characters as `^X`, other
 * non-printing bytes as `<XX>`, at most 256 characters.
 */
export function printableName(name: string): string {
  if (PLAIN.test(name) && name.length <= 256) return name;
  let out = '';
  let remaining = 256;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) {
      if (remaining < 2) break;
      out += '^' + String.fromCharCode(c + 0x40);
      remaining -= 2;
    } else if (c < 0x7f) {
      out += name[i];
      remaining -= 1;
    } else {
      if (remaining < 4) break;
      out += '<' + c.toString(16).toUpperCase().padStart(2, '0') + '>';
      remaining -= 4;
    }
    if (remaining === 0) break;
  }
  return out;
}
