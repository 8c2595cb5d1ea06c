/**
 * Every external program kelp, its tests, examples and tools spawn must either
 * ship with a fresh machine of the project's kind (BASE_PACKAGES below) or come
 * from a Debian package in the project's prerequisite lists
 * (src/target/packages.ts), mapped through TOOL_PACKAGES. Found statically by
 * test/prereq/scan.ts; a call whose program is a variable must be resolved in
 * DYNAMIC below, with the reason. Issue 10: `modinfo` was spawned, kmod was in
 * no list, and only a fresh machine showed it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  BENCH_PACKAGES, BUILD_ROOT_PACKAGES, FETCH_PACKAGES, KBUILD_PACKAGES, RUN_PACKAGES, SOURCE_PACKAGES, TEST_PACKAGES, TOOL_PACKAGES,
} from '../../src/target/packages.js';
import { REPO_ROOT } from '../support/paths.js';
import { scanShell, scanTypeScript, type Spawn } from './scan.js';

/**
 * The fresh machine: Debian bookworm, `mmdebstrap --variant=minbase
 * --include=make,gcc,g++,python3 bookworm` (Priority: required, the four
 * packages and their hard dependencies, no Recommends), plus Node.js 20
 * (node, npm, npx) copied in: what tools/fresh-root-check.sh builds. The list
 * is that root's `dpkg-query -W` (its logs/base-packages.txt), less the
 * libraries no program here is mapped to. Notably absent: kmod, cpio,
 * xz-utils, git, busybox, qemu, bc, flex, bison, openssl, ca-certificates.
 */
export const BASE_PACKAGES: ReadonlySet<string> = new Set([
  // Priority: required (minbase)
  'adduser', 'apt', 'base-files', 'base-passwd', 'bash', 'bsdutils', 'coreutils', 'dash', 'debconf',
  'debian-archive-keyring', 'debianutils', 'diffutils', 'dpkg', 'e2fsprogs', 'findutils', 'gpgv', 'grep', 'gzip',
  'hostname', 'init-system-helpers', 'login', 'logsave', 'mawk', 'mount', 'ncurses-base', 'ncurses-bin', 'passwd',
  'perl-base', 'sed', 'sysvinit-utils', 'tar', 'tzdata', 'usrmerge', 'util-linux', 'util-linux-extra',
  // the declared base and what it pulls in
  'make', 'gcc', 'gcc-12', 'g++', 'g++-12', 'cpp', 'cpp-12', 'binutils', 'binutils-x86-64-linux-gnu', 'libc6-dev',
  'libc-dev-bin', 'linux-libc-dev', 'perl', 'python3', 'python3-minimal', 'python3.11', 'python3.11-minimal',
  // Node.js 20, not from Debian: node, npm, npx
  'nodejs',
]);

/** Packages some prerequisite list installs, and which list. */
function prerequisiteLists(extra: Record<string, readonly string[]> = {}): Map<string, string> {
  const lists: Record<string, readonly string[]> = {
    RUN_PACKAGES, FETCH_PACKAGES, KBUILD_PACKAGES, SOURCE_PACKAGES, BUILD_ROOT_PACKAGES, TEST_PACKAGES, ...extra,
  };
  const by = new Map<string, string>();
  for (const [name, pkgs] of Object.entries(lists)) for (const p of pkgs) if (!by.has(p)) by.set(p, name);
  return by;
}

/** What tools/fresh-root-check.sh installs on the checking host (its host_packages= line). */
function freshCheckHostPackages(): string[] {
  const script = readFileSync(join(REPO_ROOT, 'tools', 'fresh-root-check.sh'), 'utf8');
  const m = /^host_packages="([^"]*)"$/m.exec(script);
  if (!m) throw new Error('tools/fresh-root-check.sh: no host_packages="..." line');
  return m[1]!.split(/\s+/).filter((p) => p !== '');
}

