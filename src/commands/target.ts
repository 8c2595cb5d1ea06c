/**
 * `kelp target fetch` and `kelp target run`: the emulated x86-64 target (a real
 * Debian kernel under QEMU). The work is done in src/target/.
 */
import { Command, Option } from 'commander';
import type { Subcommand } from './registry.js';
import { ExitCode } from '../errors.js';
import { TargetError } from '../target/errors.js';
import type { CheckResult, RunResult } from '../target/run.js';
import { SUPPORTED_DISTROS } from '../target/distros.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new TargetError(`not a positive number of seconds: ${value}`, '--timeout');
  return n;
}

function indent(text: string, by = '    '): string {
  return text.replace(/\n$/, '').split('\n').map((l) => `${by}${l}`).join('\n');
}

function describeChecks(title: string, checks: CheckResult[]): string[] {
  const out: string[] = [];
  if (checks.length === 0) return out;
  out.push(title);
  for (const c of checks) {
    const status = c.exitCode === null ? 'not run' : c.exitCode === 0 ? 'ok' : `exit ${c.exitCode}`;
    out.push(`  $ ${c.command}  [${status}]`);
    if (c.output !== '') out.push(indent(c.output));
  }
  return out;
}

/** The human-readable report of a run. */
export function formatRun(r: RunResult): string {
  const out: string[] = [];
  out.push(`kernel ${r.kernel}`);
  if (r.error !== null) out.push(`error: ${r.error}`);
  for (const m of r.modules) {
    const state = m.loaded ? (m.enabled === null ? 'loaded' : m.enabled ? 'loaded, enabled' : 'loaded, not enabled') : 'not loaded';
    out.push(`module ${m.name} (${m.file}): ${state}${m.error ? `: ${m.error}` : ''}`);
  }
  out.push(...describeChecks('checks:', r.checks));
  for (const d of r.disabled) out.push(`disable ${d.name}: ${d.ok ? 'ok' : `failed: ${d.error}`}`);
  out.push(...describeChecks('checks after disable:', r.checksAfterDisable));
  for (const e of r.expect) out.push(`expect /${e.pattern}/: ${e.matched ? 'matched' : 'NOT matched'}`);
  if (r.kernelMessages.length > 0) {
    out.push('kernel messages:');
    for (const l of r.kernelMessages) out.push(`  ${l}`);
  }
  if (r.taint !== null) out.push(`taint: ${r.taint}`);
  out.push(`boot ${r.bootTime ?? '-'} s${r.pvh ? ' (vmlinux, PVH entry)' : ''}, total ${r.totalTime} s${r.log ? `, console log ${r.log}` : ''}`);
  out.push(r.ok ? 'result: ok' : 'result: FAILED');
  return `${out.join('\n')}\n`;
}

