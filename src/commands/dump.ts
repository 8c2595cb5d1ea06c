/**
 * `kelp dump`: readelf-compatible dumps (-a -h -l -S -g -s -r -d -V -A -I -u -n -x -p -e --dyn-syms -W),
 * or with --livepatch [--json] kelp's own view of a livepatch module (never
 * mixed with readelf output). The implementation under src/dump/ is loaded
 * only when the command runs.
 */
import { Command } from 'commander';
import { KelpError } from '../errors.js';
import type { Subcommand } from './registry.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

interface RawOptions {
  fileHeader?: boolean; programHeaders?: boolean; segments?: boolean; sectionHeaders?: boolean; sections?: boolean;
  sectionGroups?: boolean; syms?: boolean; symbols?: boolean; relocs?: boolean; notes?: boolean; headers?: boolean;
  wide?: boolean; hexDump: string[]; stringDump: string[]; livepatch?: boolean; json?: boolean;
  useDynamic?: boolean; decompress?: boolean; archiveIndex?: boolean; sectionDetails?: boolean; fullSectionName?: boolean; all?: boolean; dynamic?: boolean; versionInfo?: boolean; dynSyms?: boolean; histogram?: boolean; archSpecific?: boolean; unwind?: boolean;
}

/** The readelf options given, as typed (for the usage error of --livepatch). */
function readelfOptionsGiven(raw: RawOptions): string[] {
  const flags: Array<[keyof RawOptions, string]> = [
    ['fileHeader', '-h'], ['programHeaders', '-l'], ['segments', '--segments'], ['sectionHeaders', '-S'], ['sections', '--sections'],
    ['sectionGroups', '-g'], ['headers', '-e'], ['syms', '-s'], ['symbols', '--symbols'], ['relocs', '-r'], ['notes', '-n'], ['wide', '-W'], ['decompress', '-z'], ['useDynamic', '-D'],
    ['all', '-a'], ['archiveIndex', '-c'], ['sectionDetails', '-t'], ['fullSectionName', '-N'], ['dynamic', '-d'], ['versionInfo', '-V'], ['dynSyms', '--dyn-syms'], ['histogram', '-I'], ['archSpecific', '-A'], ['unwind', '-u'],
  ];
  const given = flags.filter(([k]) => raw[k]).map(([, f]) => f);
  if (raw.hexDump.length > 0) given.push('-x');
  if (raw.stringDump.length > 0) given.push('-p');
  return given;
}