interface Resolution {
  /** The source file, and the expression (TypeScript) or word (shell) naming the program. */
  file: string;
  expr: string;
  /** The programs it runs. */
  tools: string[];
  reason: string;
}

/** Calls whose program is not a literal: what they run and why. */
export const DYNAMIC: readonly Resolution[] = [
  { file: 'src/build/cache.ts', expr: 'cc', tools: ['gcc-12'], reason: "compilerVersion(cc): the target kernel's compiler (bookworm: gcc-12), read from its config" },
  { file: 'src/util/decompress.ts', expr: 'requireTool(tool)', tools: ['xz', 'zstd'], reason: "tool is 'xz' or 'zstd', by the file's magic" },
  { file: 'bin/kelpctl', expr: '$pm_tool', tools: ['xz', 'unxz', 'zstd', 'gzip'], reason: 'plain_module: the decompressor of a compressed module, by its magic (unxz where xz is missing: busybox)' },
  { file: 'test/diff/objtool-tables.test.ts', expr: 'objtool', tools: [], reason: "the fetched target's own objtool (KDIR/tools/objtool/objtool, from its linux-kbuild package), not a host program" },
  { file: 'test/target/compressed.test.ts', expr: 'c', tools: ['xz', 'zstd'], reason: "test.each over 'xz', 'zstd' (gzip is node:zlib)" },
  { file: 'src/kernel/make.ts', expr: 'run.file', tools: ['make', 'unshare'], reason: 'makeInvocation (src/kernel/toolchain.ts): make, or unshare into the build root' },
  { file: 'src/kernel/configured.ts', expr: 'run.file', tools: ['make', 'unshare'], reason: 'makeInvocation (src/kernel/toolchain.ts): make, or unshare into the build root' },
  { file: 'src/target/source.ts', expr: 'run.file', tools: ['make', 'unshare'], reason: 'makeInvocation (src/kernel/toolchain.ts): make, or unshare into the build root' },
  { file: 'test/build/trixie.test.ts', expr: 'run.file', tools: ['make', 'unshare'], reason: 'makeInvocation (src/kernel/toolchain.ts): make, or unshare into the build root' },
  { file: 'test/link/link-612.test.ts', expr: 'run.file', tools: ['make', 'unshare'], reason: 'makeInvocation (src/kernel/toolchain.ts): make, or unshare into the build root' },
  { file: 'src/kernel/buildroot.ts', expr: 'argv[0]!', tools: ['unshare'], reason: 'BuildRoot.wrap: unshare, then chroot inside the root' },
  { file: 'src/kernel/buildroot.ts', expr: 'mmdebstrap', tools: ['mmdebstrap'], reason: "mmdebstrap = requireTool('mmdebstrap') above it" },
  { file: 'src/kernel/toolchain.ts', expr: 'path', tools: ['gcc-12'], reason: "which(cc): the kernel's compiler on the host (bookworm: gcc-12; others only when installed)" },
  { file: 'test/build/compiler.test.ts', expr: "target.compiler!.split(' ')[0]!", tools: ['gcc-12'], reason: "the bookworm target's compiler (gcc-12)" },
  { file: 'src/target/initramfs.ts', expr: 'path', tools: ['busybox'], reason: "path = requireTool('busybox') above it" },
  { file: 'src/kernel/dwarf-layout.ts', expr: 'pahole', tools: ['pahole'], reason: "pahole = requireTool('pahole') above it (KBUILD_PACKAGES)" },
  { file: 'src/target/qemu.ts', expr: 'qemu', tools: ['qemu-system-x86_64'], reason: "qemu = requireTool('qemu-system-x86_64') above it" },
  { file: 'test/build/oot.test.ts', expr: 'cmd', tools: ['sh'], reason: "package.json's example script, `sh examples/oot/run.sh` (checked below; the script is scanned)" },
  { file: 'test/elf/roundtrip.test.ts', expr: 'tool', tools: ['readelf', 'objdump'], reason: "describe_(tool, ...) is called with 'readelf' and 'objdump'" },
  { file: 'test/kelpctl/harness.ts', expr: 'argv[0]', tools: ['busybox', 'dash', 'bash', 'setpriv'], reason: 'the SHELLS argv (busybox ash, dash, bash), after the optional prefix (setpriv)' },
  { file: 'test/link/support/run.ts', expr: 'cmd', tools: [], reason: 'the run/runStatus wrapper: its callers are scanned' },
  { file: 'test/support/tools.ts', expr: 'cmd', tools: [], reason: 'the run/runStatus wrapper: its callers are scanned' },
  { file: 'test/support/selfbuilt.ts', expr: 'cmd', tools: ['sh', 'tar', 'make'], reason: "run(cmd, ...): sh -c (tar | tar), make, and the kernel tree's own scripts/config" },
  { file: '*', expr: 'KELP_BIN', tools: ['node', 'env'], reason: 'bin/kelp, this repository\'s CLI: `#!/usr/bin/env node`' },
  { file: 'examples/ci/build.sh', expr: '$kelp', tools: ['node', 'env'], reason: 'kelp=$root/bin/kelp' },
  { file: 'examples/ci/plan.sh', expr: '$kelp', tools: ['node', 'env'], reason: 'kelp=$root/bin/kelp' },
  { file: 'bin/kelpctl', expr: '$INSMOD', tools: ['objcopy', 'tr', 'sed', 'mkdir', 'sleep'], reason: "insmod: busybox's in the target; the tests' stand-in script (test/kelpctl/harness.ts) runs these" },
  { file: 'bin/kelpctl', expr: '$RMMOD', tools: ['rm'], reason: "rmmod: busybox's in the target; the tests' stand-in script runs rm" },
];

