import { cString, renderLivepatchSource } from '../../src/link/template.js';

describe('livepatch module source', () => {
  const src = renderLivepatchSource({
    moduleName: 'kelp_two',
    replace: true,
    objects: [
      { name: 'vmlinux', functions: [{ oldName: 'cmdline_proc_show', newSymbol: '__kelp_func_0_0', sympos: 0 }], callbacks: { postPatch: '__kelp_cb_0_postPatch' } },
      {
        name: 'kelp_target_mod',
        functions: [
          { oldName: 'helper', newSymbol: '__kelp_func_1_0', sympos: 2 },
          { oldName: 'show.constprop.0', newSymbol: '__kelp_func_1_1', sympos: 0 },
        ],
        callbacks: { prePatch: '__kelp_cb_1_prePatch', preUnpatch: '__kelp_cb_1_preUnpatch', postUnpatch: '__kelp_cb_1_postUnpatch' },
      },
    ],
  });

  test('one klp_func table per object with old_name, new_func and old_sympos', () => {
    expect(src).toContain('static struct klp_func kelp_funcs_0[] = {\n\t{\n\t\t.old_name = "cmdline_proc_show",\n\t\t.new_func = __kelp_func_0_0,\n\t\t.old_sympos = 0,\n\t},\n\t{ }\n};');
    expect(src).toContain('\t\t.old_name = "helper",\n\t\t.new_func = __kelp_func_1_0,\n\t\t.old_sympos = 2,');
    expect(src).toContain('.old_name = "show.constprop.0"');
    expect(src).toContain('extern void __kelp_func_1_1(void);');
  });

  test('the objects: vmlinux has a NULL name, modules their name, each its table and callbacks', () => {
    const objs = src.slice(src.indexOf('static struct klp_object kelp_objects[]'));
    expect(objs).toMatch(/\.name = NULL, \/\* vmlinux \*\/\n\t\t\.funcs = kelp_funcs_0,\n\t\t\.callbacks = \{\n\t\t\t\.post_patch = __kelp_cb_0_postPatch,\n\t\t\},/);
    expect(objs).toMatch(/\.name = "kelp_target_mod",\n\t\t\.funcs = kelp_funcs_1,\n\t\t\.callbacks = \{\n\t\t\t\.pre_patch = __kelp_cb_1_prePatch,\n\t\t\t\.pre_unpatch = __kelp_cb_1_preUnpatch,\n\t\t\t\.post_unpatch = __kelp_cb_1_postUnpatch,/);
    expect(src).toContain('extern int __kelp_cb_1_prePatch(struct klp_object *obj);');
    expect(src).toContain('extern void __kelp_cb_1_postUnpatch(struct klp_object *obj);');
  });

  test('replace, livepatch modinfo, license, init', () => {
    expect(src).toContain('.replace = true,');
    expect(src).toContain('MODULE_INFO(livepatch, "Y");');
    expect(src).toContain('MODULE_LICENSE("GPL");');
    expect(src).toContain('return klp_enable_patch(&kelp_patch);');
    expect(src).not.toMatch(/@[A-Z_]+@/);
  });

  test('--no-replace', () => {
    const s = renderLivepatchSource({ moduleName: 'm', replace: false, objects: [{ name: 'vmlinux', functions: [], callbacks: {} }] });
    expect(s).toContain('.replace = false,');
    expect(s).not.toContain('.callbacks');
  });

  test('refuses what would not compile or load', () => {
    expect(() => renderLivepatchSource({ moduleName: 'm', replace: true, objects: [] })).toThrow(/at least one/);
    expect(() => renderLivepatchSource({ moduleName: 'm', replace: true, objects: [{ name: 'vmlinux', functions: [{ oldName: 'f', newSymbol: 'a.b', sympos: 0 }], callbacks: {} }] })).toThrow(/not a C identifier/);
    expect(() => renderLivepatchSource({ moduleName: 'm', replace: true, objects: [{ name: 'vmlinux', functions: [{ oldName: 'f', newSymbol: 'a', sympos: -1 }], callbacks: {} }] })).toThrow(/sympos/);
  });

  test('C string escaping', () => {
    expect(cString('a"b\\c\n')).toBe('"a\\"b\\\\c\\012"');
  });
});
