/**
 * A kernel tree's configuration: `.config` (or, in a headers-only kdir,
 * include/generated/autoconf.h), and the one requirement kelp has of it,
 * CONFIG_LIVEPATCH.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KelpError } from '../errors.js';

/** The value of CONFIG_<name> in a .config text (undefined when unset). */
export function configValue(config: string, name: string): string | undefined {
  const m = new RegExp(`^CONFIG_${name}=(.*)$`, 'm').exec(config);
  return m ? m[1] : undefined;
}

/** Reads a kernel .config, refusing one without livepatch support. */
export function requireLivepatchConfig(configFile: string): string {
  if (!existsSync(configFile)) throw new KelpError('no kernel configuration (.config); configure the tree first', configFile);
  const config = readFileSync(configFile, 'latin1');
  if (configValue(config, 'LIVEPATCH') !== 'y') {
    throw new KelpError('CONFIG_LIVEPATCH is not set: this kernel cannot load livepatch modules', configFile);
  }
  return config;
}

/** Reads `.config` or `include/generated/autoconf.h` of a kdir. */
export function readKernelConfig(kdir: string): Map<string, string> | undefined {
  const out = new Map<string, string>();
  const dotConfig = join(kdir, '.config');
  const autoconf = join(kdir, 'include', 'generated', 'autoconf.h');
  if (existsSync(dotConfig)) {
    for (const line of readFileSync(dotConfig, 'latin1').split('\n')) {
      const m = /^(CONFIG_\w+)=(.*)$/.exec(line);
      if (m) out.set(m[1], m[2].replace(/^"(.*)"$/, '$1'));
    }
    return out;
  }
  if (existsSync(autoconf)) {
    for (const line of readFileSync(autoconf, 'latin1').split('\n')) {
      const m = /^#define (CONFIG_\w+) (.*)$/.exec(line);
      if (!m) continue;
      const name = m[1].replace(/_MODULE$/, '');
      out.set(name, m[2] === '1' ? (m[1].endsWith('_MODULE') ? 'm' : 'y') : m[2].replace(/^"(.*)"$/, '$1'));
    }
    return out;
  }
  return undefined;
}