/**
 * Programs scanned but never run where the tests or the examples run:
 * kelpctl enables its boot job only on the real system (ETC=/etc) of a host
 * that has them, each guarded by `command -v`.
 */
export const TARGET_ONLY: ReadonlyMap<string, string> = new Map([
  ['bin/kelpctl systemctl', 'kelpctl install on a systemd host only (guarded by command -v; the tests redirect ETC)'],
  ['bin/kelpctl update-rc.d', 'kelpctl install on a sysvinit host only (guarded by command -v; the tests redirect ETC)'],
]);

export interface Problem { where: string; message: string }

export interface CheckOptions {
  toolPackages: Readonly<Record<string, string>>;
  base: ReadonlySet<string>;
  /** Package -> the prerequisite list that installs it, for a file. */
  listsFor: (file: string) => Map<string, string>;
  dynamic: readonly Resolution[];
  targetOnly: ReadonlyMap<string, string>;
}

/** Every spawned program without a package that a fresh machine has or the prerequisites install. */
export function checkSpawns(spawns: readonly Spawn[], o: CheckOptions): Problem[] {
  const problems: Problem[] = [];
  const check = (s: Spawn, tool: string) => {
    const where = `${s.file}:${s.line}`;
    if (o.targetOnly.has(`${s.file} ${tool}`)) return;
    const pkg = o.toolPackages[tool];
    if (pkg === undefined) {
      problems.push({ where, message: `${tool} (${s.via}) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)` });
      return;
    }
    if (o.base.has(pkg)) return;
    if (!o.listsFor(s.file).has(pkg)) {
      problems.push({ where, message: `${tool} comes from ${pkg}, which no prerequisite list installs and a fresh machine does not have` });
    }
  };
  for (const s of spawns) {
    if (!s.dynamic) {
      check(s, s.name);
      continue;
    }
    const r = o.dynamic.find((d) => (d.file === s.file || d.file === '*') && d.expr === s.name);
    if (r === undefined) {
      problems.push({ where: `${s.file}:${s.line}`, message: `${s.via}(${s.name}, ...): the program is not a literal; resolve it in DYNAMIC (test/prereq/tools.test.ts)` });
      continue;
    }
    for (const t of r.tools) check(s, t);
  }
  return problems;
}

