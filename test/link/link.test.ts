/**
 * kelp link against the real target kbuild: the post-link rewrite of a
 * kbuild-built module, checked against the module kbuild produced before the
 * rewrite, with the ELF library and with readelf.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { ElfObject, type Relocation, type Section } from '../../elf/model.js';
import { SHF_ALLOC, SHF_INFO_LINK, SHF_RELA_LIVEPATCH, SHN_LIVEPATCH, SHT_RELA, STB_GLOBAL } from '../../elf/constants.js';
import { KelpError } from '../../src/errors.js';
import { linkModule, type LinkResult } from '../../src/link/index.js';
import { versionNames } from '../../src/link/klp.js';
import { readModinfo, modinfoValue } from '../../src/kmod/modinfo.js';
import { STAND_IN_PREFIX } from '../../src/link/plan.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { run, runStatus } from './support/run.js';
import { KELP_BIN } from '../support/paths.js';
import { cmdlineDiff, moduleDiff } from './support/fixtures.js';

let pre: PrereqStatus;
let target: TargetInfo;
const tmp = makeTmpDir('link');
let cmdline: string;
let modpatch: string;
let single: LinkResult;
let multi: LinkResult;

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages(), 'binutils', 'kmod']); // readelf, nm; modinfo
  if (!pre.ok) return;
  target = await getTarget();
  cmdline = await cmdlineDiff(tmp.dir, target.kdir);
  modpatch = await moduleDiff(tmp.dir, target.kdir);
  single = await linkModule({ inputs: [cmdline], kdir: target.kdir, name: 'kelp-one', output: join(tmp.dir, 'kelp-one.ko'), replace: true, keepBuild: true });
  multi = await linkModule({ inputs: [cmdline, modpatch], kdir: target.kdir, name: 'kelp_two', output: join(tmp.dir, 'kelp_two.ko'), replace: false, keepBuild: true });
}, 900_000);

afterAll(async () => {
  for (const r of [single, multi]) if (r?.builddir) await fs.rm(r.builddir, { recursive: true, force: true });
  tmp.cleanup();
});

async function readKo(file: string): Promise<ElfObject> {
  return ElfObject.read(await fs.readFile(file), file);
}

const relocKey = (r: Relocation, name: (n: string) => string) => `${r.offset}:${r.type}:${r.addend}:${r.symbol ? name(r.symbol.name) : '-'}`;

/** What every relocation section of the module says, by target section, with stand-ins named as placeholders. */
function relocationsByTarget(obj: ElfObject, rename: (n: string) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of obj.sections) {
    if (!s.relocations || !s.infoSection) continue;
    const list = out.get(s.infoSection.name) ?? [];
    for (const r of s.relocations) list.push(relocKey(r, rename));
    out.set(s.infoSection.name, list);
  }
  for (const l of out.values()) l.sort();
  return out;
}

