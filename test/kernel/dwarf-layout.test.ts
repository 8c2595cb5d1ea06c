/**
 * Struct layouts as gcc lays them out, read from real objects' DWARF with
 * pahole (src/kernel/dwarf-layout.ts): the way the build decides whether a
 * struct whose source text changed really moves data. Annotations that
 * expand to nothing, renames, qualifiers and members under a disabled CONFIG
 * option give the same layout; a member added or removed, or one that grows,
 * does not.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { containersOf, dwarfLayout, flexibleTail, hasDwarf } from '../../src/kernel/dwarf-layout.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { makeTmpDir } from '../support/tmp.js';

let pre: PrereqStatus;
const tmp = makeTmpDir('dwarf-layout');
beforeAll(async () => { pre = await ensureDebianPackages(['gcc', 'libc6-dev', 'pahole']); }, 600_000);
afterAll(() => tmp.cleanup());

// The kernel's spellings: sparse's annotations are empty for gcc (include/linux/compiler_types.h).
const PRELUDE = `
#define __rcu
#define __user
#define __iomem
#define __percpu
#define __force
typedef unsigned char u8;
typedef unsigned int __u32;
typedef __u32 u32;
struct digest_info { int len; };
struct list_head { struct list_head *next, *prev; };
`;

const BASE = `
struct ipe_bdev {
#ifdef CONFIG_IPE_PROP_DM_VERITY_SIGNATURE
	_Bool dm_verity_signed;
#endif
	struct digest_info *root_hash;
	struct list_head list;
	unsigned int small:3, wide:5;
	union { void *ptr; long value; };
	char key[16];
};
struct ipe_bdev use;
`;

let n = 0;
/** Compiles PRELUDE + `body` with gcc -g (-O2, as the kernel) and returns the object. */
function compile(body: string, defines: string[] = []): string {
  const c = join(tmp.dir, `t${n}.c`);
  const o = join(tmp.dir, `t${n++}.o`);
  writeFileSync(c, `${PRELUDE}${body}`);
  const r = spawnSync('gcc', ['-g', '-O2', '-c', ...defines.map((d) => `-D${d}`), c, '-o', o], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return o;
}

async function same(before: string, after: string, type = 'struct ipe_bdev'): Promise<boolean> {
  const a = await dwarfLayout(compile(before), type);
  const b = await dwarfLayout(compile(after), type);
  expect(a).toBeDefined();
  expect(b).toBeDefined();
  return JSON.stringify(a) === JSON.stringify(b);
}

test('annotations, renames, qualifiers, typedefs of the same type and a member under a disabled CONFIG option leave the compiled layout as it was', async () => {
  if (skipUnlessReady(pre)) return;
  // security/ipe/eval.h between Debian's 6.12.107 and 6.12.117: `root_hash` became __rcu.
  expect(await same(BASE, BASE.replace('struct digest_info *root_hash', 'struct digest_info __rcu *root_hash'))).toBe(true);
  expect(await same(BASE, BASE.replace('char key[16]', 'char __iomem secret[16]').replace('void *ptr', 'const void __user *ptr'))).toBe(true);
  expect(await same(BASE, BASE.replace('struct list_head list;', 'struct list_head list;\n#ifdef CONFIG_NOT_SET\n\tint stats;\n#endif'))).toBe(true);
  // A typedef of the same type (pahole --expand_types resolves it).
  expect(await same(BASE, BASE.replace('unsigned int small:3, wide:5', 'u32 small:3, wide:5'))).toBe(true);
});

test('a member added or removed, a member that grows, and a member moved are a different compiled layout', async () => {
  if (skipUnlessReady(pre)) return;
  expect(await same(BASE, BASE.replace('struct list_head list;', 'struct list_head list;\n\tint added;'))).toBe(false);
  expect(await same(BASE, BASE.replace('\tchar key[16];\n', ''))).toBe(false);
  expect(await same(BASE, BASE.replace('char key[16]', 'char key[32]'))).toBe(false);
  expect(await same(BASE, BASE.replace('unsigned int small:3, wide:5', 'unsigned int small:4, wide:5'))).toBe(false);
  expect(await same(BASE, BASE.replace('long value', 'struct list_head value'))).toBe(false);
  // Same size, other place: the members swapped.
  const swapped = BASE.replace('\tstruct digest_info *root_hash;\n\tstruct list_head list;', '\tstruct list_head list;\n\tstruct digest_info *root_hash;');
  expect(await same(BASE, swapped)).toBe(false);
});

test('the layout read names offsets, sizes and types but no member names; a type the object does not define is undefined', async () => {
  if (skipUnlessReady(pre)) return;
  const o = compile(BASE, ['CONFIG_IPE_PROP_DM_VERITY_SIGNATURE']);
  expect(hasDwarf(o)).toBe(true);
  const l = await dwarfLayout(o, 'struct ipe_bdev');
  expect(l).toEqual([
    'struct', '0 1 _Bool', '8 8 struct digest_info *', 'struct list_head {', '16 8 struct list_head *', '24 8 struct list_head *', '16 16 }', '32:0 4 unsigned int :3', '32:3 4 unsigned int :5',
    'union {', '40 8 void *', '40 8 long int', '40 8 }', '48 16 char [16]', 'size 64', '}',
  ]);
  expect(await dwarfLayout(o, 'struct nowhere')).toBeUndefined();
  // Without -g there is no DWARF to read.
  const plain = join(tmp.dir, 'plain.o');
  expect(spawnSync('gcc', ['-O2', '-c', join(tmp.dir, 't0.c'), '-o', plain]).status).toBe(0);
  expect(hasDwarf(plain)).toBe(false);
});

// fs/smb/client/smb2pdu.h between Debian's 6.1.170 and 6.1.176: the last member of a wire-format
// struct, read out of a server's reply, became a flexible array (its fix needs sizeof() without it).
const SMB = `
struct smb2_error_context_rsp {
	__u32 ErrorDataLength;
	__u32 ErrorId;
	u8 ErrorContextData; /* ErrorDataLength long array */
} __attribute__((packed));
int first_id(void *buf) { struct smb2_error_context_rsp *p = buf; return p->ErrorId + sizeof(*p); }
`;

async function layouts(before: string, after: string, type: string): Promise<[string[], string[], string, string]> {
  const [ob, oa] = [compile(before), compile(after)];
  return [(await dwarfLayout(ob, type))!, (await dwarfLayout(oa, type))!, ob, oa];
}

test('a last member (a scalar or a one-element array) that becomes a flexible array at the same offset is told apart from every other layout change; pahole names the types that hold one by value', async () => {
  if (skipUnlessReady(pre)) return;
  const T = 'struct smb2_error_context_rsp';
  const flex = SMB.replace('u8 ErrorContextData;', 'u8 ErrorContextData[];');
  const [b, a] = await layouts(SMB, flex, T);
  expect([b.at(-2), a.at(-2)]).toEqual(['size 9', 'size 8']);
  expect(flexibleTail(b, a)).toBe(true);
  // A one-element array (unpacked: the size shrinks by the padding too) and a zero-length one.
  const one = SMB.replace('u8 ErrorContextData;', 'u8 ErrorContextData[1];').replace(' __attribute__((packed))', '');
  expect(flexibleTail(...(await layouts(one, one.replace('[1]', '[]'), T)).slice(0, 2) as [string[], string[]])).toBe(true);
  // A zero-length array is a flexible array in DWARF already: no change at all.
  expect(await same(one.replace('[1]', '[0]'), one.replace('[1]', '[]'), T)).toBe(true);
  // Not a flexible tail: another element type, a member added before it, the array made longer, a member other than the last.
  expect(flexibleTail(...(await layouts(SMB, SMB.replace('u8 ErrorContextData;', '__u32 ErrorContextData[];'), T)).slice(0, 2) as [string[], string[]])).toBe(false);
  expect(flexibleTail(...(await layouts(SMB, flex.replace('__u32 ErrorId;', '__u32 ErrorId;\n\t__u32 Added;'), T)).slice(0, 2) as [string[], string[]])).toBe(false);
  expect(flexibleTail(...(await layouts(SMB, SMB.replace('u8 ErrorContextData;', 'u8 ErrorContextData[2];'), T)).slice(0, 2) as [string[], string[]])).toBe(false);
  expect(flexibleTail(...(await layouts(SMB, SMB.replace('__u32 ErrorId;', 'u8 ErrorId;'), T)).slice(0, 2) as [string[], string[]])).toBe(false);
  // A struct holding it by value is named; one holding a pointer is not.
  const held = compile(`${SMB}struct reply { int n; struct smb2_error_context_rsp ctx; } last_reply;\nstruct ptr { struct smb2_error_context_rsp *p; } last_ptr;\n`);
  expect(await containersOf(held, T)).toEqual(['reply']);
  expect(await containersOf(compile(`${SMB}struct ptr { struct smb2_error_context_rsp *p; } last_ptr;\n`), T)).toEqual([]);
});
