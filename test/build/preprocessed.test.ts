/**
 * The comparison that lets a header fix skip the includers whose
 * preprocessed source it leaves as it was (src/build/preprocessed.ts): line
 * markers and blank lines do not count, every token does. (Real kbuild
 * output: test/build/tree-headers.test.ts.)
 */
import { preprocessedDigest } from '../../src/build/preprocessed.js';

const UNIT = [
  '# 1 "fs/fat/cache.c"',
  '# 1 "<built-in>"',
  '# 1 "./include/linux/kconfig.h" 1',
  'struct msdos_sb_info {',
  ' unsigned int dirty;',
  ' struct rcu_head rcu;',
  '};',
  '',
  'static inline unsigned char fat_checksum(const __u8 *name) { return name[0] + 3; }',
  'int f(void) { return printk("a  b\\n", 12); }',
].join('\n');

test('line markers, blank lines and trailing spaces are no change', () => {
  const moved = UNIT.replace('# 1 "fs/fat/cache.c"', '# 1 "fs/fat/cache.c"\n\n# 230 "fs/fat/fat.h"').replace('};', '};   \n\n\n');
  expect(preprocessedDigest(moved)).toBe(preprocessedDigest(UNIT));
});

test('a token, a number, a string literal\'s spaces or a new declaration are a change', () => {
  expect(preprocessedDigest(UNIT.replace('name[0] + 3', 'name[0] + 4'))).not.toBe(preprocessedDigest(UNIT));
  expect(preprocessedDigest(UNIT.replace('12);', '13);'))).not.toBe(preprocessedDigest(UNIT));
  expect(preprocessedDigest(UNIT.replace('"a  b', '"a b'))).not.toBe(preprocessedDigest(UNIT));
  expect(preprocessedDigest(UNIT.replace(' struct rcu_head rcu;', ' struct rcu_head rcu;\n unsigned int kunit_mounts;'))).not.toBe(preprocessedDigest(UNIT));
  expect(preprocessedDigest(`${UNIT}\nvoid xfs_dabuf_nfsb(void);`)).not.toBe(preprocessedDigest(UNIT));
});
