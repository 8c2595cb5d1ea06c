/**
 * readelf -A and -u for x86-64. -A prints the SHT_GNU_ATTRIBUTES sections,
 * which x86-64 toolchains do not emit (x86 properties travel in
 * .note.gnu.property, shown by -n); -u has no processor-specific unwind
 * format to decode on x86 and says so.
 */
import type { DumpContext } from './context.js';
import { DumpUnsupportedError, machineName } from './names.js';

const SHT_GNU_ATTRIBUTES = 0x6ffffff5;
const EM_386 = 3;
/** Machines whose unwind sections readelf decodes (ARM, IA-64, PA-RISC, TI C6000). */
const UNWIND_DECODERS = new Set([40, 50, 15, 140]);
/** Machines with their own -A display; every other machine shows SHT_GNU_ATTRIBUTES sections. */
const OWN_ATTRIBUTES = new Set([45, 93, 195, 40, 8, 10, 105, 243, 167, 4, 20, 21, 22, 0xa390, 2, 18, 43, 140, 252]);

export function printArchSpecific(ctx: DumpContext): void {
  if (OWN_ATTRIBUTES.has(ctx.machine)) throw new DumpUnsupportedError(ctx.file, `-A for machine ${ctx.machine}`);
  for (const s of ctx.elf.sections) {
    if (s.sh_type === SHT_GNU_ATTRIBUTES) throw new DumpUnsupportedError(ctx.file, 'a SHT_GNU_ATTRIBUTES section');
  }
}

export function printUnwind(ctx: DumpContext): void {
  if (ctx.isX86 && ctx.machine !== 62) {
    // L1OM and K1OM have no unwind handler.
    ctx.out.w(`\nThe decoding of unwind sections for machine type ${machineName(ctx.machine)} is not currently supported.\n`);
    return;
  }
  if (ctx.machine === 62 || ctx.machine === EM_386) {
    ctx.out.w('No processor specific unwind information to decode\n');
    return;
  }
  if (UNWIND_DECODERS.has(ctx.machine)) throw new DumpUnsupportedError(ctx.file, `-u for machine ${ctx.machine}`);
  ctx.out.w(`\nThe decoding of unwind sections for machine type ${machineName(ctx.machine)} is not currently supported.\n`);
}
