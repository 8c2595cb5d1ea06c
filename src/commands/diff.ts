/**
 * `kelp diff ORIG.o PATCHED.o -o OUT.o`: the object differencing engine
 * (src/diff/). Exit 0 changes written, 3 no change, 2 refused, 1 bad input.
 */
import { Command } from 'commander';
import type { Subcommand } from './registry.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const diff: Subcommand = {
  name: 'diff',
  register(program: Command): void {
    program.command('diff')
      .summary('keep the changed and new functions')
      .description('compare the original and patched builds of an object and write an object with what changed (exit 0 written, 3 no change, 2 refused, 1 bad input)')
      .argument('<orig>', 'the object before the patch')
      .argument('<patched>', 'the object after the patch')
      .requiredOption('-o, --output <file>', 'the output object')
      .option('--target <name>', 'the object being patched: vmlinux or a module name', 'vmlinux')
      .option('--symbols <file>', "the target's symbol table: ELF, readelf -s --wide text, System.map or /proc/kallsyms")
      .option('--symvers <file>', 'Module.symvers: the exported symbols')
      .option('--kernel <file>', "the target's vmlinuz or vmlinux: under IBT, which functions keep their ENDBR")
      .option('--kernel-map <file>', "the System.map naming --kernel's addresses (default: --symbols, for a vmlinux target)")
      .option('--entry-size <section=bytes>', 'a special section\'s entry size (repeatable)', collect, [])
      .option('--patch <file>', 'the patch that made PATCHED (repeatable, in order): a __LINE__ constant may change only as the patch moves its line', collect, [])
      .option('--provided <symbol>', 'a global symbol another object of the same livepatch newly defines: left undefined for the module\'s link, not looked up in the target (repeatable)', collect, [])
      .option('--json <file>', 'also write the report as JSON')
      .option('-v, --verbose', 'report line-number-only and ignored functions and notes')
      .action(async (orig: string, patched: string, opts: { output: string; target: string; symbols?: string; symvers?: string; kernel?: string; kernelMap?: string; entrySize: string[]; patch: string[]; provided: string[]; json?: string; verbose?: boolean }) => {
        const { runDiff } = await import('../diff/run.js');
        const r = runDiff({
          orig, patched, output: opts.output, target: opts.target, symbols: opts.symbols, symvers: opts.symvers, kernel: opts.kernel, kernelMap: opts.kernelMap,
          entrySizes: opts.entrySize, patches: opts.patch, provided: opts.provided, json: opts.json, verbose: opts.verbose,
        });
        process.exitCode = r.exitCode;
      });
  },
};

export default diff;
