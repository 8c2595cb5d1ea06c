/** The text form of `kelp dump --livepatch` (livepatch.ts builds the view it prints). */
import type { JsonInt, LivepatchView } from './livepatch.js';

/** Control characters as `^X`, so a name cannot break the layout. */
const shown = (s: string): string => s.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\x7f' ? '^?' : `^${String.fromCharCode(c.charCodeAt(0) + 0x40)}`));
const orNone = (s: string | null): string => (s === null ? '(none)' : shown(s));
const hex16 = (v: JsonInt): string => BigInt.asUintN(64, BigInt(v)).toString(16).padStart(16, '0');
const signedHex = (v: JsonInt): string => {
  const b = BigInt(v);
  return b < 0n ? `-0x${(-b).toString(16)}` : `0x${b.toString(16)}`;
};
const flagsHex = (f: number): string => `0x${f.toString(16)}`;

/** Rows as columns padded to their widest cell (the last column unpadded). */
function table(rows: string[][], indent: string, right: ReadonlySet<number> = new Set()): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return rows.map((r) => indent + r.map((c, i) => {
    if (right.has(i)) return c.padStart(widths[i]);
    return i === r.length - 1 ? c : c.padEnd(widths[i]);
  }).join('  ').trimEnd());
}

/** The text view of one file, ending with a newline. */
export function formatLivepatch(v: LivepatchView): string {
  const L: string[] = [];
  const mod = v.module;
  L.push(`${shown(v.file)}: ${shown(v.summary)}`);
  L.push('');
  L.push('Module:');
  L.push(...table([
    ['name', `${orNone(mod.name)} (.gnu.linkonce.this_module), ${orNone(mod.modinfoName)} (.modinfo name=)`],
    ['livepatch', orNone(mod.livepatch)],
    ['vermagic', orNone(mod.vermagic === null ? null : mod.vermagic.trimEnd())],
    ['license', orNone(mod.license)],
    ['__versions', mod.versions ? `present, ${mod.versionEntries} entries` : 'absent'],
  ], '  '));

  L.push('');
  if (v.patches.length === 0) {
    L.push('Patched objects: none (no klp_patch table)');
  }
  for (const p of v.patches) {
    L.push(`Patched objects (klp_patch at ${shown(p.place)}):`);
    for (const o of p.objects) {
      L.push(`  ${shown(o.name)} (klp_object at ${shown(o.place)})`);
      L.push(...table([['old_name', 'old_sympos', 'new_func'], ...o.funcs.map((f) => [
        shown(f.oldName), String(f.oldSympos),
        f.newFunc === null ? 'NULL' : `${shown(f.newFunc)}${f.newFuncAliases.length > 0 ? ` = ${f.newFuncAliases.map(shown).join(', ')}` : ''}${f.newFuncPlace ? ` (${shown(f.newFuncPlace)})` : ''}`,
      ])], '    ', new Set([1])));
    }
  }

  L.push('');
  if (v.klpRela.length === 0) L.push('Livepatch relocation sections (.klp.rela): none');
  else L.push('Livepatch relocation sections (.klp.rela), by object:');
  for (const g of v.klpRela) {
    L.push(`  ${g.object === null ? '(name not parsable as .klp.rela.<object>.<section>)' : shown(g.object)}`);
    for (const s of g.sections) {
      const flags = s.flagsOk
        ? `sh_flags ${flagsHex(s.sh_flags)} (SHF_ALLOC|SHF_RELA_LIVEPATCH: ok)`
        : `sh_flags ${flagsHex(s.sh_flags)} (lacks ${s.missingFlags.join(' and ')})`;
      const count = s.relocationCount === null ? 'unreadable' : `${s.relocationCount} relocation${s.relocationCount === 1 ? '' : 's'}`;
      L.push(`    [${s.index}] ${shown(s.name)}`);
      L.push(`      applies to [${s.sh_info}] ${orNone(s.appliesTo)}; ${flags}; ${count}`);
      if (s.relocations.length > 0) {
        L.push(...table([['Offset', 'Type', 'Symbol', 'Addend'], ...s.relocations.map((r) => [
          hex16(r.r_offset), `${r.type}${r.supported ? '' : ' (unsupported)'}`,
          `${shown(r.symbol)}${r.livepatchSymbol || r.r_sym === 0 ? '' : ' (not SHN_LIVEPATCH)'}`, signedHex(r.r_addend),
        ])], '        '));
      }
    }
  }

  L.push('');
  if (v.klpSymbols.length === 0) L.push('Livepatch symbols (.klp.sym): none');
  else {
    L.push('Livepatch symbols (.klp.sym):');
    L.push(...table([['Num', 'Object', 'Name', 'Pos', 'st_shndx', 'Uses'], ...v.klpSymbols.map((s) => [
      String(s.index), orNone(s.object), s.name === null ? `(unparsable: ${shown(s.symbol)})` : shown(s.name),
      s.position === null ? '-' : String(s.position),
      s.livepatch ? 'SHN_LIVEPATCH' : `0x${s.st_shndx.toString(16)} (not SHN_LIVEPATCH)`, String(s.relocations),
    ])], '  ', new Set([0, 3, 5])));
  }

  L.push('');
  if (v.undefinedSymbols.length === 0) L.push('Undefined symbols (resolved by the module loader from exports): none');
  else {
    L.push('Undefined symbols (resolved by the module loader from exports):');
    for (const s of v.undefinedSymbols) L.push(`  ${shown(s.name)}${s.bind === 'GLOBAL' ? '' : ` (${s.bind})`}`);
  }

  if (v.notes.length > 0) {
    L.push('');
    L.push('Notes:');
    for (const n of v.notes) L.push(`  ${shown(n)}`);
  }
  return `${L.join('\n')}\n`;
}

// ---- command line -----------------------------------------------------------
