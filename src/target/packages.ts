/**
 * Which Debian package provides each host tool the target uses, and the package
 * sets each part of the target needs (the test prerequisites install these).
 */

/** Host tool name -> the Debian package that installs it. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  'qemu-system-x86_64': 'qemu-system-x86',
  busybox: 'busybox-static',
  cpio: 'cpio',
  'dpkg-deb': 'dpkg',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  tar: 'tar',
  xz: 'xz-utils',
  make: 'make',
  'gcc-12': 'gcc-12',
  bc: 'bc',
  flex: 'flex',
  bison: 'bison',
  openssl: 'openssl',
  pahole: 'dwarves',
  mmdebstrap: 'mmdebstrap',
  chroot: 'coreutils',
  unshare: 'util-linux',
};

/** Packages `kelp target run` needs on the host. */
export const RUN_PACKAGES: readonly string[] = ['qemu-system-x86', 'busybox-static'];

/** Packages `kelp target fetch` needs (download and unpack). */
export const FETCH_PACKAGES: readonly string[] = ['apt', 'dpkg', 'debian-archive-keyring'];

/** Packages needed to build out-of-tree modules against the fetched headers. */
/** (dwarves: pahole, with which 6.12's kbuild writes BTF into every module it links.) */
export const KBUILD_PACKAGES: readonly string[] = ['make', 'gcc-12', 'libc6-dev', 'libelf1', 'libssl3', 'dwarves'];

/** Packages needed by `kelp target fetch --source` (make prepare of the kernel tree). */
export const SOURCE_PACKAGES: readonly string[] = [
  ...KBUILD_PACKAGES, 'bc', 'flex', 'bison', 'libelf-dev', 'libssl-dev', 'xz-utils', 'tar', 'openssl', 'python3',
];

/** Packages for kernels built by a compiler the host lacks (trixie's gcc-14): kelp makes a build root of their release. */
export const BUILD_ROOT_PACKAGES: readonly string[] = ['mmdebstrap', 'util-linux', 'coreutils', 'debian-archive-keyring'];
