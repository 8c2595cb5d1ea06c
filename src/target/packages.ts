/**
 * Which Debian package provides each program kelp, its tests and its examples
 * run on the host, and the package sets each part needs. The test
 * prerequisites install these sets (test/support/prereq.ts), and
 * test/prereq/tools.test.ts fails when a spawned program has no package here.
 */

/** Host program name -> the Debian package that installs it. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  // kelp target run / fetch
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static',
  'dpkg-deb': 'dpkg',
  'dpkg-query': 'dpkg',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  // kelp target fetch --source, kbuild
  tar: 'tar',
  xz: 'xz-utils',
  unxz: 'xz-utils',
  gzip: 'gzip',
  zstd: 'zstd',
  make: 'make',
  gcc: 'gcc',
  'gcc-12': 'gcc-12',
  'g++': 'g++',
  bc: 'bc',
  flex: 'flex',
  bison: 'bison',
  openssl: 'openssl',
  pahole: 'pahole',
  dpkg: 'dpkg',
  mmdebstrap: 'mmdebstrap',
  unshare: 'util-linux',
  // ELF tools the tests compare kelp's output with
  as: 'binutils',
  ld: 'binutils',
  nm: 'binutils',
  objcopy: 'binutils',
  objdump: 'binutils',
  readelf: 'binutils',
  ar: 'binutils',
  'c++filt': 'binutils',
  modinfo: 'kmod',
  cpio: 'cpio',
  // shells kelpctl runs under, and what the tests check it with
  sh: 'dash',
  dash: 'dash',
  bash: 'bash',
  shellcheck: 'shellcheck',
  'systemd-analyze': 'systemd',
  setpriv: 'util-linux',
  flock: 'util-linux',
  // the kelpctl Debian package (packaging/deb/build.sh) and its check
  help2man: 'help2man',
  lintian: 'lintian',
  // patches and trees
  diff: 'diffutils',
  patch: 'patch',
  git: 'git',
  // the base system's programs that scripts and tests use (on every Debian machine)
  awk: 'mawk',
  sed: 'sed',
  grep: 'grep',
  find: 'findutils',
  xargs: 'findutils',
  mount: 'mount',
  umount: 'mount',
  ...Object.fromEntries([
    'cat', 'chmod', 'chroot', 'cp', 'date', 'dd', 'dirname', 'du', 'env', 'head', 'id', 'mkdir', 'mktemp', 'mv', 'od',
    'readlink', 'rm', 'rmdir', 'sha1sum', 'sha256sum', 'sleep', 'sort', 'sync', 'tail', 'tee', 'tr', 'uname', 'wc',
  ].map((t) => [t, 'coreutils'])),
  // tools/fresh-root-check.sh, on the checking host (and kelp's build roots, above)
  // the runtime itself (copied onto a fresh machine, not an apt prerequisite)
  node: 'nodejs',
  npm: 'nodejs',
  // benchmarks
  '/usr/bin/time': 'time',
};

/** Packages `kelp target run` needs on the host. */
export const RUN_PACKAGES: readonly string[] = ['qemu-system-x86', 'busybox-static'];

/** Packages that decompress a target's files: Debian 6.12's modules (.ko.xz), bzImage payloads (xz on 6.1, zstd on 6.12). */
export const DECOMPRESS_PACKAGES: readonly string[] = ['xz-utils', 'zstd'];

/** Packages `kelp target fetch` needs (download and unpack), and what reading the fetched files needs. */
export const FETCH_PACKAGES: readonly string[] = ['apt', 'dpkg', ...DECOMPRESS_PACKAGES];

/** Packages needed to build out-of-tree modules against the fetched headers. */
/** (pahole: 6.12's kbuild writes BTF into every module it links with it.) */
export const KBUILD_PACKAGES: readonly string[] = ['make', 'gcc-12', 'libc6-dev', 'libelf1', 'libssl3', 'pahole'];

/** Packages needed by `kelp target fetch --source` (make prepare of the kernel tree). */
export const SOURCE_PACKAGES: readonly string[] = [
  ...KBUILD_PACKAGES, 'bc', 'flex', 'bison', 'libelf-dev', 'libssl-dev', 'xz-utils', 'tar', 'openssl',
];

/** Packages for kernels built by a compiler the host lacks (trixie's gcc-14): kelp makes a build root of their release. */
export const BUILD_ROOT_PACKAGES: readonly string[] = ['mmdebstrap', 'util-linux', 'coreutils'];

/**
 * Packages whose programs the tests run themselves (compilers and binutils to
 * make and inspect objects, modinfo, cpio, the shells and checkers for
 * kelpctl, diff and git for patches). Installed once per test run by the jest
 * global setup, so every test file finds them.
 */
export const TEST_PACKAGES: readonly string[] = [
  'gcc', 'g++', 'libc6-dev', 'binutils', 'kmod', 'cpio', 'busybox-static', 'dash', 'bash',
  'shellcheck', 'systemd', 'util-linux', 'diffutils', 'patch', 'git', 'findutils', 'coreutils', 'grep',
  'dpkg', 'help2man', 'gzip', 'lintian',
];

/** Packages `npm run bench` needs beyond the tests' (GNU time for peak memory). */
export const BENCH_PACKAGES: readonly string[] = ['time', 'binutils'];
