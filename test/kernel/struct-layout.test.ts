/** Struct and union layout changes read from source text (src/kernel/struct-layout.ts). */
import { describeLayoutChange, layoutChanges, memberShape } from '../../src/kernel/struct-layout.js';

const BASE = `
/* a comment with struct fake { int x; } in it */
struct demo {
	struct list_head list;		/* entries */
	unsigned long flags;
#ifdef CONFIG_DEMO_STATS
	u64 hits;
#endif
	int (*handler)(struct demo *d, int why);
	u8 key[16];
	unsigned int small:3, wide:5;
	union {
		void *ptr;
		long value;
	};
};
typedef struct {
	int a;
} demo_pair_t;
`;

test('a member added, removed or retyped is a layout change naming the type and the member', () => {
  const added = layoutChanges(BASE, BASE.replace('\tunsigned long flags;\n', '\tunsigned long flags;\n\tint added;\n'));
  expect(added).toEqual([{ type: 'struct demo', line: 3, added: ['int added'], removed: [] }]);
  expect(describeLayoutChange('include/demo.h', added[0])).toMatch(/^include\/demo\.h:3: struct demo changes layout \(adds `int added`\); existing struct demo objects/);
  expect(layoutChanges(BASE, BASE.replace('\tu8 key[16];\n', ''))[0].removed).toEqual(['u8 key[16]']);
  expect(layoutChanges(BASE, BASE.replace('u8 key[16]', 'u8 key[32]'))[0]).toMatchObject({ added: ['u8 key[32]'], removed: ['u8 key[16]'] });
  expect(layoutChanges(BASE, BASE.replace('long value;', 'long long value;')).map((c) => c.type)).toEqual(['struct demo']);
  expect(layoutChanges(BASE, BASE.replace('\tint a;\n', '\tint a;\n\tint b;\n')).map((c) => c.type)).toEqual(['demo_pair_t']);
});

test('renames, comments, whitespace, code outside types and new types are no layout change', () => {
  expect(layoutChanges(BASE, BASE.replace('flags;', 'state;').replace('(*handler)', '(*on_event)').replace('key[16]', 'secret[16]'))).toEqual([]);
  expect(layoutChanges(BASE, BASE.replace('/* entries */', '/* the entries */').replace('\tunsigned long flags;', '\tunsigned long   flags;'))).toEqual([]);
  expect(layoutChanges(BASE, `${BASE}\nstruct brand_new { int x; };\nstatic inline int f(void) { return 2; }\n`)).toEqual([]);
  expect(layoutChanges(BASE, BASE.replace('#ifdef CONFIG_DEMO_STATS', '#if defined(CONFIG_DEMO_STATS)'))).toEqual([]);
});

test('member shapes drop the declared names only', () => {
  expect(memberShape('unsigned long flags')).toBe('unsigned long ');
  expect(memberShape('int (*handler)(struct demo *d, int why)')).toBe('int (*)(struct demo *d, int why)');
  expect(memberShape('unsigned int small:3, wide:5')).toBe('unsigned int :3,:5');
  expect(memberShape('u8 key[16]')).toBe('u8 [16]');
});

test('annotations that move no data and qualifiers are no suspect; a member added beside them still is', () => {
  // security/ipe/eval.h between Debian's 6.12.107 and 6.12.117.
  const IPE = 'struct ipe_bdev {\n#ifdef CONFIG_IPE_PROP_DM_VERITY_SIGNATURE\n\tbool dm_verity_signed;\n#endif\n\tstruct digest_info *root_hash;\n};\n';
  expect(layoutChanges(IPE, IPE.replace('struct digest_info *root_hash', 'struct digest_info __rcu *root_hash'))).toEqual([]);
  expect(layoutChanges(BASE, BASE.replace('void *ptr', 'void __user *ptr').replace('u8 key[16]', 'u8 __iomem key[16]'))).toEqual([]);
  expect(layoutChanges(BASE, BASE.replace('unsigned long flags', 'unsigned long __percpu flags').replace('void *ptr', 'const void *ptr'))).toEqual([]);
  expect(layoutChanges(BASE, BASE.replace('u8 key[16]', 'u8 key[16] __counted_by(small)'))).toEqual([]);
  expect(layoutChanges(BASE, BASE.replace('void *ptr', 'void __force *ptr'))).toEqual([]);
  const grown = layoutChanges(IPE, IPE.replace('struct digest_info *root_hash;', 'struct digest_info __rcu *root_hash;\n\tint users;'));
  expect(grown).toEqual([{ type: 'struct ipe_bdev', line: 1, added: ['int users'], removed: [] }]);
});
