/**
 * `kelp dump --livepatch [--json]` on real modules: livepatches kelp link
 * builds against the cached Debian kernel (the cmdline fixture patching
 * vmlinux's cmdline_proc_show; the same plus kelp_target_mod's
 * kelp_target_show with helper at position 2), a module of the target's own
 * tree, copies broken on purpose, and files that are no ELF at all. The view
 * is compared with what GNU readelf says about the same file and with the
 * fixtures' known patched functions.
 */
import { promises as fs, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHF_RELA_LIVEPATCH, SHN_UNDEF } from '../../elf/constants.js';
import { linkModule } from '../../src/link/index.js';
import { describeLivepatch, formatLivepatch, type LivepatchView } from '../../src/dump/livepatch.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { KELP_BIN } from '../support/paths.js';
import { run, runStatus } from '../link/support/run.js';
import { moduleDiff } from '../link/support/fixtures.js';
import { klpSym, linkCmdlineModule, PATCHED_FUNCTION, section, VMLINUX_RELA, VMLINUX_SYM, writeBroken } from '../check/support/broken.js';

let pre: PrereqStatus;
let t: TargetInfo;
let one: string;
let two: string;
let plain: string;
const tmp = makeTmpDir('dump-livepatch');

beforeAll(async () => {
  pre = await ensureDebianPackages([...targetPackages(), 'binutils']);
  if (!pre.ok) return;
  t = await getTarget();
  const { module, diff: cmdline } = await linkCmdlineModule(tmp.dir, t.kdir, 'kelp_dump_one');
  one = module;
  const modpatch = await moduleDiff(tmp.dir, t.kdir);
  two = join(tmp.dir, 'kelp_dump_two.ko');
  await linkModule({ inputs: [cmdline, modpatch], kdir: t.kdir, name: 'kelp_dump_two', output: two, replace: false });
  plain = await firstModule(join(t.modules, 'kernel'));
}, 900_000);

afterAll(() => tmp.cleanup());

/** The first .ko of the target's module tree, in name order. */
async function firstModule(dir: string): Promise<string> {
  const all = (await fs.readdir(dir, { recursive: true })).map(String).filter((f) => f.endsWith('.ko')).sort();
  expect(all.length).toBeGreaterThan(0);
  return join(dir, all[0]);
}

const kelp = (...args: string[]) => runStatus(KELP_BIN, ['dump', ...args]);
const view = async (file: string): Promise<LivepatchView> => describeLivepatch(await fs.readFile(file), file);

// ---- readelf's facts ----------------------------------------------------------------

interface ReSection { index: number; name: string; type: string; size: number; flags: string; info: number }
interface ReSymbol { num: number; value: string; type: string; bind: string; ndx: string; name: string }
interface ReReloc { section: string; offset: string; type: string; symbol: string; addend: bigint }

function readelfSections(file: string): ReSection[] {
  const out: ReSection[] = [];
  for (const l of run('readelf', ['-S', '-W', file]).split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s+(\S+)\s+(\S+)\s+[0-9a-f]{16}\s+[0-9a-f]{6,}\s+([0-9a-f]{6,})\s+[0-9a-f]{2,}\s+([A-Za-z]*)\s*\d+\s+(\d+)\s+\d+$/.exec(l);
    if (m) out.push({ index: Number(m[1]), name: m[2], type: m[3], size: parseInt(m[4], 16), flags: m[5], info: Number(m[6]) });
  }
  return out;
}

function readelfSymbols(file: string): ReSymbol[] {
  const out: ReSymbol[] = [];
  for (const l of run('readelf', ['-s', '-W', file]).split('\n')) {
    const m = /^\s*(\d+): ([0-9a-f]{16})\s+\d+\s+(\S+)\s+(\S+)\s+\S+\s+(OS \[0x[0-9a-f]+\]|\S+) ?(.*)$/.exec(l);
    if (m) out.push({ num: Number(m[1]), value: m[2], type: m[3], bind: m[4], ndx: m[5], name: m[6] });
  }
  return out;
}

