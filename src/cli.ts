/**
 * kelp's command-line front end. Each subcommand lives in its own file under
 * src/commands/ and is listed in SUBCOMMANDS; errors become one line on stderr.
 */
import { Command, CommanderError } from 'commander';
import { asKelpError, ExitCode } from './errors.js';
import type { Subcommand } from './commands/registry.js';
import { systemMessage } from './util/system-error.js';

async function loadSubcommands(): Promise<Subcommand[]> {
  // Loaded lazily so that `kelp dump` does not pay for the diff engine's imports.
  const modules = await Promise.all(SUBCOMMANDS.map((load) => load()));
  return modules.map((m) => m.default);
}

/** The subcommands, in the order `kelp --help` lists them (the pipeline's order). */
const SUBCOMMANDS: Array<() => Promise<{ default: Subcommand }>> = [
  () => import('./commands/build.js'),
  () => import('./commands/diff.js'),
  () => import('./commands/link.js'),
  () => import('./commands/check.js'),
  () => import('./commands/bundle.js'),
  () => import('./commands/target.js'),
  () => import('./commands/dump.js'),
];

/** Runs kelp with process.argv-style arguments and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv[2] === 'dump') {
    // readelf's own command line (getopt rules, -H, -v), not commander's.
    try {
      const { runDumpCommand } = await import('./commands/dump.js');
      return await runDumpCommand(argv.slice(3));
    } catch (err) {
      return reportError(err);
    }
  }
  const program = new Command('kelp')
    .description('Kernel ELF Live Patch: build, check and prove Linux livepatch modules')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError(false);
  for (const sub of await loadSubcommands()) sub.register(program);
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.Ok;
  } catch (err) {
    return reportError(err);
  }
}

/** Turns any error into the one-line `kelp: ...` form and an exit code. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) {
    // Commander already printed its message (usage errors, --help, --version).
    return err.exitCode === 0 ? ExitCode.Ok : ExitCode.BadInput;
  }
  const k = asKelpError(err);
  if (k !== undefined) {
    process.stderr.write(`kelp: ${k.describe()}\n`);
    return k.exitCode;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.path === 'string') {
    process.stderr.write(`kelp: ${e.path}: ${systemMessage(e)}\n`);
    return ExitCode.BadInput;
  }
  process.stderr.write(`kelp: internal error: ${e && e.message ? e.message : String(err)}\n`);
  if (process.env.KELP_DEBUG) process.stderr.write(`${(e && e.stack) || ''}\n`);
  return ExitCode.Internal;
}