const SCANNED_DIRS = ['src', 'elf', 'rela', 'bin', 'test', 'examples', 'tools', '.ci'];
/** The scanner and this test hold synthetic calls of their own. */
const NOT_SCANNED = new Set(['test/prereq']);

function walk(dir: string, out: string[]): void {
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    const rel = relative(REPO_ROOT, p);
    if (NOT_SCANNED.has(rel) || e === 'node_modules' || e === 'out') continue;
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(rel);
  }
}

/** A file's spawns, by kind: TypeScript/JavaScript, shell scripts (by suffix or #!/bin/sh). */
function scanFile(rel: string): Spawn[] {
  const text = readFileSync(join(REPO_ROOT, rel), 'utf8');
  if (/\.(ts|mjs|js)$/.test(rel)) return scanTypeScript(rel, text);
  if (rel.endsWith('.sh') || /^#!\s*\/(usr\/)?bin\/(env )?(ba|da)?sh\b/.test(text)) return scanShell(rel, text);
  return [];
}

function scanRepository(): Spawn[] {
  const files: string[] = [];
  for (const d of SCANNED_DIRS) walk(join(REPO_ROOT, d), files);
  return files.flatMap(scanFile);
}

function listsFor(file: string): Map<string, string> {
  if (file.startsWith('tools/')) return prerequisiteLists({ 'tools/fresh-root-check.sh host_packages': freshCheckHostPackages() });
  if (file.startsWith('test/bench/')) return prerequisiteLists({ BENCH_PACKAGES });
  return prerequisiteLists();
}

const OPTIONS: CheckOptions = { toolPackages: TOOL_PACKAGES, base: BASE_PACKAGES, listsFor, dynamic: DYNAMIC, targetOnly: TARGET_ONLY };

const spawns = scanRepository();

describe('every spawned program has its Debian package', () => {
  test('the scan finds the programs this repository is known to run', () => {
    const found = (file: string, name: string) => spawns.some((s) => s.file === file && s.name === name && !s.dynamic);
    // issue 10's modinfo, through the test helper run()
    expect(found('test/link/link.test.ts', 'modinfo')).toBe(true);
    expect(found('src/kernel/apt.ts', 'apt-get')).toBe(true); // execa(requireTool('apt-get'), ...)
    expect(found('src/target/source.ts', 'xz')).toBe(true); // SOURCE_TOOLS table
    expect(found('test/support/target.ts', 'make')).toBe(true); // execa('make', ...) (kelp's own makes go through makeInvocation, in DYNAMIC)
    expect(found('test/build/support.ts', 'sha1sum')).toBe(true); // inside sh -c '... | xargs -0 -r sha1sum'
    expect(found('test/kelpctl/kelpctl.test.ts', 'shellcheck')).toBe(true);
    expect(found('bin/kelpctl', 'od')).toBe(true); // a shell script
    expect(found('examples/ci/build.sh', 'dpkg-query')).toBe(true);
    expect(found('tools/fresh-root-check.sh', 'mmdebstrap')).toBe(true);
    expect(found('.ci/run', 'npm')).toBe(true);
    expect(spawns.length).toBeGreaterThan(100);
  });

  test('each is on a fresh machine or installed by a prerequisite list', () => {
    const problems = checkSpawns(spawns, OPTIONS).map((p) => `${p.where}: ${p.message}`);
    expect(problems).toEqual([]);
  });

  test('every DYNAMIC and TARGET_ONLY entry still matches a call', () => {
    const stale = DYNAMIC.filter((d) => !spawns.some((s) => s.dynamic && s.name === d.expr && (d.file === '*' || s.file === d.file)));
    expect(stale).toEqual([]);
    const staleTargetOnly = [...TARGET_ONLY.keys()].filter((k) => !spawns.some((s) => `${s.file} ${s.name}` === k));
    expect(staleTargetOnly).toEqual([]);
    // test/build/oot.test.ts runs package.json's example script split on spaces
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.example!.split(' ')[0]).toBe('sh');
  });

  test('every prerequisite-list package is a TOOL_PACKAGES value or a library the kernel build needs', () => {
    // The lists are not a dumping ground either: a package there provides a mapped program, or is a build library.
    const libraries = new Set(['libc6-dev', 'libelf1', 'libssl3', 'libelf-dev', 'libssl-dev']);
    const provided = new Set(Object.values(TOOL_PACKAGES));
    const all = [...RUN_PACKAGES, ...FETCH_PACKAGES, ...KBUILD_PACKAGES, ...SOURCE_PACKAGES, ...BUILD_ROOT_PACKAGES, ...TEST_PACKAGES, ...BENCH_PACKAGES];
    expect(all.filter((p) => !provided.has(p) && !libraries.has(p))).toEqual([]);
  });

  test("TOOL_PACKAGES names the package that really ships each program (dpkg -S, where installed)", () => {
    if (spawnSync('dpkg-query', ['--version']).status !== 0) throw new Error('dpkg-query is missing: not a Debian machine');
    // nodejs is copied onto the fresh machine, whatever installed it here
    const tools = Object.keys(TOOL_PACKAGES).filter((t) => TOOL_PACKAGES[t] !== 'nodejs');
    const owners = owningPackages(tools);
    const wrong = [...owners].filter(([t, owner]) => owner !== TOOL_PACKAGES[t]).map(([t, owner]) => `${t}: TOOL_PACKAGES says ${TOOL_PACKAGES[t]}, dpkg says ${owner}`);
    expect(wrong).toEqual([]);
    expect(owners.size).toBeGreaterThan(20);
  });
});

