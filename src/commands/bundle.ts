/** `kelp bundle`: a fleet build's modules in one deterministic tar for kelpctl. The work is in src/bundle/. */
import type { Command } from 'commander';
import type { Subcommand } from './registry.js';

const bundle: Subcommand = {
  name: 'bundle',
  register(program: Command): void {
    program.command('bundle')
      .summary('pack a (fleet) build\'s modules for hosts')
      .description('pack OUTDIR/<release>/NAME.ko (a fleet build) or OUTDIR/NAME.ko (one build), each with its NAME.json, into one tar with a manifest (release, vermagic, sha256, patched objects and functions); the same inputs give the same bytes (mtime: SOURCE_DATE_EPOCH, else 2000-01-01). On a host, `kelpctl load|install fix.tar` picks the module for the running kernel')
      .argument('<outdir>', 'the build\'s output directory')
      .requiredOption('-o, --output <file.tar>', 'the bundle to write')
      .option('--json', 'print the manifest as JSON')
      .action(async (outdir: string, opts: { output: string; json?: boolean }) => {
        const { makeBundle } = await import('../bundle/bundle.js');
        const { writeFileAtomic } = await import('../util/atomic.js');
        const { tar, manifest } = makeBundle(outdir);
        await writeFileAtomic(opts.output, tar, 0o644);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(manifest, null, 2)}\n`);
          return;
        }
        for (const m of manifest.modules) {
          const what = m.patches.map((p) => `${p.object}: ${p.functions.join(' ') || '-'}`).join('; ');
          process.stdout.write(`${m.release}\t${m.path}\t${m.sha256.slice(0, 16)}\t${what}\n`);
        }
        process.stdout.write(`${opts.output}: ${manifest.modules.length} module(s)\n`);
      });
  },
};

export default bundle;
