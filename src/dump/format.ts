/**
 * Text helpers that reproduce readelf's printf formats: fixed-width hex,
 * symbol-name printing with truncation (`[...]`) and control-character escapes,
 * and the locale-dependent handling of bytes above 0x7f.
 */

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

/**
 * readelf's print_symbol: prints `name` in `width` columns (negative: padded
 * with spaces to that width). Outside wide mode a name longer than the width
 * is cut and ends in `[...]`. Control characters print as `^X`; bytes above
 * 0x7f print as they are, and in a UTF-8 locale the rest of a multibyte
 * sequence is skipped (readelf 2.40 prints only its first byte).
 */
export function fmtSymbol(width: number, name: string, wide: boolean, utf8: boolean): string {
  let pad = false;
  if (width < 0) {
    width = -width;
    pad = true;
  } else if (width === 0) return '';
  if (PLAIN.test(name)) {
    if (wide || name.length <= width) return pad && name.length < width ? name + spaces(width - name.length) : name;
    const keep = Math.max(0, width - 5);
    const cut = name.slice(0, keep) + '[...]';
    return pad && cut.length < width ? cut + spaces(width - cut.length) : cut;
  }
  let remaining = wide ? Number.MAX_SAFE_INTEGER : width;
  let dots = false;
  if (!wide && name.length > width) {
    remaining = Math.max(0, width - 5);
    dots = true;
  }
  let out = '';
  let printed = 0;
  let i = 0;
  const n = name.length;
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
    } else {
      out += name[i];
      remaining--;
      printed++;
      const len = utf8 ? utf8Length(name, i, n) : 0;
      i += len > 0 ? len : 1;
    }
  }
  if (dots) {
    out += '[...]';
    printed += 5;
  }
  if (pad && printed < width) out += spaces(width - printed);
  return out;
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
