/**
 * kelp check's `module.sections`: the section checks of the 6.12 loader
 * (one .modinfo; one SHF_ALLOC .gnu.linkonce.this_module of the target's
 * sizeof(struct module), taken from a module of the target's tree, here an
 * xz-compressed one as Debian 6.12 ships them). Not applied to 6.1.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHF_ALLOC, SHF_WRITE, SHT_PROGBITS } from '../../elf/constants.js';
import { ElfObject, Section } from '../../elf/model.js';
import { writeObject } from '../../elf/writer.js';
import { checkModule } from '../../src/check/index.js';

let dir: string;
let modules: string;
let map: string;

/** A gcc-built module object whose this_module section has `size` bytes; `edit` changes it further. */
function moduleFile(name: string, size: number, edit: (o: ElfObject) => void = () => {}): string {
  const c = join(dir, `${name}.c`);
  writeFileSync(c, [
    `__attribute__((section(".gnu.linkonce.this_module"), used)) char this_module[${size}] = "lp_sections";`,
    'static const char modinfo[] __attribute__((section(".modinfo"), used)) = "livepatch=Y\\0license=GPL\\0name=lp_sections";',
    'int f(int x) { return x; }',
  ].join('\n'));
  const o = join(dir, `${name}.o`);
  execFileSync('gcc', ['-O2', '-c', c, '-o', o]);
  const obj = ElfObject.read(readFileSync(o), o);
  edit(obj);
  const ko = join(dir, `${name}.ko`);
  writeFileSync(ko, writeObject(obj));
  return ko;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kelp-check-sections-'));
  modules = join(dir, 'lib', 'modules', 'kernel', 'fs');
  mkdirSync(modules, { recursive: true });
  const target = moduleFile('ext9', 1280);
  execFileSync('sh', ['-c', `xz -c --check=crc32 ${target} > ${join(modules, 'ext9.ko.xz')}`]);
  map = join(dir, 'System.map');
  writeFileSync(map, 'ffffffff81000000 T _text\n');
});

const rules = (ko: string, release: string) => checkModule(ko, { symbols: map, release, modules: [join(dir, 'lib', 'modules')] })
  .problems.filter((p) => p.rule === 'module.sections').map((p) => `${p.place}: ${p.message}`);

describe('kelp check: module.sections (Linux 6.12 loader)', () => {
  test('a module sized like the target\'s struct module, one of each section: no problem', () => {
    expect(rules(moduleFile('good', 1280), '6.12.95+deb12-amd64')).toEqual([]);
  });

  test('a this_module of another size, a second .modinfo, and a this_module without SHF_ALLOC', () => {
    const ko = moduleFile('bad', 1024, (o) => {
      const extra = new Section('.modinfo', SHT_PROGBITS, SHF_ALLOC);
      extra.data = Buffer.from('author=x\0');
      o.addSection(extra);
      const tm = o.sections.find((s) => s.name === '.gnu.linkonce.this_module')!;
      tm.flags = SHF_WRITE;
    });
    expect(rules(ko, '6.12.95+deb12-amd64')).toEqual([
      'section .modinfo: 2 .modinfo sections: Linux 6.12 refuses the module ("Only one .modinfo section must exist.")',
      'section .gnu.linkonce.this_module: is not SHF_ALLOC: the loader refuses the module ("must occupy memory during process execution")',
      expect.stringMatching(/^section \.gnu\.linkonce\.this_module: is 1024 bytes, but the target's struct module is 1280 \(.*ext9\.ko\.xz\)/),
    ]);
    // Linux 6.1's loader makes none of these checks.
    expect(rules(ko, '6.1.0-50-amd64')).toEqual([]);
  });
});
