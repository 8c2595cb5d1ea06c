/** `kelp check`: the loader's and livepatch core's rules, in process. The work is in src/check/. */
import type { Command } from 'commander';
import type { Subcommand } from './registry.js';
import { ExitCode, KelpError } from '../errors.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const check: Subcommand = {
  name: 'check',
  register(program: Command): void {
    program.command('check')
      .summary('pre-flight the loader and livepatch rules')
      .description('report every reason the target kernel would refuse a livepatch module (modinfo, .klp.rela sections, .klp.sym symbols, exports, relocations, klp_func tables); exit 1 when there is one')
      .argument('<module.ko>', 'the livepatch module')
      .option('--symbols <file>', 'the target\'s System.map, vmlinux or kallsyms (a System.map-<release> name gives the release); default with --release: the target\'s')
      .option('--symvers <file>', 'Module.symvers with the exports the module may use (repeatable)', collect, [])
      .option('--kdir <dir>', 'the target\'s kbuild directory: its release, configuration and Module.symvers')
      .option('--release <release>', 'the target kernel release, for vermagic; without --symbols, a Debian release (fetched into the cache when it is not there) or a kernel of kelp target add, whose System.map, kdir, modules and image are used')
      .option('--cache <dir>', 'cache directory for --release (default $KELP_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/kelp)')
      .option('--modules <dir|file.ko>', 'the target\'s module tree or a target module (.ko, .ko.xz), for module objects (repeatable)', collect, [])
      .option('--kernel <file>', "the target's vmlinuz or vmlinux: under IBT, which functions keep their ENDBR")
      .option('--json', 'print the report as JSON')
      .action(async (file: string, opts: { symbols?: string; symvers: string[]; kdir?: string; release?: string; modules: string[]; kernel?: string; cache?: string; json?: boolean }) => {
        const { checkModule, formatReport } = await import('../check/index.js');
        let { symbols, kdir, release, modules, kernel } = opts;
        if (symbols === undefined) {
          if (release === undefined) throw new KelpError('give the target\'s symbols (--symbols) or its release (--release)', file);
          // The target's own files: a kernel of kelp target add, else the Debian release (headers only; no source needed).
          const { registeredTarget } = await import('../target/custom.js');
          const { fetchTarget } = await import('../target/fetch.js');
          const t = registeredTarget(release, opts.cache)
            ?? await fetchTarget({ release, cache: opts.cache, progress: (l) => process.stderr.write(`kelp: ${l}\n`) });
          symbols = t.systemMap;
          kdir ??= t.kdir;
          kernel ??= t.kernel;
          modules = [...modules, t.modules];
          release = t.release;
        }
        const report = checkModule(file, {
          symbols, symvers: opts.symvers, kdir, release, modules, kernel,
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        else process.stdout.write(formatReport(report));
        if (!report.ok) process.exitCode = ExitCode.BadInput;
      });
  },
};

export default check;
