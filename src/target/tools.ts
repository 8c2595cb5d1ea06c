/**
 * Finding host tools on PATH, failing with the Debian package to install.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { MissingToolError } from './errors.js';
import { TOOL_PACKAGES } from './packages.js';

/** The absolute path of an executable on PATH (plus the sbin directories), or undefined. */
export function which(tool: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  // apt-get and dpkg-deb live in /usr/bin, but a non-root PATH may lack the sbin directories.
  for (const extra of ['/usr/local/sbin', '/usr/sbin', '/sbin']) {
    if (!dirs.includes(extra)) dirs.push(extra);
  }
  for (const dir of dirs) {
    const candidate = join(dir, tool);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The path of a required tool; throws MissingToolError naming its Debian package. */
export function requireTool(tool: string): string {
  const found = which(tool);
  if (found === undefined) throw new MissingToolError(tool, TOOL_PACKAGES[tool] ?? tool);
  return found;
}

/** Checks several tools at once and reports the first missing one. */
export function requireTools(tools: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tools) out[t] = requireTool(t);
  return out;
}

/** True when this process runs as root (package installation and apt-get update need it). */
export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}
