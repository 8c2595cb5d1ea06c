/**
 * `kelp dump`: readelf-compatible dumps (-h -l -S -g -s -r -n -x -p -e -W).
 * The implementation under src/dump/ is loaded only when the command runs.
 */
import { Command } from 'commander';
import { KelpError } from '../../elf/errors.js';
import type { Subcommand } from './registry.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface RawOptions {
  fileHeader?: boolean; programHeaders?: boolean; segments?: boolean; sectionHeaders?: boolean; sections?: boolean;
  sectionGroups?: boolean; syms?: boolean; symbols?: boolean; relocs?: boolean; notes?: boolean; headers?: boolean;
  wide?: boolean; hexDump: string[]; stringDump: string[];
}

const dump: Subcommand = {
  name: 'dump',
  register(program: Command): void {
    program
      .command('dump')
      .summary('print ELF files exactly as readelf does')
      .description('Print ELF file contents byte-identical to GNU readelf 2.40 with the same options.')
      .helpOption('--help', 'display help for dump')
      .option('-h, --file-header', 'display the ELF file header')
      .option('-l, --program-headers', 'display the program headers')
      .option('--segments', 'an alias for --program-headers')
      .option('-S, --section-headers', 'display the section headers')
      .option('--sections', 'an alias for --section-headers')
      .option('-g, --section-groups', 'display the section groups')
      .option('-e, --headers', 'equivalent to -h -l -S')
      .option('-s, --syms', 'display the symbol tables')
      .option('--symbols', 'an alias for --syms')
      .option('-r, --relocs', 'display the relocations')
      .option('-n, --notes', 'display the notes')
      .option('-x, --hex-dump <number|name>', 'dump a section as bytes (repeatable)', collect, [])
      .option('-p, --string-dump <number|name>', 'dump a section as strings (repeatable)', collect, [])
      .option('-W, --wide', 'allow output wider than 80 characters')
      .argument('<file...>', 'ELF files')
      .action(async (files: string[], raw: RawOptions) => {
        const { runDump, emptyOptions, hasDisplayOption } = await import('../dump/index.js');
        const o = emptyOptions();
        o.fileHeader = !!(raw.fileHeader || raw.headers);
        o.programHeaders = !!(raw.programHeaders || raw.segments || raw.headers);
        o.sectionHeaders = !!(raw.sectionHeaders || raw.sections || raw.headers);
        o.sectionGroups = !!raw.sectionGroups;
        o.syms = !!(raw.syms || raw.symbols);
        o.relocs = !!raw.relocs;
        o.notes = !!raw.notes;
        o.wide = !!raw.wide;
        o.hexDumps = raw.hexDump;
        o.stringDumps = raw.stringDump;
        if (!hasDisplayOption(o)) throw new KelpError('dump: nothing to do: give at least one of -h -l -S -g -s -r -n -x -p -e');
        process.exitCode = runDump(files, o, {
          stdout: (chunk) => process.stdout.write(chunk),
          stderr: (line) => process.stderr.write(line),
        });
      });
  },
};

export default dump;