function readelfRelocs(file: string): ReReloc[] {
  const out: ReReloc[] = [];
  let section = '';
  for (const l of run('readelf', ['-r', '-W', file]).split('\n')) {
    const s = /^Relocation section '([^']+)'/.exec(l);
    if (s) section = s[1];
    const m = /^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(\S+)\s+[0-9a-f]{16}\s+(.+) ([+-]) ([0-9a-f]+)$/.exec(l);
    if (m) out.push({ section, offset: m[1], type: m[2], symbol: m[3], addend: (m[4] === '-' ? -1n : 1n) * BigInt(`0x${m[5]}`) });
  }
  return out;
}

function readelfModinfo(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of run('readelf', ['-p', '.modinfo', file]).split('\n')) {
    const m = /^\s*\[\s*[0-9a-f]+\]\s{2}([^=]+)=(.*)$/.exec(l);
    if (m && !out.has(m[1])) out.set(m[1], m[2]);
  }
  return out;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const hexAddend = (a: bigint): string => (a < 0n ? `-0x${(-a).toString(16)}` : `0x${a.toString(16)}`);

/** Everything the view says that readelf says too, for one module. */
function expectMatchesReadelf(file: string, v: LivepatchView): void {
  const sections = readelfSections(file);
  const symbols = readelfSymbols(file);
  const relocs = readelfRelocs(file);
  const info = readelfModinfo(file);
  const text = formatLivepatch(v);

  // The module.
  expect(v.module.modinfoName).toBe(info.get('name') ?? null);
  expect(v.module.name).toBe(info.get('name') ?? null);
  expect(v.module.livepatch).toBe(info.get('livepatch') ?? null);
  expect(v.module.vermagic).toBe(info.get('vermagic') ?? null);
  expect(v.module.license).toBe(info.get('license') ?? null);
  const versions = sections.find((s) => s.name === '__versions');
  expect([v.module.versions, v.module.versionEntries]).toEqual([versions !== undefined, versions ? versions.size / 64 : 0]);

  // The .klp.rela sections: every one readelf lists, grouped by the object in its name, with its relocations.
  const klpRela = sections.filter((s) => s.name.startsWith('.klp.rela.'));
  const viewed = v.klpRela.flatMap((g) => g.sections.map((s) => ({ g: g.object, s })));
  expect(viewed.map((x) => x.s.name).sort()).toEqual(klpRela.map((s) => s.name).sort());
  for (const { g, s } of viewed) {
    const re = klpRela.find((x) => x.name === s.name)!;
    expect(s.name.startsWith(`.klp.rela.${g}.`)).toBe(true);
    expect(s.index).toBe(re.index);
    expect(s.appliesTo).toBe(sections.find((x) => x.index === re.info)!.name);
    expect(s.flagsOk).toBe(re.flags.includes('A') && re.flags.includes('o'));
    const rows = relocs.filter((r) => r.section === s.name);
    expect(s.relocationCount).toBe(rows.length);
    expect(s.relocations.map((r) => [BigInt(r.r_offset).toString(16).padStart(16, '0'), r.type, r.symbol, BigInt(r.r_addend)]))
      .toEqual(rows.map((r) => [r.offset, r.type, r.symbol, r.addend]));
    expect(text).toContain(`    [${re.index}] ${s.name}\n      applies to [${re.info}] ${s.appliesTo}; sh_flags `);
    for (const r of rows) {
      expect(text).toMatch(new RegExp(`^ {8}${r.offset}\\s+${r.type}\\s+${escape(r.symbol)}( \\(not SHN_LIVEPATCH\\))?\\s+${escape(hexAddend(r.addend))}$`, 'm'));
    }
  }
  // One group per object, each object once.
  const objects = v.klpRela.map((g) => g.object);
  expect(new Set(objects).size).toBe(objects.length);

  // The .klp.sym symbols: readelf's SHN_LIVEPATCH (OS [0xff20]) symbols, parsed, with their uses.
  const klpSyms = symbols.filter((s) => s.ndx === 'OS [0xff20]' || s.name.startsWith('.klp.sym.'));
  expect(v.klpSymbols.map((s) => [s.index, s.symbol, s.livepatch])).toEqual(klpSyms.map((s) => [s.num, s.name, s.ndx === 'OS [0xff20]']));
  for (const s of v.klpSymbols) {
    const [, object, name, pos] = /^\.klp\.sym\.([^.]+)\.([^,]+),(\d+)$/.exec(s.symbol)!;
    expect([s.object, s.name, s.position]).toEqual([object, name, Number(pos)]);
    const uses = relocs.filter((r) => r.section.startsWith('.klp.rela.') && r.symbol === s.symbol).length;
    expect(s.relocations).toBe(uses);
    expect(text).toMatch(new RegExp(`^\\s+${s.index}\\s+${escape(object)}\\s+${escape(name)}\\s+${pos}\\s+${s.livepatch ? 'SHN_LIVEPATCH' : '0x[0-9a-f]+ \\(not SHN_LIVEPATCH\\)'}\\s+${uses}$`, 'm'));
  }

  // Undefined symbols: readelf's UND symbols with a name, less the .klp.sym ones, in table order.
  const und = symbols.filter((s) => s.ndx === 'UND' && s.name !== '' && !s.name.startsWith('.klp.sym.'));
  expect(v.undefinedSymbols.map((s) => [s.index, s.name, s.bind])).toEqual(und.map((s) => [s.num, s.name, s.bind]));
  const tail = text.slice(text.indexOf('Undefined symbols'));
  for (const s of und) expect(tail).toMatch(new RegExp(`^  ${escape(s.name)}( \\(WEAK\\))?$`, 'm'));

  // klp_func.new_func: readelf's relocation at the klp_func's +8 names it, and it is a function.
  for (const f of v.patches.flatMap((p) => p.objects.flatMap((o) => o.funcs))) {
    const [, sec, off] = /^(.+)\+0x([0-9a-f]+)$/.exec(f.place)!;
    const ptr = relocs.find((r) => r.section === `.rela${sec}` && BigInt(`0x${r.offset}`) === BigInt(`0x${off}`) + 8n);
    expect(ptr?.type).toBe('R_X86_64_64');
    expect(f.newFunc).toBe(ptr!.symbol);
    const fn = symbols.find((s) => s.name === f.newFunc)!;
    expect(fn.type).toBe('FUNC');
    const same = symbols.filter((s) => s.type === 'FUNC' && s.ndx === fn.ndx && s.value === fn.value && s.name !== f.newFunc).map((s) => s.name);
    expect(f.newFuncAliases).toEqual(same);
    expect(f.newFuncPlace).toBe(`${sections.find((s) => s.index === Number(fn.ndx))!.name}+0x${BigInt(`0x${fn.value}`).toString(16)}`);
  }
}