function checkAgainstKbuildOutput(before: ElfObject, after: ElfObject, result: LinkResult): void {
  const rename = (n: string) => result.plan.standIns.get(n)?.placeholder ?? n;
  // Same sections (less emptied relocation sections, plus .klp.rela), same contents except __versions.
  const afterByName = new Map(after.sections.map((s) => [s.name, s]));
  for (const s of before.sections) {
    const a = afterByName.get(s.name);
    if (!a) {
      expect(s.relocations?.every((r) => r.symbol && r.symbol.name.startsWith(STAND_IN_PREFIX))).toBe(true);
      continue;
    }
    expect([a.name, a.type, a.flags, a.align]).toEqual([s.name, s.type, s.flags, s.align]);
    if (s.name !== '__versions' && !s.relocations && s !== before.symtab && s !== before.symtab?.link && s !== before.shstrtab) {
      expect(a.data.equals(s.data)).toBe(true);
    }
    if (s.link) expect(a.link?.name).toBe(s.link.name);
    if (s.infoSection) expect(a.infoSection?.name).toBe(s.infoSection.name);
  }
  // Every relocation survives with the same offset, type, addend and symbol name.
  expect(relocationsByTarget(after, (n) => n)).toEqual(relocationsByTarget(before, rename));
  // Every symbol survives with its section and value; stand-ins become SHN_LIVEPATCH placeholders.
  const sig = (o: ElfObject, name: (n: string) => string) => o.symbols
    .map((s) => `${name(s.name)}|${s.bind}|${s.type}|${s.section ? s.section.name : s.name.startsWith('.klp.sym.') || name(s.name) !== s.name ? 'klp' : s.shndx}|${s.value}|${s.size}`)
    .sort();
  // ____versions shrinks by the stand-ins' 64-byte entries.
  const removed = versionNames(before).filter((n) => n.startsWith(STAND_IN_PREFIX)).length;
  const shrink = (l: string) => l.replace(/^(____versions\|.*\|)(\d+)$/, (_all, head: string, size: string) => `${head}${Number(size) - 64 * removed}`);
  expect(removed).toBe(result.plan.standIns.size);
  expect(sig(after, (n) => n)).toEqual(sig(before, rename).map(shrink));
  // __versions lost exactly the stand-ins.
  expect(versionNames(after)).toEqual(versionNames(before).filter((n) => !n.startsWith(STAND_IN_PREFIX)));
}

function checkKlpStructure(obj: ElfObject): void {
  const klpRela = obj.sections.filter((s) => s.name.startsWith('.klp.rela.'));
  expect(klpRela.length).toBeGreaterThan(0);
  for (const s of klpRela) {
    expect(s.type).toBe(SHT_RELA);
    expect(s.flags).toBe(SHF_ALLOC | SHF_INFO_LINK | SHF_RELA_LIVEPATCH);
    expect(s.link).toBe(obj.symtab);
    expect(s.infoSection).not.toBeNull();
    const [, object] = /^\.klp\.rela\.([^.]+)\.(.*)$/.exec(s.name)!;
    expect(s.name).toBe(`.klp.rela.${object}.${s.infoSection!.name}`);
    for (const r of s.relocations!) {
      expect(r.symbol!.shndx).toBe(SHN_LIVEPATCH);
      // The section's object is the symbol's object (vmlinux symbols never in a module's section).
      expect(r.symbol!.name.startsWith(`.klp.sym.${object}.`)).toBe(true);
    }
  }
  const names = klpRela.map((s) => s.name);
  expect(new Set(names).size).toBe(names.length);
  for (const sym of obj.symbols.filter((s) => s.name.startsWith('.klp.sym.'))) {
    expect(sym.bind).toBe(STB_GLOBAL);
    expect(sym.shndx).toBe(SHN_LIVEPATCH);
    expect(sym.section).toBeNull();
  }
  // No relocation against a livepatch symbol outside .klp.rela in a loaded section.
  for (const s of obj.sections) {
    if (!s.relocations || s.name.startsWith('.klp.rela.') || !s.infoSection || (s.infoSection.flags & SHF_ALLOC) === 0) continue;
    for (const r of s.relocations) expect(r.symbol?.shndx === SHN_LIVEPATCH ? `${s.name}: ${r.symbol.name}` : '').toBe('');
  }
}

