/** `kelp check`: the loader's and livepatch core's rules, in process. The work is in src/check/. */
import type { Command } from 'commander';
import type { Subcommand } from './registry.js';
import { ExitCode } from '../errors.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const check: Subcommand = {
  name: 'check',
  register(program: Command): void {
    program.command('check')
      .summary('pre-flight the loader and livepatch rules')
      .description('report every reason the target kernel would refuse a livepatch module (modinfo, .klp.rela sections, .klp.sym symbols, exports, relocations, klp_func tables); exit 1 when there is one')
      .argument('<module.ko>', 'the livepatch module')
      .requiredOption('--symbols <file>', 'the target\'s System.map, vmlinux or kallsyms (a System.map-<release> name gives the release)')
      .option('--symvers <file>', 'Module.symvers with the exports the module may use (repeatable)', collect, [])
      .option('--kdir <dir>', 'the target\'s kbuild directory: its release, configuration and Module.symvers')
      .option('--release <uname-r>', 'the target kernel release, for vermagic')
      .option('--modules <dir|file.ko>', 'the target\'s module tree or a target module (.ko, .ko.xz), for module objects (repeatable)', collect, [])
      .option('--kernel <file>', "the target's vmlinuz or vmlinux: under IBT, which functions keep their ENDBR")
      .option('--json', 'print the report as JSON')
      .action(async (file: string, opts: { symbols: string; symvers: string[]; kdir?: string; release?: string; modules: string[]; kernel?: string; json?: boolean }) => {
        const { checkModule, formatReport } = await import('../check/index.js');
        const report = checkModule(file, {
          symbols: opts.symbols, symvers: opts.symvers, kdir: opts.kdir, release: opts.release, modules: opts.modules, kernel: opts.kernel,
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else process.stdout.write(formatReport(report));
        if (!report.ok) process.exitCode = ExitCode.BadInput;
      });
  },
};

export default check;
