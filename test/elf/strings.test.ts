import { StringTable, StringTableBuilder } from '../../elf/strings.js';

describe('StringTableBuilder', () => {
  test('deduplicates and shares tails, as binutils does', () => {
    const b = new StringTableBuilder();
    const ids = ['.rela.text.foo', '.text.foo', 'foo', '.text', '.rela.text.foo', 'bar'].map((s) => b.add(s));
    const size = b.finish();
    // '.rela.text.foo' hosts '.text.foo' and 'foo'; '.text' and 'bar' stand alone.
    expect(size).toBe(1 + 15 + 6 + 4);
    const data = b.data();
    const table = new StringTable(data, 0, data.length);
    expect(ids.map((id) => table.tryGet(b.offsetOf(id)))).toEqual(['.rela.text.foo', '.text.foo', 'foo', '.text', '.rela.text.foo', 'bar']);
    expect(b.offsetOf(ids[1])).toBe(b.offsetOf(ids[0]) + 5);
    expect(b.offsetOf(b.add(''))).toBe(0);
  });

  test('chains of tails all land in the longest string', () => {
    const b = new StringTableBuilder();
    const ids = ['d', 'bcd', 'abcd'].map((s) => b.add(s));
    expect(b.finish()).toBe(1 + 5);
    const t = new StringTable(b.data(), 0, b.data().length);
    expect(ids.map((i) => t.tryGet(b.offsetOf(i)))).toEqual(['d', 'bcd', 'abcd']);
  });
});

describe('StringTable', () => {
  test('out-of-range offsets are undefined, unterminated strings end at the table end', () => {
    const buf = Buffer.from('\0abc\0de', 'latin1');
    const t = new StringTable(buf, 0, buf.length);
    expect(t.tryGet(1)).toBe('abc');
    expect(t.tryGet(5)).toBe('de');
    expect(t.isTerminated(5)).toBe(false);
    expect(t.tryGet(7)).toBeUndefined();
    expect(t.tryGet(-1)).toBeUndefined();
  });
});
