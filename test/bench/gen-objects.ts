/**
 * Benchmark inputs: a pair of x86-64 objects with N functions laid out as
 * gcc -ffunction-sections -fdata-sections -mfentry -mrecord-mcount emits
 * them (each function in its own section with an __fentry__ call, a static
 * counter, a string, calls to its neighbours), of which a handful differ.
 * Written as assembly and assembled with `as`, which is fast at N=40000.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function assembly(n: number, changed: ReadonlySet<number>): string {
  const out: string[] = ['\t.file\t"bench.c"', '\t.text'];
  for (let i = 0; i < n; i++) {
    const k = changed.has(i) ? 7 : 3;
    const next = (i + 1) % n;
    const prev = (i + n - 1) % n;
    out.push(
      `\t.section\t.rodata.str1.1,"aMS",@progbits,1`,
      `.LC${i}:`, `\t.string\t"function ${i} says %d\\n"`,
      `\t.section\t.text.fn_${i},"ax",@progbits`,
      `\t.p2align 4`, `\t.globl\tfn_${i}`, `\t.type\tfn_${i}, @function`,
      `fn_${i}:`,
      `1:\tcall\t__fentry__`,
      `\t.pushsection __mcount_loc, "a",@progbits`, `\t.quad 1b`, `\t.popsection`,
      `\tmovl\tcounter.${i}(%rip), %eax`,
      `\taddl\t$${k}, %eax`,
      `\tmovl\t%eax, counter.${i}(%rip)`,
      `\tmovl\t%edi, %esi`,
      `\tmovq\t$.LC${i}, %rdi`,
      `\tcall\tprintk`,
      `\tmovl\t%eax, %edi`,
      `\tcall\tfn_${next}`,
      `\tmovl\t%eax, %edi`,
      `\tjmp\tfn_${prev}`,
      `\t.size\tfn_${i}, .-fn_${i}`,
      `\t.section\t.bss.counter.${i},"aw",@nobits`,
      `\t.align 4`, `\t.type\tcounter.${i}, @object`, `\t.size\tcounter.${i}, 4`,
      `counter.${i}:`, `\t.zero\t4`,
    );
  }
  out.push('\t.section\t.note.GNU-stack,"",@progbits', '');
  return out.join('\n');
}

/**
 * Writes orig.o and patched.o for N functions into `dir`; returns their paths.
 * With `debug`, the assembler adds DWARF 5 (.debug_info, .debug_line,
 * .debug_aranges, .debug_rnglists) with relocations to every function, as a
 * kernel object built with CONFIG_DEBUG_INFO carries.
 */
export function generatePair(dir: string, n: number, changes = 5, debug = false): { orig: string; patched: string } {
  const changed = new Set<number>();
  for (let c = 0; c < changes; c++) changed.add(Math.floor(((c + 0.5) * n) / changes));
  const tag = debug ? `${n}-g` : `${n}`;
  const files = { orig: join(dir, `orig-${tag}.o`), patched: join(dir, `patched-${tag}.o`) };
  for (const [which, set] of [['orig', new Set<number>()], ['patched', changed]] as const) {
    const s = join(dir, `${which}-${tag}.s`);
    writeFileSync(s, assembly(n, set));
    execFileSync('as', ['--64', ...(debug ? ['-g', '--gdwarf-5'] : []), '-o', files[which], s]);
  }
  return files;
}