/** object → [old_name, old_sympos] of the view's tables. */
const patched = (v: LivepatchView) => v.patches.flatMap((p) => p.objects.map((o) => [o.name, o.funcs.map((f) => [f.oldName, f.oldSympos])]));

describe('kelp dump --livepatch: kelp link modules', () => {
  test('a vmlinux livepatch: cmdline_proc_show patched, saved_command_line as .klp.sym, all as readelf says', async () => {
    if (skipUnlessReady(pre)) return;
    const v = await view(one);
    expect(v.isLivepatch).toBe(true);
    expect(v.summary).toBe('livepatch module kelp_dump_one');
    expect(v.module.livepatch).toBe('Y');
    expect(v.module.vermagic!.startsWith(`${t.release} `)).toBe(true);
    expect(patched(v)).toEqual([['vmlinux', [[PATCHED_FUNCTION, 0]]]]);
    expect(v.patches[0].objects[0].funcs[0].newFuncAliases).toContain(PATCHED_FUNCTION);
    expect(v.klpRela.map((g) => [g.object, g.sections.map((s) => s.name)])).toEqual([['vmlinux', [VMLINUX_RELA]]]);
    expect(v.klpRela[0].sections[0]).toMatchObject({ appliesTo: '.text', section: '.text', flagsOk: true, missingFlags: [] });
    expect(v.klpSymbols.map((s) => [s.object, s.name, s.position, s.livepatch])).toEqual([['vmlinux', 'saved_command_line', 0, true]]);
    expect(v.undefinedSymbols.map((s) => s.name)).toEqual(expect.arrayContaining(['klp_enable_patch', 'seq_printf']));
    expect(v.notes).toEqual([]);
    expectMatchesReadelf(one, v);
  });

  test('vmlinux and a module: objects and .klp.rela grouped by object, helper at position 2', async () => {
    if (skipUnlessReady(pre)) return;
    const v = await view(two);
    expect(patched(v)).toEqual([['vmlinux', [[PATCHED_FUNCTION, 0]]], ['kelp_target_mod', [['kelp_target_show', 0]]]]);
    expect(v.klpRela.map((g) => g.object).sort()).toEqual(['kelp_target_mod', 'vmlinux']);
    const syms = v.klpSymbols.map((s) => `${s.object}:${s.name}:${s.position}`).sort();
    expect(syms).toEqual(['kelp_target_mod:counter:0', 'kelp_target_mod:helper:2', 'vmlinux:saved_command_line:0']);
    expect(v.notes).toEqual([]);
    expectMatchesReadelf(two, v);
  });

  test('the command prints the same text, file by file, and exits 0', () => {
    if (skipUnlessReady(pre)) return;
    const r = kelp('--livepatch', one, two);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n').filter((l) => /^\S.*: (livepatch|not a livepatch)/.test(l)))
      .toEqual([`${one}: livepatch module kelp_dump_one`, `${two}: livepatch module kelp_dump_two`]);
    expect(r.stdout).toMatch(new RegExp(`^ +${PATCHED_FUNCTION} +0 +__kelp_func_\\S+ = ${PATCHED_FUNCTION} \\(`, 'm'));
    expect(r.stdout).toMatch(/^ +kelp_target_show +0 +\S+ = kelp_target_show \(/m);
    expect(r.stdout).toMatch(/^ +\d+ +kelp_target_mod +helper +2 +SHN_LIVEPATCH +[1-9]\d*$/m);
  });

  test('--json: one array, one entry per file, the same model', async () => {
    if (skipUnlessReady(pre)) return;
    const r = kelp('--livepatch', '--json', one, two);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const doc = JSON.parse(r.stdout) as LivepatchView[];
    expect(doc.map((e) => e.file)).toEqual([one, two]);
    expect(doc).toEqual([JSON.parse(JSON.stringify(await view(one))), JSON.parse(JSON.stringify(await view(two)))]);
    for (const e of doc) {
      expect(Object.keys(e)).toEqual(['file', 'isLivepatch', 'summary', 'module', 'patches', 'klpRela', 'klpSymbols', 'undefinedSymbols', 'notes']);
      expect(Object.keys(e.module).sort()).toEqual(['license', 'livepatch', 'modinfoName', 'name', 'vermagic', 'versionEntries', 'versions']);
      for (const g of e.klpRela) {
        for (const s of g.sections) {
          expect(typeof s.sh_flags).toBe('number');
          expect(s.sh_flags & SHF_RELA_LIVEPATCH).toBe(SHF_RELA_LIVEPATCH);
          for (const x of s.relocations) {
            expect(Object.keys(x)).toEqual(['r_offset', 'r_type', 'type', 'supported', 'r_sym', 'symbol', 'livepatchSymbol', 'r_addend']);
            expect([typeof x.r_offset, typeof x.r_addend, x.supported, x.livepatchSymbol]).toEqual(['number', 'number', true, true]);
          }
        }
      }
    }
    // Deterministic: a second run prints the same bytes.
    expect(kelp('--livepatch', '--json', one, two).stdout).toBe(r.stdout);
  });

  test('a module broken on purpose: missing SHF_RELA_LIVEPATCH and a .klp.sym with SHN_UNDEF are shown as such', async () => {
    if (skipUnlessReady(pre)) return;
    const bad = await writeBroken(one, join(tmp.dir, 'broken.ko'), (o) => {
      section(o, VMLINUX_RELA).flags &= ~SHF_RELA_LIVEPATCH;
      const s = klpSym(o, VMLINUX_SYM);
      s.section = null;
      s.shndx = SHN_UNDEF;
    });
    const v = await view(bad);
    expect(v.klpRela[0].sections[0]).toMatchObject({ name: VMLINUX_RELA, flagsOk: false, missingFlags: ['SHF_RELA_LIVEPATCH'] });
    expect(v.klpRela[0].sections[0].relocations.every((r) => !r.livepatchSymbol)).toBe(true);
    expect(v.klpSymbols.map((s) => [s.symbol, s.livepatch, s.st_shndx])).toEqual([[VMLINUX_SYM, false, SHN_UNDEF]]);
    // Not an ordinary undefined symbol: the .klp.sym name keeps it out of that list.
    expect(v.undefinedSymbols.map((s) => s.name)).not.toContain(VMLINUX_SYM);
    const text = formatLivepatch(v);
    expect(text).toContain('(lacks SHF_RELA_LIVEPATCH)');
    expect(text).toMatch(/^ +0{15}8 +R_X86_64_PC32 +\.klp\.sym\.vmlinux\.saved_command_line,0 \(not SHN_LIVEPATCH\) +-0x4$/m);
    expect(text).toMatch(/^\s+\d+\s+vmlinux\s+saved_command_line\s+0\s+0x0 \(not SHN_LIVEPATCH\)\s+\d+$/m);
    expectMatchesReadelf(bad, v);
  });
});

describe('kelp dump --livepatch: other files', () => {
  test('a module of the target\'s tree is described and said not to be a livepatch (exit 0)', async () => {
    if (skipUnlessReady(pre)) return;
    const v = await view(plain);
    expect(v.isLivepatch).toBe(false);
    expect(v.summary).toMatch(/^not a livepatch module \(/);
    expect([v.patches, v.klpRela, v.klpSymbols]).toEqual([[], [], []]);
    expect(v.module.vermagic!.startsWith(`${t.release} `)).toBe(true);
    expect(v.undefinedSymbols.length).toBeGreaterThan(0);
    expectMatchesReadelf(plain, v);
    const r = kelp('--livepatch', plain);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout.split('\n')[0]).toBe(`${plain}: ${v.summary}`);
    expect(r.stdout).toContain('Livepatch relocation sections (.klp.rela): none\n');
  });

  test('bad input: one line `kelp: <file>: <problem>` each, exit 1, no stack trace; --json keeps an entry per file', () => {
    if (skipUnlessReady(pre)) return;
    const text = join(tmp.dir, 'notes.txt');
    writeFileSync(text, 'not an ELF file\n');
    const truncated = join(tmp.dir, 'truncated.ko');
    run('sh', ['-c', `head -c 4096 '${one}' > '${truncated}'`]);
    const missing = join(tmp.dir, 'missing.ko');
    for (const f of [text, truncated, missing, tmp.dir]) {
      const r = kelp('--livepatch', f);
      expect([f, r.status, r.stdout]).toEqual([f, 1, '']);
      expect(r.stderr).toMatch(new RegExp(`^kelp: ${escape(f)}: [^\\n]+\\n$`));
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
    const r = kelp('--livepatch', '--json', text, one, missing);
    expect(r.status).toBe(1);
    expect(r.stderr.split('\n')).toEqual([expect.stringMatching(`^kelp: ${escape(text)}: `), expect.stringMatching(`^kelp: ${escape(missing)}: no such file`), '']);
    const doc = JSON.parse(r.stdout) as Array<{ file: string; error?: string; isLivepatch?: boolean }>;
    expect(doc.map((e) => [e.file, typeof e.error, e.isLivepatch])).toEqual([[text, 'string', undefined], [one, 'undefined', true], [missing, 'string', undefined]]);
    expect(doc[2].error).toBe('no such file or directory');
  });

  test('readelf options are refused with --livepatch; --json needs --livepatch; readelf output is unchanged', () => {
    if (skipUnlessReady(pre)) return;
    for (const args of [['-s'], ['-r', '-W'], ['-x', '.modinfo'], ['-e']]) {
      const r = kelp('--livepatch', ...args, one);
      expect([r.status, r.stdout]).toEqual([1, '']);
      expect(r.stderr).toMatch(/^kelp: dump: --livepatch cannot be combined with readelf options \([^)]+\)\n$/);
    }
    const json = kelp('--json', '-s', one);
    expect([json.status, json.stdout, json.stderr]).toEqual([1, '', 'kelp: dump: --json needs --livepatch (readelf output has no JSON form)\n']);
    for (const args of [['-r', '-W'], ['-s', '-W']]) expect(kelp(...args, one).stdout).toBe(run('readelf', [...args, one]));
  });
});
