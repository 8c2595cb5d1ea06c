/**
 * The tables the kernel reads from a module while loading it, before the
 * livepatch core has done anything: `__jump_table` (jump_label_add_module,
 * from the MODULE_STATE_COMING notifier) and `.static_call_sites`
 * (static_call_add_module, the same). The module loader finds each with
 * section_objs(), which takes the first SHF_ALLOC section of that name and
 * reads sh_size / sizeof(entry) entries, so on x86-64 (Linux 6.1 and 6.12; the
 * layouts are rows of the one table, rela/special-sections.ts):
 *
 *  - struct jump_entry { s32 code; s32 target; long key; }, 16 bytes
 *    (CONFIG_HAVE_ARCH_JUMP_LABEL_RELATIVE): each field an offset from
 *    itself, written by R_X86_64_PC32 at +0 and +4 and R_X86_64_PC64 at +8;
 *  - struct static_call_site { s32 addr; s32 key; }, 8 bytes: R_X86_64_PC32
 *    at +0 and +4 (objtool's; the key may be the exported trampoline).
 *
 * A field no relocation writes reads as 0, an offset to the field itself: a
 * key of 0 makes the kernel take the entry for its own static key, which
 * loads quietly with a dead jump label (or a vanished static call) and a
 * pointer written over the next bytes. A field written by the wrong type or
 * at the wrong place is garbage: a table cut into 8-byte entries (code and
 * target only) gives keys made of the next entry's code and target, and the
 * module's load oopses in jump_label_module_notify (both seen in the VM on
 * Debian's 6.1). The relocations that count are the ones applied before the table is read: the
 * ordinary relocation sections and, since Linux 5.8, `.klp.rela.vmlinux.*`
 * (the loader's apply_relocations hands them to klp_apply_section_relocs).
 * A `.klp.rela.<module>.*` section is applied only when the livepatch core
 * patches that module (kernel/livepatch/core.c, klp_apply_object_relocs),
 * after the tables were read: a key reached only that way is refused
 * (`*.module-key`; kelp diff never writes one: it leaves such sites out of
 * the tables, calling through the module's trampoline or testing the key at
 * run time), another field reached only that way is as good as missing.
 *
 * PLT32 counts as PC32: x86-64's apply_relocate_add computes both alike.
 */
import { SHF_ALLOC, SHF_RELA_LIVEPATCH, SHT_NOBITS } from '../../elf/constants.js';
import { SPECIAL_SECTIONS, keyOffset, type EntryField } from '../../rela/special-sections.js';
import { describeRelocation, relocationName } from '../../rela/x86_64.js';
import type { CheckContext } from './context.js';
import { parseKlpRelaName } from '../kmod/names.js';
import { at } from './problem.js';

/** What the kernel reads from a field that no relocation wrote (0: an offset to the field itself), and from one written wrong. */
interface Harm {
  zero: string;
  garbage: string;
}

interface Field extends EntryField, Harm {}

interface Table {
  section: string;
  /** The rule family: `<family>.layout`, `<family>.module-key`. */
  family: string;
  struct: string;
  size: number;
  fields: readonly Field[];
  /** The offset of the key field. */
  key: number;
  /** The kernel function that reads the table at load. */
  reader: string;
  what: string;
  /** What a livepatch does instead when the key lives in a module. */
  instead: string;
}

