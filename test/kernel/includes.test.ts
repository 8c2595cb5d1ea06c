/** The include index (src/kernel/includes.ts) on a small tree laid out like the kernel's. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ConfiguredTree } from '../../src/kernel/configured.js';
import { buildIncludeIndex, directives, objectsIncludingHeaders } from '../../src/kernel/includes.js';
import { makeTmpDir } from '../support/tmp.js';

const tmp = makeTmpDir('kernel-includes');
afterAll(() => tmp.cleanup());

function tree(files: Record<string, string>): string {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tmp.dir, p)), { recursive: true });
    writeFileSync(join(tmp.dir, p), text);
  }
  return tmp.dir;
}

function conf(objects: string[], dirFlags: Record<string, string[]> = {}): ConfiguredTree {
  return {
    objects: new Map(objects.map((o) => [o, { object: o, target: 'vmlinux', lib: false }])),
    dirFlags: new Map(Object.entries(dirFlags)), objectFlags: new Map(), dirs: [], modules: [],
  };
}

test('directives: every #include (any #if, spaced #), computed ones, and #define NAME <file>', () => {
  const d = directives(Buffer.from('#include <linux/a.h>\n#if 0\n#  include "b.h"\n#endif\n/* #include <no.h> */ x #include <no2.h>\n#define HDR <linux/c.h>\n#include HDR\n'));
  expect(d).toEqual([
    { kind: 'include', quote: false, target: 'linux/a.h' },
    { kind: 'include', quote: true, target: 'b.h' },
    { kind: 'macro', name: 'HDR' },
    { kind: 'define', name: 'HDR', quote: false, target: 'linux/c.h' },
  ]);
});

test('includers through headers, the arch path first, a directory\'s -I, a computed include; objects that never include it are left out', async () => {
  const root = tree({
    '.config': 'CONFIG_X86=y\n',
    'include/linux/kconfig.h': '',
    'include/linux/compiler_types.h': '',
    'include/linux/a.h': '#include <linux/b.h>\n',
    'include/linux/b.h': '/* the changed header */\n',
    'include/asm/cpu.h': '#include <linux/b.h>\n', // shadowed by arch/x86/include/asm/cpu.h
    'arch/x86/include/asm/cpu.h': '',
    'drivers/foo/main.c': '#include "local.h"\n#include <asm/cpu.h>\n',
    'drivers/foo/local.h': '#include <linux/a.h>\n',
    'drivers/bar/bar.c': '#include <asm/cpu.h>\n#include <bar_private.h>\n',
    'drivers/bar/inc/bar_private.h': '#include <linux/b.h>\n',
    'drivers/baz/baz.c': '#define GEN_FILE <linux/gen.h>\n#include GEN_FILE\n',
    'include/linux/gen.h': '#include <linux/b.h>\n',
    'drivers/qux/qux.c': '#include <asm/cpu.h>\n',
  });
  const index = await buildIncludeIndex(root, conf(
    ['drivers/foo/main.o', 'drivers/bar/bar.o', 'drivers/baz/baz.o', 'drivers/qux/qux.o'],
    { 'drivers/bar': ['-I', 'drivers/bar/inc'] },
  ));
  expect(objectsIncludingHeaders(index, ['include/linux/b.h'])).toEqual({
    objects: ['drivers/bar/bar.o', 'drivers/baz/baz.o', 'drivers/foo/main.o'], all: false, generated: [],
  });
  // A forced include (kconfig.h, compiler_types.h) reaches every object.
  expect(objectsIncludingHeaders(index, ['include/linux/kconfig.h']).objects).toHaveLength(4);
  expect(objectsIncludingHeaders(index, ['include/linux/unused.h']).objects).toEqual([]);
});

test('an object an explicit rule of its Makefile builds from a source elsewhere (6.1 kernel/bpf relo_core.o, libstub lib-%.o) is that source\'s object', async () => {
  const root = tree({
    '.config': 'CONFIG_X86=y\n',
    'include/linux/kconfig.h': '',
    'include/linux/compiler_types.h': '',
    // Lines as Linux 6.1's kernel/bpf/Makefile and drivers/firmware/efi/libstub/Makefile have them.
    'kernel/bpf/Makefile': 'obj-$(CONFIG_BPF_SYSCALL) += relo_core.o\n$(obj)/relo_core.o: $(srctree)/tools/lib/bpf/relo_core.c FORCE\n\t$(call if_changed_rule,cc_o_c)\n',
    'kernel/bpf/btf.c': '#include "../tools/lib/bpf/relo_core.h"\n',
    'tools/lib/bpf/relo_core.c': '#include "relo_core.h"\n',
    'tools/lib/bpf/relo_core.h': '',
    'tools/lib/bpf/unused.c': '',
    'drivers/firmware/efi/libstub/Makefile': '$(obj)/lib-%.o: $(srctree)/lib/%.c FORCE\n\t$(call if_changed_rule,cc_o_c)\n',
    'lib/ctype.c': '',
  });
  const index = await buildIncludeIndex(root, conf(['kernel/bpf/relo_core.o', 'kernel/bpf/btf.o', 'drivers/firmware/efi/libstub/lib-ctype.o']));
  expect(index.generated).toEqual([]);
  expect(index.sources['kernel/bpf/relo_core.o']).toBe('tools/lib/bpf/relo_core.c');
  expect(index.sources['drivers/firmware/efi/libstub/lib-ctype.o']).toBe('lib/ctype.c');
  expect(objectsIncludingHeaders(index, ['tools/lib/bpf/relo_core.c']).objects).toEqual(['kernel/bpf/relo_core.o']);
  expect(objectsIncludingHeaders(index, ['tools/lib/bpf/relo_core.h']).objects).toEqual(['kernel/bpf/btf.o', 'kernel/bpf/relo_core.o']);
  expect(objectsIncludingHeaders(index, ['tools/lib/bpf/unused.c']).objects).toEqual([]);
});
