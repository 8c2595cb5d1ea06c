/**
 * The Debian suites kelp looks for kernels in, and where each one lives. One
 * row per suite; `codename` is the release a build root of that suite is made
 * from (bookworm-security kernels build with bookworm's compiler).
 */

export interface Suite {
  /** The suite as apt names it (Suites: in a sources file). */
  name: string;
  /** The Debian release the suite belongs to. */
  codename: string;
  uri: string;
}

export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';
export const DEBIAN_SECURITY = 'http://deb.debian.org/debian-security';

/** In preference order: a kernel in several suites is reported in the first. */
export const SUITES: readonly Suite[] = [
  { name: 'bookworm', codename: 'bookworm', uri: DEBIAN_MIRROR },
  { name: 'bookworm-security', codename: 'bookworm', uri: DEBIAN_SECURITY },
  { name: 'bookworm-backports', codename: 'bookworm', uri: DEBIAN_MIRROR },
  { name: 'trixie', codename: 'trixie', uri: DEBIAN_MIRROR },
  { name: 'trixie-security', codename: 'trixie', uri: DEBIAN_SECURITY },
];

/** The keyring every suite's Release file must be signed with (package debian-archive-keyring). */
export const ARCHIVE_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** The suite the default target (no --release) comes from, as before: bookworm's own kernel. */
export const DEFAULT_CODENAME = 'bookworm';

export function suiteByName(name: string): Suite | undefined {
  return SUITES.find((s) => s.name === name);
}

/** The deb822 sources file for all suites, every one Signed-By the archive keyring. */
export function sourcesFile(keyring = ARCHIVE_KEYRING): string {
  const byUri = new Map<string, string[]>();
  for (const s of SUITES) byUri.set(s.uri, [...(byUri.get(s.uri) ?? []), s.name]);
  return [...byUri].map(([uri, suites]) => [
    'Types: deb',
    `URIs: ${uri}`,
    `Suites: ${suites.join(' ')}`,
    'Components: main',
    'Architectures: amd64',
    `Signed-By: ${keyring}`,
    '',
  ].join('\n')).join('\n');
}