/** kelp check's words for the tables the loader reads; their layouts come from the one table (rela/special-sections.ts). */
const WORDS: Record<string, { family: string; what: string; instead: string; harm: Record<string, Harm> }> = {
  __jump_table: {
    family: 'jump-table', what: 'jump label', instead: 'test it with static_key_enabled()',
    harm: {
      code: {
        zero: 'the entry itself as the code: when the key changes the kernel finds no jump there ("jump_label: Fatal kernel bug, unexpected op", BUG)',
        garbage: 'a garbage code address: when the key changes the kernel patches the wrong bytes or BUGs ("unexpected op")',
      },
      target: {
        zero: 'the entry itself as the jump target: the jump patched in when the key changes lands in data',
        garbage: 'a garbage jump target: the jump patched in when the key changes lands anywhere',
      },
      key: {
        zero: 'the entry itself as its struct static_key: it links the entries there, writing over the next 8 bytes, and the jump label never follows its real key',
        garbage: 'a garbage struct static_key: the kernel oopses in jump_label_module_notify while loading the module',
      },
    },
  },
  '.static_call_sites': {
    family: 'static-call', what: 'static call', instead: 'call through static_call_query() or the function itself',
    harm: {
      addr: {
        zero: 'the site itself as the call: the kernel finds no call there ("unexpected static_call insn opcode", BUG)',
        garbage: 'a garbage call address: the kernel patches the wrong bytes or BUGs ("unexpected static_call insn opcode")',
      },
      key: {
        zero: 'the site itself as its struct static_call_key: it patches the call to whatever the bytes there hold (none when zero: the call silently disappears) and writes its list pointer over them',
        garbage: 'a garbage struct static_call_key: the kernel calls whatever it holds and writes through it',
      },
    },
  },
};

export const SPECIAL_TABLES: readonly Table[] = SPECIAL_SECTIONS.filter((row) => row.fields !== undefined).map((row) => {
  const w = WORDS[row.name];
  if (w === undefined) throw new Error(`kelp check has no words for ${row.name}`);
  return {
    section: row.name, family: w.family, struct: row.probe!.struct, size: row.size, key: keyOffset(row, row.size)!,
    reader: row.loadReader!, what: w.what, instead: w.instead,
    fields: row.fields!.map((f) => ({ ...f, ...w.harm[f.name] })),
  };
});

/** Bad entries reported one by one per table; the rest are counted in one more problem. */
export const MAX_ENTRIES_REPORTED = 4;

/** One relocation that writes into the table, and when the kernel applies it. */
interface Write {
  offset: bigint;
  type: number;
  section: string;
  /** The module whose patching applies it (a `.klp.rela.<module>` section); null: applied at load. */
  lateObject: string | null;
}

export function checkSpecialSections(ctx: CheckContext): void {
  for (const t of SPECIAL_TABLES) checkTable(ctx, t);
}

function checkTable(ctx: CheckContext, t: Table): void {
  const { m, p } = ctx;
  // section_objs → find_sec: the first SHF_ALLOC section of that name.
  const sec = m.sections.find((s) => s.index > 0 && (s.sh_flags & SHF_ALLOC) !== 0 && m.name(s) === t.section);
  if (!sec || sec.sh_size === 0) return;
  // Contents outside the file: the module is unreadable, not mis-laid. (SHT_NOBITS: zeros the relocations write into.)
  if (sec.sh_type !== SHT_NOBITS && !m.data(sec)) return;
  const size = BigInt(sec.sh_size);
  const n = Number(size / BigInt(t.size));
  const rest = Number(size % BigInt(t.size));
  if (rest !== 0) {
    p.add(`${t.family}.layout`, `section ${t.section}`, `size 0x${size.toString(16)} is not a whole number of ${t.size}-byte ${t.struct} entries: the table was cut for another entry size, and ${t.reader} reads ${n} entries of ${t.size} bytes from it, ignoring the last ${rest} bytes`);
  }

  // Every relocation that writes into the table's entries, by entry.
  const byEntry = new Map<number, Write[]>();
  const end = BigInt(n) * BigInt(t.size);
  for (const { rel, target } of m.relocationSections()) {
    if (target?.index !== sec.index) continue;
    const rels = m.relocations(rel);
    if (!rels) continue;
    const relName = m.name(rel);
    let lateObject: string | null = null;
    // The loader hands SHF_RELA_LIVEPATCH sections to the livepatch core, which applies only vmlinux's at load.
    // An unparsable name is klp-rela.name's problem (the load fails), not a missing field.
    if ((rel.sh_flags & SHF_RELA_LIVEPATCH) !== 0) {
      const obj = parseKlpRelaName(relName)?.object;
      if (obj !== undefined && obj !== 'vmlinux') lateObject = obj;
    }
    for (const r of rels) {
      // R_X86_64_NONE writes nothing; past the entries: relocation.bounds, or bytes the kernel ignores.
      if (describeRelocation(r.type)?.size === 0 || r.offset < 0n || r.offset >= end) continue;
      const e = Number(r.offset / BigInt(t.size));
      let l = byEntry.get(e);
      if (!l) byEntry.set(e, (l = []));
      l.push({ offset: r.offset, type: r.type, section: relName, lateObject });
    }
  }

  // The first few bad entries one by one, then a count; entries no relocation reaches are bad as a run.
  const written = [...byEntry.keys()].sort((a, b) => a - b);
  let reported = 0;
  let more = 0;
  let firstMore = -1;
  const bad = (e: number, text: string): void => {
    if (reported < MAX_ENTRIES_REPORTED) {
      p.add(`${t.family}.layout`, at(t.section, BigInt(e) * BigInt(t.size)), text);
      reported++;
    } else {
      if (firstMore < 0) firstMore = e;
      more++;
    }
  };
  for (let e = 0, k = 0; e < n;) {
    const next = k < written.length ? written[k] : n;
    if (e < next && reported === MAX_ENTRIES_REPORTED) {
      if (firstMore < 0) firstMore = e;
      more += next - e;
      e = next;
      continue;
    }
    const ws = e === next ? byEntry.get(written[k++])! : [];
    const text = entryProblem(ctx, t, e, n, ws);
    if (text) bad(e, text);
    e++;
  }
  if (more > 0) {
    p.add(`${t.family}.layout`, `section ${t.section}`, `${more} more of its ${n} entries are bad too, the first at ${at(t.section, BigInt(firstMore) * BigInt(t.size))} (${reported} reported above)`);
  }
}

