/** `kelp link`: diff outputs → a livepatch module built with the target's kbuild. The work is in src/link/. */
import type { Command } from 'commander';
import type { Subcommand } from './registry.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const link: Subcommand = {
  name: 'link',
  register(program: Command): void {
    program.command('link')
      .summary('make a livepatch module from diff outputs')
      .description('link kelp diff outputs into a livepatch module (.klp.rela sections, SHN_LIVEPATCH symbols) with the target kernel\'s kbuild')
      .argument('<diff.o...>', 'kelp diff outputs')
      .requiredOption('--kdir <dir>', 'the target kernel\'s build directory (headers with kbuild)')
      .requiredOption('--name <name>', 'module name (the livepatch appears as /sys/kernel/livepatch/<name>, with - as _)')
      .requiredOption('-o, --output <file.ko>', 'the module to write')
      .option('--symbols <file>', 'System.map or kallsyms of the target: refuse klp symbols it cannot resolve')
      .option('--symvers <file>', 'extra Module.symvers for exported symbols of other modules (repeatable)', collect, [])
      .option('--no-replace', 'do not set the atomic-replace flag (default: the patch replaces all earlier ones)')
      .option('--keep-build', 'keep the kbuild directory and print its path')
      .option('-v, --verbose', 'show kbuild\'s output')
      .option('--skip-compiler-check', 'link even when the kernel\'s exact compiler (CONFIG_CC_VERSION_TEXT of KDIR/.config) is neither on the host nor in a build root')
      .action(async (inputs: string[], opts: {
        kdir: string; name: string; output: string; symbols?: string; symvers: string[];
        replace: boolean; keepBuild?: boolean; verbose?: boolean; skipCompilerCheck?: boolean;
      }) => {
        const { linkModule } = await import('../link/index.js');
        const { kdirToolchain } = await import('../link/toolchain.js');
        const { withToolchain } = await import('../kernel/toolchain.js');
        // The kernel's own compiler builds the module's tables, as in kelp build (the host's gcc, or the release's build root).
        const toolchain = await kdirToolchain(opts.kdir, opts.symvers, opts.skipCompilerCheck === true, (l) => process.stderr.write(`kelp: ${l}\n`));
        const r = await withToolchain(toolchain, () => linkModule({
          inputs, kdir: opts.kdir, name: opts.name, output: opts.output, replace: opts.replace,
          symbols: opts.symbols, symvers: opts.symvers, keepBuild: opts.keepBuild,
          log: opts.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
        }));
        const c = r.conversion;
        process.stdout.write(`${r.output}: livepatch ${r.moduleName}, ${r.plan.objects.length} object(s), `
          + `${r.plan.objects.reduce((n, o) => n + o.functions.length, 0)} function(s), `
          + `${c.klpSymbols.length} klp symbol(s), ${c.moved} relocation(s) in ${c.klpRelaSections.length} .klp.rela section(s)\n`);
        if (r.builddir) process.stdout.write(`build directory: ${r.builddir}\n`);
      });
  },
};

export default link;