/**
 * The Debian package that installs each program found on PATH (following
 * symlinks dpkg does not own, such as alternatives); programs not installed
 * here are left out. One dpkg-query call for all.
 */
function owningPackages(tools: readonly string[]): Map<string, string> {
  const candidates = new Map<string, string[]>();
  for (const tool of tools) {
    let path: string | undefined;
    for (const dir of tool.startsWith('/') ? [''] : ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
      const p = dir === '' ? tool : join(dir, tool);
      try {
        statSync(p);
        path = p;
        break;
      } catch { /* not here */ }
    }
    if (path === undefined) continue;
    const paths = [path];
    try { paths.push(realpathSync(path)); } catch { /* dangling */ }
    // merged /usr: dpkg may know a file under /bin or under /usr/bin
    candidates.set(tool, paths.flatMap((p) => [p, p.startsWith('/usr/') ? p.slice(4) : `/usr${p}`]));
  }
  const all = [...new Set([...candidates.values()].flat())];
  const r = spawnSync('dpkg-query', ['-S', ...all], { encoding: 'utf8', maxBuffer: 16 << 20 });
  const owner = new Map<string, string>();
  for (const line of (r.stdout ?? '').split('\n')) {
    const m = /^([^\s:,]+)(?::[\w-]+)?: (.+)$/.exec(line);
    if (m && !owner.has(m[2]!)) owner.set(m[2]!, m[1]!);
  }
  const out = new Map<string, string>();
  for (const [tool, paths] of candidates) {
    const found = paths.map((p) => owner.get(p)).find((o) => o !== undefined);
    if (found !== undefined) out.set(tool, found);
  }
  return out;
}