/**
 * What is wrong with entry `e` given the relocations `ws` that write into it,
 * or undefined; a key only a module's `.klp.rela` section writes is reported
 * here, under `*.module-key`.
 */
function entryProblem(ctx: CheckContext, t: Table, e: number, n: number, ws: readonly Write[]): string | undefined {
  const base = BigInt(e) * BigInt(t.size);
  const issues: string[] = [];
  const harms: string[] = [];
  for (const f of t.fields) {
    const mine = ws.filter((w) => w.offset === base + BigInt(f.offset));
    const early = mine.filter((w) => w.lateObject === null);
    const late = mine.filter((w) => w.lateObject !== null);
    const want = relocationName(f.types[0]);
    if (early.length === 0 && late.length > 0) {
      const obj = late[0].lateObject!;
      if (f.offset === t.key) {
        ctx.p.add(`${t.family}.module-key`, at(t.section, base + BigInt(f.offset)),
          `the ${t.what} key comes only from ${late[0].section}: the livepatch core applies it when it patches ${obj}, after ${t.reader} has read the entry at this module's load, so it reads ${f.zero}; a livepatch cannot use a ${t.what} on a module's key (${t.instead})`);
      } else {
        issues.push(`${f.name} (+${f.offset}) comes only from ${late[0].section}, applied when ${obj} is patched, after ${t.reader}`);
        harms.push(f.zero);
      }
      continue;
    }
    if (early.length === 0) {
      issues.push(`no ${want} for ${f.name} at +${f.offset}`);
      harms.push(f.zero);
      continue;
    }
    const wrong = early.find((w) => !f.types.includes(w.type));
    if (wrong) {
      issues.push(`${relocationName(wrong.type)} in ${wrong.section} for ${f.name} at +${f.offset}, not ${want}`);
      harms.push(f.garbage);
    } else if (mine.length > 1) {
      issues.push(`${mine.length} relocations for ${f.name} at +${f.offset} (${mine.map((w) => w.section).join(', ')}): the second finds the field nonzero and the kernel refuses it`);
    }
  }
  // Relocations that start inside a field overwrite part of it.
  for (const w of ws) {
    const off = Number(w.offset - base);
    if (t.fields.some((f) => f.offset === off)) continue;
    const f = [...t.fields].reverse().find((x) => x.offset <= off)!;
    issues.push(`${relocationName(w.type)} in ${w.section} at +${off}, inside ${f.name}`);
    harms.push(f.garbage);
  }
  if (issues.length === 0) return undefined;
  const why = [...new Set(harms)];
  return `${t.struct} [${e}] of ${n}: ${issues.join('; ')}${why.length > 0 ? `: ${t.reader} reads ${why.join('; ')}` : ''}`;
}
