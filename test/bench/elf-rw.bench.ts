/**
 * Reading a 20k-function object (80k sections) and writing it back: goal under one second.
 * The object is generated as assembly (a section per function, its relocations, a static
 * counter and a string each) and assembled by `as`.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElfObject } from '../../elf/model.js';
import { writeObject } from '../../elf/writer.js';
import { goal, timeInProcess } from './measure.js';

const N = 20000;
const dir = mkdtempSync(join(tmpdir(), 'kelp-bench-elf-'));
try {
  const lines: string[] = [];
  for (let i = 0; i < N; i++) {
    const next = (i + 1) % N;
    lines.push(
      `\t.section .text.f${i},"ax",@progbits`, `\t.globl f${i}`, `\t.type f${i},@function`, `f${i}:`,
      '\tcall __fentry__', `\tincl counter${i}(%rip)`, `\tleaq .LC${i}(%rip), %rdi`, `\tcall f${next}`, '\tret', `\t.size f${i},.-f${i}`,
      `\t.section .bss.counter${i},"aw",@nobits`, '\t.align 4', `\t.type counter${i},@object`, `counter${i}:`, '\t.zero 4', `\t.size counter${i},4`,
      `\t.section .rodata.str${i},"a",@progbits`, `.LC${i}:`, `\t.string "function ${i}"`,
    );
  }
  const s = join(dir, 'big.s');
  const o = join(dir, 'big.o');
  writeFileSync(s, lines.join('\n') + '\n');
  execFileSync('as', [s, '-o', o]);
  const buf = readFileSync(o);
  const obj0 = ElfObject.read(buf, o);
  process.stdout.write(`object: ${N} functions, ${obj0.sections.length + 1} sections, ${obj0.symbols.length + 1} symbols, ${(statSync(o).size / 1048576).toFixed(1)} MiB\n`);
  let out: Buffer = Buffer.alloc(0);
  const read = timeInProcess(() => { ElfObject.read(buf, o); }, 5);
  const rw = timeInProcess(() => { out = writeObject(ElfObject.read(buf, o)); }, 5);
  const identical = out.length === buf.length;
  process.stdout.write(`read: ${(read * 1000).toFixed(0)} ms; read + write: ${(rw * 1000).toFixed(0)} ms (median of 5); output ${out.length} bytes, input ${buf.length}\n`);
  const ok = goal('read and write back a 20k-function object under 1 s', rw < 1, `${rw.toFixed(3)} s`) && identical;
  process.exitCode = ok ? 0 : 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