const target: Subcommand = {
  name: 'target',
  register(program: Command): void {
    const cmd = program.command('target').summary('boot a Debian kernel under QEMU').description('the emulated x86-64 target: fetch a real Debian kernel, boot it under QEMU');

    cmd.command('list')
      .description('every x86-64 Debian kernel release in bookworm, bookworm-security, bookworm-backports, trixie and trixie-security, newest first, then the kernels registered with kelp target add (suite "custom", by name)')
      .option('--cache <dir>', 'cache directory (default $KELP_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/kelp)')
      .option('--refresh', 'update kelp\'s package lists first')
      .option('--json', 'print the releases as JSON')
      .action(async (opts: { cache?: string; refresh?: boolean; json?: boolean }) => {
        const { AptState } = await import('../kernel/apt.js');
        const { listReleases } = await import('../kernel/releases.js');
        const { cacheRoot } = await import('../target/cache.js');
        const apt = new AptState(cacheRoot(opts.cache));
        const say = (line: string) => process.stderr.write(`kelp: ${line}\n`);
        if (opts.refresh) await apt.update(say);
        const { registeredTargets, CUSTOM_SUITE } = await import('../target/custom.js');
        // The kernels registered with kelp target add follow Debian's, as what --release takes (their name).
        const list = [...await listReleases(apt, say), ...(await registeredTargets(opts.cache)).map(({ name, info }) => ({
          release: name, flavour: info.flavour, version: info.release, suite: CUSTOM_SUITE, suites: [CUSTOM_SUITE],
          codename: info.codename, headers: true, source: info.source !== undefined,
        }))];
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          return;
        }
        const rows = [['RELEASE', 'VERSION', 'SUITE', 'HEADERS', 'SOURCE'],
          ...list.map((r) => [r.release, r.version, r.suites.join(','), r.headers ? 'yes' : 'no', r.source ? 'yes' : 'no'])];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        process.stdout.write(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n');
      });

    cmd.command('fetch')
      .description('download and unpack a Debian kernel (default: bookworm\'s current one) — image, headers with kbuild, optionally source — into the cache')
      .option('--release <release>', 'the kernel release as uname -r prints it (e.g. 6.1.0-50-amd64, 6.12.117+deb13-amd64); see kelp target list')
      .addOption(new Option('--distro <name>', 'distribution').choices(SUPPORTED_DISTROS).default('debian'))
      .option('--source', 'also fetch the matching kernel source, prepared for building single objects')
      .option('--cache <dir>', 'cache directory (default $KELP_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/kelp)')
      .option('--json', 'print the paths as JSON')
      .action(async (opts: { distro: string; release?: string; source?: boolean; cache?: string; json?: boolean }) => {
        const { fetchTarget } = await import('../target/fetch.js');
        const info = await fetchTarget({
          distro: opts.distro, release: opts.release, source: opts.source === true, cache: opts.cache,
          progress: (line) => process.stderr.write(`kelp: ${line}\n`),
        });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        } else {
          const rows = Object.entries(info).map(([k, v]) => `${k.padEnd(9)} ${String(v)}`);
          process.stdout.write(`${rows.join('\n')}\n`);
        }
      });

    cmd.command('add')
      .description('register a kernel kelp did not fetch (self-built, another distribution\'s) as NAME, usable as --release NAME for build, check and verify')
      .argument('<name>', 'the name to give it (what --release takes)')
      .requiredOption('--source <dir>', 'its source tree (in-tree patches are compiled there, as kbuild built it)')
      .option('--build <dir>', 'where it was built (make O=...), with .config, Module.symvers and scripts (default: the source tree)')
      .requiredOption('--image <file>', 'the bzImage it boots (for --verify)')
      .option('--vmlinux <file>', 'its vmlinux, for the symbol table')
      .option('--system-map <file>', 'its System.map (instead of --vmlinux)')
      .option('--cache <dir>', 'cache directory (default $KELP_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/kelp)')
      .option('--json', 'print the paths as JSON')
      .action(async (name: string, opts: { source: string; build?: string; image: string; vmlinux?: string; systemMap?: string; cache?: string; json?: boolean }) => {
        const { addTarget } = await import('../target/custom.js');
        const info = await addTarget({ name, source: opts.source, build: opts.build, image: opts.image, vmlinux: opts.vmlinux, systemMap: opts.systemMap, cache: opts.cache });
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        } else {
          process.stdout.write(`${Object.entries(info).map(([k, v]) => `${k.padEnd(9)} ${String(v)}`).join('\n')}\n`);
        }
      });

    cmd.command('run')
      .description('boot a kernel under QEMU, load modules, run checks, and report')
      .requiredOption('--kernel <vmlinuz>', 'kernel image (bzImage), e.g. the "kernel" path of kelp target fetch')
      .option('--load <file.ko>', 'module to load, in order (repeatable)', collect, [])
      .option('--check <command>', 'shell command to run after loading (repeatable)', collect, [])
      .option('--expect <regex>', 'regular expression the checks\' output must match (repeatable)', collect, [])
      .option('--disable <name>', 'livepatch to disable, then run the checks again (repeatable)', collect, [])
      .option('--timeout <seconds>', 'kill the run after this long', seconds, 120)
      .option('--kvm', 'use KVM when /dev/kvm is usable (default: software emulation)')
      .option('--bzimage', 'boot the image through its decompressor (default under software emulation: its vmlinux, through the PVH entry)')
      .option('--append <args>', 'extra kernel command-line arguments')
      .option('--log <file>', 'keep the serial console log in this file')
      .option('--file <path>', 'put a file into the target\'s root as /<basename>, for the checks (repeatable)', collect, [])
      .option('--json', 'print the result as JSON')
      .action(async (opts: {
        kernel: string; load: string[]; check: string[]; expect: string[]; disable: string[];
        timeout: number; kvm?: boolean; bzimage?: boolean; append?: string; log?: string; file: string[]; json?: boolean;
      }) => {
        const { runTarget } = await import('../target/run.js');
        const result = await runTarget({
          kernel: opts.kernel, load: opts.load, check: opts.check, expect: opts.expect, disable: opts.disable,
          timeout: opts.timeout, kvm: opts.kvm === true, bzImage: opts.bzimage === true, append: opts.append, log: opts.log, files: opts.file,
        });
        if (opts.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        else process.stdout.write(formatRun(result));
        if (!result.ok) {
          if (result.error !== null) process.stderr.write(`kelp: ${opts.kernel}: ${result.error}${result.log ? ` (console log: ${result.log})` : ''}\n`);
          process.exitCode = result.error !== null ? ExitCode.TargetFailed : ExitCode.BadInput;
        }
      });
  },
};

export default target;