const dump: Subcommand = {
  name: 'dump',
  register(program: Command): void {
    program
      .command('dump')
      .summary('print ELF files exactly as readelf does')
      .description('Print ELF file contents byte-identical to GNU readelf 2.40 with the same options.\n\n'
        + 'With --livepatch, print kelp\'s own view of livepatch modules instead: the module (name, livepatch=, vermagic, '
        + 'license, __versions), the klp_object/klp_func tables, the .klp.rela sections by object with their relocations, '
        + 'the .klp.sym symbols and the undefined symbols the loader resolves; with --json, one JSON array with an entry '
        + 'per file. --livepatch is refused together with readelf options (exit 1). A file that is not a livepatch module '
        + 'is still described, and the view says it is not one (exit 0).')
      .helpOption('--help', 'display help for dump')
      .option('-a, --all', 'equivalent to -h -l -S -g -s -r -d -V -A -I -u -n')
      .option('-h, --file-header', 'display the ELF file header')
      .option('-l, --program-headers', 'display the program headers')
      .option('--segments', 'an alias for --program-headers')
      .option('-S, --section-headers', 'display the section headers')
      .option('--sections', 'an alias for --section-headers')
      .option('-g, --section-groups', 'display the section groups')
      .option('-t, --section-details', 'display the section headers in detail')
      .option('-N, --full-section-name', 'the same as --section-details in readelf 2.40')
      .option('-e, --headers', 'equivalent to -h -l -S')
      .option('-s, --syms', 'display the symbol tables')
      .option('--symbols', 'an alias for --syms')
      .option('-r, --relocs', 'display the relocations')
      .option('-n, --notes', 'display the notes')
      .option('-d, --dynamic', 'display the dynamic section')
      .option('-V, --version-info', 'display the version sections')
      .option('--dyn-syms', 'display the dynamic symbol table')
      .option('-I, --histogram', 'display histograms of the symbol hash bucket list lengths')
      .option('-c, --archive-index', 'display the symbol index of archives')
      .option('-A, --arch-specific', 'display architecture-specific information')
      .option('-u, --unwind', 'display the unwind information')
      .option('-x, --hex-dump <number|name>', 'dump a section as bytes (repeatable)', collect, [])
      .option('-p, --string-dump <number|name>', 'dump a section as strings (repeatable)', collect, [])
      .option('-D, --use-dynamic', 'with -r and -s, use the dynamic section\'s relocation and symbol tables')
      .option('-z, --decompress', 'decompress sections before -x and -p dump them')
      .option('-W, --wide', 'allow output wider than 80 characters')
      .option('--livepatch', 'kelp\'s livepatch view instead of readelf output (alone, not with readelf options)')
      .option('--json', 'with --livepatch: print the view as a JSON array, one entry per file')
      .argument('<file...>', 'ELF files')
      .action(async (files: string[], raw: RawOptions) => {
        if (raw.livepatch) {
          const readelfOptions = readelfOptionsGiven(raw);
          if (readelfOptions.length > 0) throw new KelpError(`dump: --livepatch cannot be combined with readelf options (${readelfOptions.join(' ')})`);
          const { runLivepatchDump } = await import('../dump/livepatch.js');
          process.exitCode = runLivepatchDump(files, { json: !!raw.json }, {
            stdout: (chunk) => process.stdout.write(chunk),
            stderr: (line) => process.stderr.write(line),
          });
          return;
        }
        if (raw.json) throw new KelpError('dump: --json needs --livepatch (readelf output has no JSON form)');
        const { runDump, emptyOptions, hasDisplayOption, setAll } = await import('../dump/index.js');
        const o = emptyOptions();
        if (raw.all) setAll(o);
        o.fileHeader ||= !!(raw.fileHeader || raw.headers);
        o.programHeaders ||= !!(raw.programHeaders || raw.segments || raw.headers);
        o.sectionHeaders ||= !!(raw.sectionHeaders || raw.sections || raw.headers);
        o.sectionGroups ||= !!raw.sectionGroups;
        o.sectionDetails = !!(raw.sectionDetails || raw.fullSectionName);
        o.sectionHeaders ||= o.sectionDetails;
        o.syms ||= !!(raw.syms || raw.symbols);
        o.relocs ||= !!raw.relocs;
        o.notes ||= !!raw.notes;
        o.dynamic ||= !!raw.dynamic;
        o.versionInfo ||= !!raw.versionInfo;
        o.dynSyms ||= !!raw.dynSyms;
        o.histogram ||= !!raw.histogram;
        o.archSpecific ||= !!raw.archSpecific;
        o.unwind ||= !!raw.unwind;
        o.archiveIndex ||= !!raw.archiveIndex;
        o.wide = !!raw.wide;
        o.decompress = !!raw.decompress;
        o.useDynamic = !!raw.useDynamic;
        o.hexDumps = raw.hexDump;
        o.stringDumps = raw.stringDump;
        if (!hasDisplayOption(o)) throw new KelpError('dump: nothing to do: give at least one of -a -h -l -S -g -t -s -r -d -V -A -I -u -n -c -x -p -e --dyn-syms, or --livepatch');
        process.exitCode = runDump(files, o, {
          stdout: (chunk) => process.stdout.write(chunk),
          stderr: (line) => process.stderr.write(line),
        });
      });
  },
};

export default dump;
