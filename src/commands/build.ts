/**
 * `kelp build PATCH...`: from source patches to a livepatch module in one
 * command (build the affected objects, diff, link, optionally verify under
 * QEMU). The work is in src/build/.
 */
import type { Command } from 'commander';
import { KelpError } from '../errors.js';
import type { Subcommand } from './registry.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function positiveInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} ${value}: not a positive integer`);
    return n;
  };
}

function nonNegativeInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`${flag} ${value}: not a whole number (0 or more)`);
    return n;
  };
}

interface Opts {
  release: string[]; releases?: string; all?: boolean; suite?: string; flavour?: string; patchFor: string[]; skipCompilerCheck?: boolean; sourcedir?: string; kdir?: string; ootModule?: string; target?: string; name?: string; output?: string;
  symbols?: string; symvers?: string; replace: boolean; jobs?: number; keepTmp?: boolean; json?: boolean;
  verify?: boolean; check: string[]; expect: string[]; expectDisabled: string[]; kernel?: string; timeout?: number; fuzz?: number; cache?: boolean; quiet?: boolean;
}

const build: Subcommand = {
  name: 'build',
  register(program: Command): void {
    program.command('build')
      .summary('patches to a verified livepatch module')
      .description('build a livepatch module from source patches: the affected objects with the tree\'s kbuild, kelp diff, kelp link (and --verify under QEMU)')
      .argument('<patch...>', 'unified diffs (git diff, diff -Nupr), applied in order like patch -p1')
      .option('--release <release>', 'a Debian kernel release (uname -r, see kelp target list): its source, kdir, System.map and image are fetched and used; repeat it for a fleet build', collect, [])
      .option('--releases <file>', 'fleet build: the releases in FILE, one a line as uname -r prints it (# comments)')
      .option('--all', 'fleet build: every Debian release of kelp target list that has source')
      .option('--suite <suite>', 'with --all: only this suite or codename (e.g. bookworm, trixie-security)')
      .option('--flavour <flavour>', 'with --all: only this flavour (amd64, cloud-amd64, rt-amd64)')
      .option('--patch-for <release=file>', 'fleet build: this release\'s own backport, instead of the PATCH list (repeatable)', collect, [])
      .option('--sourcedir <dir>', 'a configured kernel tree (e.g. the "source" of kelp target fetch --source)')
      .option('--kdir <dir>', 'the target kernel\'s build directory, whose kbuild builds the module (default: --sourcedir)')
      .option('--oot-module <dir>', 'an out-of-tree module\'s directory (its own Makefile/Kbuild); patch paths are relative to it')
      .option('--target <module>', 'with --oot-module: the module the patch changes')
      .option('--name <name>', 'module name (default livepatch-<first patch name>)')
      .option('-o, --output <dir>', 'directory for NAME.ko and NAME.json (default: the current directory)')
      .option('--symbols <file>', 'System.map of the target kernel (symbol positions, klp symbol checks)')
      .option('--symvers <file>', 'Module.symvers of the target (default: KDIR/Module.symvers)')
      .option('--no-replace', 'do not set the atomic-replace flag')
      .option('-j, --jobs <n>', 'parallel make jobs and diff workers (default: the number of CPUs); in a fleet build, releases built at once (default 1)', positiveInt('--jobs'))
      .option('--keep-tmp', 'keep the work directory and print its path')
      .option('--json', 'print the report (NAME.json) on stdout')
      .option('--verify', 'boot the target kernel under QEMU with the module and run --check/--expect')
      .option('--check <command>', 'with --verify: shell command to run in the target after loading (repeatable)', collect, [])
      .option('--expect <regex>', 'with --verify: regular expression the checks\' output must match (repeatable)', collect, [])
      .option('--expect-disabled <regex>', 'with --verify: regular expression the checks\' output must match after the patch is disabled in the target (repeatable)', collect, [])
      .option('--kernel <vmlinuz>', 'with --verify: the kernel image to boot (default: the fetched Debian target\'s)')
      .option('--timeout <seconds>', 'with --verify: kill the target after this long (default 300)', positiveInt('--timeout'))
      .option('--fuzz <n>', 'context lines a hunk may leave unchecked, as patch -F (default 2; 0 refuses hunks that need fuzz; offsets are always accepted and reported)', nonNegativeInt('--fuzz'))
      .option('--skip-compiler-check', 'build even when the kernel\'s exact compiler (CONFIG_CC_VERSION_TEXT) is neither on the host nor in a build root; the report records it')
      .option('--no-cache', 'rebuild the original objects instead of using the object cache')
      .option('-q, --quiet', 'no progress lines')
      .action(async (patches: string[], opts: Opts) => {
        const { isFleet } = await import('../fleet/select.js');
        if (isFleet(opts)) {
          const { fleetBuild } = await import('../fleet/command.js');
          process.exitCode = await fleetBuild(patches, opts);
          return;
        }
        if (opts.patchFor.length > 0 || opts.suite !== undefined || opts.flavour !== undefined) {
          throw new KelpError('--patch-for, --suite and --flavour are for fleet builds (several --release, --releases or --all)');
        }
        const { buildLivepatch } = await import('../build/index.js');
        const { RefusalError } = await import('../build/refusals.js');
        const r = await buildLivepatch({
          patches, release: opts.release[0], skipCompilerCheck: opts.skipCompilerCheck, sourcedir: opts.sourcedir, kdir: opts.kdir, ootModule: opts.ootModule, target: opts.target, name: opts.name,
          outdir: opts.output, symbols: opts.symbols, symvers: opts.symvers, replace: opts.replace, jobs: opts.jobs,
          keepTmp: opts.keepTmp, verify: opts.verify, check: opts.check, expect: opts.expect, expectDisabled: opts.expectDisabled, kernel: opts.kernel,
          timeout: opts.timeout, fuzz: opts.fuzz, useCache: opts.cache !== false, quiet: opts.quiet,
        }).catch((e: unknown) => {
          // --json: the refusals, each with its category and advice, on stdout too.
          if (opts.json && e instanceof RefusalError) process.stdout.write(`${JSON.stringify(e.toJSON(), null, 2)}\n`);
          throw e;
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(r.report, null, 2)}\n`);
          return;
        }
        const fns = r.report.objects.reduce((n, ob) => n + ob.changedFunctions.length, 0);
        process.stdout.write(`${r.ko}: livepatch ${r.report.moduleName}, ${fns} function(s) in ${Object.keys(r.report.targets).join(', ')}; report ${r.json}\n`);
        if (r.report.verify) process.stdout.write(`verified: loaded and enabled in the target${r.report.verify.checks.length > 1 ? '; checks passed' : ''}\n`);
      });
  },
};

export default build;