describe('kelp link (kbuild)', () => {
  test('vmlinux patch: .klp.rela.vmlinux..text with the saved_command_line placeholder', async () => {
    if (skipUnlessReady(pre)) return;
    const obj = await readKo(single.output);
    checkKlpStructure(obj);
    const klp = obj.sections.filter((s) => s.name.startsWith('.klp.rela.'));
    expect(klp.map((s) => s.name)).toEqual(['.klp.rela.vmlinux..text']);
    expect(klp[0].relocations!.map((r) => r.symbol!.name)).toEqual(['.klp.sym.vmlinux.saved_command_line,0']);
    expect(single.conversion.moved).toBe(1);
  });

  test('the rewrite keeps every section, symbol and relocation of kbuild\'s module', async () => {
    if (skipUnlessReady(pre)) return;
    for (const r of [single, multi]) {
      const before = await readKo(join(r.builddir!, `${r.moduleName === 'kelp_one' ? 'kelp-one' : 'kelp_two'}.ko`));
      checkAgainstKbuildOutput(before, await readKo(r.output), r);
    }
  });

  test('several objects: vmlinux and a module, module symbols with sympos, vmlinux symbols of the module patch in .klp.rela.vmlinux', async () => {
    if (skipUnlessReady(pre)) return;
    const obj = await readKo(multi.output);
    checkKlpStructure(obj);
    const sections = new Map(obj.sections.filter((s) => s.name.startsWith('.klp.rela.')).map((s) => [s.name, s] as [string, Section]));
    expect([...sections.keys()].sort()).toEqual(['.klp.rela.kelp_target_mod..text', '.klp.rela.vmlinux..text']);
    const syms = (n: string) => [...new Set(sections.get(n)!.relocations!.map((r) => r.symbol!.name))].sort();
    expect(syms('.klp.rela.kelp_target_mod..text')).toEqual(['.klp.sym.kelp_target_mod.counter,0', '.klp.sym.kelp_target_mod.helper,2']);
    expect(syms('.klp.rela.vmlinux..text')).toEqual(['.klp.sym.vmlinux.saved_command_line,0']);
    expect(multi.plan.objects.map((o) => [o.name, o.functions.map((f) => `${f.oldName},${f.sympos}`)])).toEqual([
      ['vmlinux', ['cmdline_proc_show,0']], ['kelp_target_mod', ['kelp_target_show,0']],
    ]);
  });

  test('readelf shows the flags (AIo), the SHN_LIVEPATCH symbols and the relocations', async () => {
    if (skipUnlessReady(pre)) return;
    const out = run('readelf', ['-S', '-s', '-r', '-W', multi.output]);
    expect(out).toMatch(/\] \.klp\.rela\.vmlinux\.\.text\s+RELA\s+\S+\s+\S+\s+\S+\s+18\s+AIo\s/);
    expect(out).toMatch(/\] \.klp\.rela\.kelp_target_mod\.\.text\s+RELA\s+\S+\s+\S+\s+\S+\s+18\s+AIo\s/);
    expect(out).toMatch(/NOTYPE\s+GLOBAL\s+DEFAULT\s+OS \[0xff20\] \.klp\.sym\.kelp_target_mod\.helper,2/);
    expect(out).toMatch(/NOTYPE\s+GLOBAL\s+DEFAULT\s+OS \[0xff20\] \.klp\.sym\.vmlinux\.saved_command_line,0/);
    expect(out).toMatch(/Relocation section '\.klp\.rela\.kelp_target_mod\.\.text'[^\n]*\n[^\n]*\n(?:[^\n]*\n)*?[0-9a-f]+\s+[0-9a-f]+\s+R_X86_64_PLT32\s+0+\s+\.klp\.sym\.kelp_target_mod\.helper,2 - 4/);
    expect(out).not.toMatch(/__kelp_klp_sym_/);
    expect(out).not.toMatch(/readelf: (Error|Warning)/);
    const nm = runStatus('nm', [multi.output]);
    expect(nm.status).toBe(0);
  });

  test('.modinfo: livepatch=Y, name, vermagic of the target, no dependency; __versions without placeholders', async () => {
    if (skipUnlessReady(pre)) return;
    const obj = await readKo(multi.output);
    const info = readModinfo(obj);
    expect(modinfoValue(info, 'livepatch')).toBe('Y');
    expect(modinfoValue(info, 'name')).toBe('kelp_two');
    expect(modinfoValue(info, 'license')).toBe('GPL');
    expect(modinfoValue(info, 'depends')).toBe('');
    expect(modinfoValue(info, 'vermagic')!.startsWith(`${target.release} `)).toBe(true);
    const versions = versionNames(obj);
    expect(versions).toContain('seq_printf');
    expect(versions).toContain('klp_enable_patch');
    expect(versions.filter((n) => n.startsWith('.klp') || n.startsWith('__kelp'))).toEqual([]);
    const text = run('modinfo', ['-F', 'livepatch', multi.output]).trim();
    expect(text).toBe('Y');
  });

  test('deterministic: the same inputs give a byte-identical module', async () => {
    if (skipUnlessReady(pre)) return;
    const again = join(tmp.dir, 'again', 'kelp_two.ko');
    await fs.mkdir(join(tmp.dir, 'again'));
    await linkModule({ inputs: [cmdline, modpatch], kdir: target.kdir, name: 'kelp_two', output: again, replace: false });
    expect((await fs.readFile(again)).equals(await fs.readFile(multi.output))).toBe(true);
    // No path of kelp link's own build directory leaks into the module.
    expect((await fs.readFile(again)).includes(Buffer.from(multi.builddir!))).toBe(false);
    expect((await fs.readFile(again)).includes(Buffer.from('/kelp-link/kelp-tables.c'))).toBe(true);
  });

  test('modpost still refuses an undefined symbol that is neither exported nor a placeholder', async () => {
    if (skipUnlessReady(pre)) return;
    const raw = join(tmp.dir, 'cmdline-build', 'cmdline.o');
    // The compiled object with a .kelp.meta but saved_command_line left as a plain undefined reference.
    const { makeDiffObject } = await import('./support/fake-diff.js');
    const { bytes } = makeDiffObject(await fs.readFile(raw), raw, { target: 'vmlinux', functions: [{ name: 'cmdline_proc_show', oldName: 'cmdline_proc_show', sympos: 0 }], klp: {} });
    const bad = join(tmp.dir, 'unresolved.o');
    await fs.writeFile(bad, bytes);
    const out = join(tmp.dir, 'unresolved.ko');
    await expect(linkModule({ inputs: [bad], kdir: target.kdir, name: 'kelp_bad', output: out, replace: true })).rejects.toThrow(/kbuild failed: .*saved_command_line.*undefined/);
    await expect(fs.access(out)).rejects.toThrow();
  });

  test('the CLI: one line for bad input, non-zero exit, no output file', async () => {
    if (skipUnlessReady(pre)) return;
    const notDiff = join(tmp.dir, 'cmdline-build', 'cmdline.o');
    const out = join(tmp.dir, 'cli.ko');
    const r = runStatus(KELP_BIN, ['link', notDiff, '--kdir', target.kdir, '--name', 'kelp_cli', '-o', out]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`kelp: ${notDiff}: no .kelp.meta section: not a kelp diff output\n`);
    await expect(fs.access(out)).rejects.toThrow();
    const ok = runStatus(KELP_BIN, ['link', cmdline, '--kdir', target.kdir, '--name', 'kelp_cli', '-o', out]);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('livepatch kelp_cli, 1 object(s), 1 function(s), 1 klp symbol(s), 1 relocation(s) in 1 .klp.rela section(s)');
  });

  test('--symbols refuses a sympos the kernel could not resolve', async () => {
    if (skipUnlessReady(pre)) return;
    const map = join(tmp.dir, 'kallsyms');
    await fs.writeFile(map, [
      'ffffffff82000000 B saved_command_line',
      'ffffffffc0000000 t helper\t[kelp_target_mod]',
      'ffffffffc0000010 t helper\t[kelp_target_mod]',
      'ffffffffc0000020 b counter\t[kelp_target_mod]',
      '',
    ].join('\n'));
    const out = join(tmp.dir, 'symbols.ko');
    await linkModule({ inputs: [modpatch], kdir: target.kdir, name: 'kelp_sym', output: out, replace: true, symbols: map });
    await fs.writeFile(map, 'ffffffff82000000 B saved_command_line\nffffffffc0000000 t helper\t[kelp_target_mod]\nffffffffc0000020 b counter\t[kelp_target_mod]\n');
    await expect(linkModule({ inputs: [modpatch], kdir: target.kdir, name: 'kelp_sym', output: out, replace: true, symbols: map }))
      .rejects.toThrow(new KelpError('.klp.sym.kelp_target_mod.helper,2: kelp_target_mod has only 1 symbol(s) named helper', map));
  });
});
