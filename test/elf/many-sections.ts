/** Assembles an object with `n` functions, each in its own section with its own relocation section. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../support/tools.js';

export function generateManySections(dir: string, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(`\t.section .text.f${i},"ax",@progbits`, `\t.globl f${i}`, `\t.type f${i},@function`, `f${i}:`, `\tcall f${(i + 1) % n}`, '\tret', `\t.size f${i},.-f${i}`);
  }
  const s = join(dir, `many-${n}.s`);
  const o = join(dir, `many-${n}.o`);
  writeFileSync(s, lines.join('\n') + '\n');
  run('as', [s, '-o', o]);
  return o;
}