describe('the check fails when a spawned program has no package (synthetic sources, same scanner)', () => {
  const problemsOf = (file: string, source: string, o: Partial<CheckOptions> = {}) => {
    const found = file.endsWith('.ts') ? scanTypeScript(file, source) : scanShell(file, source);
    return checkSpawns(found, { ...OPTIONS, ...o }).map((p) => `${p.where}: ${p.message}`);
  };

  test('a new tool without a package', () => {
    const src = "import { execa } from 'execa';\n\nexport async function unpack(f: string) {\n  await execa('lz4', ['-d', f]);\n}\n";
    expect(problemsOf('src/target/unzstd.ts', src)).toEqual(['src/target/unzstd.ts:4: lz4 (execa) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)']);
  });

  test('a mapped tool whose package no list installs (issue 10: modinfo without kmod)', () => {
    const src = "import { run } from '../support/tools.js';\ntest('x', () => { run('modinfo', ['-F', 'livepatch', 'a.ko']); });\n";
    expect(problemsOf('test/link/x.test.ts', src)).toEqual([]);
    const withoutKmod = () => {
      const lists = prerequisiteLists();
      lists.delete('kmod');
      return lists;
    };
    expect(problemsOf('test/link/x.test.ts', src, { listsFor: withoutKmod })).toEqual([
      'test/link/x.test.ts:2: modinfo comes from kmod, which no prerequisite list installs and a fresh machine does not have',
    ]);
  });

  test('spawnSync, execFileSync, helpers, sh -c scripts and tool tables all count', () => {
    const src = [
      "import { spawnSync, execFileSync } from 'node:child_process';",
      "import { runStatus } from './support/run.js';",
      "spawnSync('bpftool', ['--version']);",
      "execFileSync('file', ['-b', x]);",
      "runStatus('quilt', ['push']);",
      "spawnSync('sh', ['-c', 'cd \"$1\" && zcat x.gz | cpio -id && lz4 -d y'], {});",
      "export const EXTRA_TOOLS = ['mkfs.ext4'];",
      "// spawnSync('commented-out', []);",
    ].join('\n');
    expect(problemsOf('test/x.test.ts', src)).toEqual([
      'test/x.test.ts:3: bpftool (spawnSync) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)',
      'test/x.test.ts:4: file (execFileSync) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)',
      'test/x.test.ts:5: quilt (runStatus) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)',
      'test/x.test.ts:6: zcat (spawnSync(sh -c)) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)',
      'test/x.test.ts:6: lz4 (spawnSync(sh -c)) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)',
      'test/x.test.ts:7: mkfs.ext4 (tool table) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)',
    ]);
  });

  test('a program named by a variable must be resolved', () => {
    const src = "import { execa } from 'execa';\nconst tool = pick();\nawait execa(tool, []);\n";
    expect(problemsOf('src/x.ts', src)).toEqual(['src/x.ts:3: execa(tool, ...): the program is not a literal; resolve it in DYNAMIC (test/prereq/tools.test.ts)']);
  });

  test('shell scripts: commands, not keywords, builtins, functions, case patterns or here-documents', () => {
    const script = [
      '#!/bin/sh',
      'set -eu',
      'helper() { printf "%s\\n" "$1"; }',
      'case $1 in',
      "-x | --extra) modinfo -F name \"$2\" ;;",
      '*) helper "$(uname -r)" | lz4 -q ;;',
      'esac',
      'cat <<EOF',
      'pahole would not run: a here-document',
      'EOF',
      'for f in a b; do [ -f "$f" ] && exec "$tool" "$f"; done',
      'command -v lz4 >/dev/null 2>&1 || xargs -0 -r sha1sum </dev/null # lz4 is only looked up',
    ].join('\n');
    const names = scanShell('tools/x.sh', script).map((s) => `${s.dynamic ? '$' : ''}${s.name}`);
    expect(names).toEqual(['modinfo', 'uname', 'lz4', 'cat', '$$tool', 'xargs', 'sha1sum']);
    expect(problemsOf('tools/x.sh', script)).toEqual([
      'tools/x.sh:6: lz4 (shell) has no Debian package in TOOL_PACKAGES (src/target/packages.ts)',
      'tools/x.sh:11: shell($tool, ...): the program is not a literal; resolve it in DYNAMIC (test/prereq/tools.test.ts)',
    ]);
  });
});
