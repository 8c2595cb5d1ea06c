/**
 * `kelp dump`: a drop-in GNU readelf 2.40 (every option but the DWARF, CTF,
 * SFrame and LTO dumps), or with --livepatch [--json] kelp's own view of a
 * livepatch module (never mixed with readelf output). The command line is
 * readelf's, parsed by src/dump/args.ts (not commander): main() hands the
 * arguments after `dump` to runDumpCommand. The implementation under
 * src/dump/ is loaded only when the command runs.
 */
import type { Command } from 'commander';
import { KelpError } from '../errors.js';
import type { Subcommand } from './registry.js';

/** Runs `kelp dump` with the arguments after `dump`; returns the exit status. */
export async function runDumpCommand(args: readonly string[]): Promise<number> {
  const end = args.indexOf('--');
  const opts = end < 0 ? args : args.slice(0, end);
  const io = {
    stdout: (chunk: Buffer) => { process.stdout.write(chunk); },
    stderr: (line: string) => { process.stderr.write(line); },
  };
  if (opts.includes('--livepatch')) {
    const readelfOptions = opts.filter((a) => a.startsWith('-') && a !== '--livepatch' && a !== '--json');
    if (readelfOptions.length > 0) throw new KelpError(`dump: --livepatch cannot be combined with readelf options (${readelfOptions.join(' ')})`);
    const files = args.filter((a) => !a.startsWith('-') || (end >= 0 && args.indexOf(a) > end));
    if (files.length === 0) throw new KelpError('dump: --livepatch needs at least one file');
    const { runLivepatchDump } = await import('../dump/livepatch.js');
    return runLivepatchDump(files, { json: opts.includes('--json') }, io);
  }
  if (opts.includes('--json')) throw new KelpError('dump: --json needs --livepatch (readelf output has no JSON form)');
  const { parseReadelfArgs } = await import('../dump/args.js');
  const parsed = parseReadelfArgs(args, 'kelp');
  if (parsed.kind === 'unsupported') {
    throw new KelpError(`dump: ${parsed.option} is not supported: ${parsed.reason ?? 'kelp dump leaves DWARF, CTF, SFrame and LTO symbol dumps to readelf'}`);
  }
  if (parsed.kind === 'exit') {
    if (parsed.stdout) process.stdout.write(parsed.stdout);
    if (parsed.stderr) process.stderr.write(parsed.stderr);
    return parsed.status;
  }
  if (parsed.messages) process.stderr.write(parsed.messages);
  const { runDump } = await import('../dump/index.js');
  return runDump(parsed.files, parsed.opts, io);
}

const dump: Subcommand = {
  name: 'dump',
  register(program: Command): void {
    // Listed for `kelp --help`; main() runs `kelp dump ...` through runDumpCommand, so these options are documentation.
    program
      .command('dump')
      .summary('print ELF files exactly as readelf does')
      .description('Print ELF file contents byte-identical to GNU readelf 2.40 with the same options '
        + '(kelp dump -H lists them; the DWARF, CTF, SFrame and LTO dumps are left to readelf).\n\n'
        + 'With --livepatch, print kelp\'s own view of livepatch modules instead: the module (name, livepatch=, vermagic, '
        + 'license, __versions), the klp_object/klp_func tables, the .klp.rela sections by object with their relocations, '
        + 'the .klp.sym symbols and the undefined symbols the loader resolves; with --json, one JSON array with an entry '
        + 'per file. --livepatch is refused together with readelf options (exit 1).')
      .option('--livepatch', 'kelp\'s livepatch view instead of readelf output (alone, not with readelf options)')
      .option('--json', 'with --livepatch: print the view as a JSON array, one entry per file')
      .argument('[args...]', 'readelf options and files');
  },
};

export default dump;
