/** The diff objects kelp link's tests link, built from test/fixtures/link with the target's kbuild. */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { makeDiffObject } from './fake-diff.js';
import { buildObjects } from './kbuild-objects.js';

/** fs/proc/cmdline.c's cmdline_proc_show, reading vmlinux's non-exported saved_command_line; two kpatch-macros callbacks. */
export async function cmdlineDiff(dir: string, kdir: string): Promise<string> {
  const build = join(dir, 'cmdline-build');
  const [o] = await buildObjects('test/fixtures/link/cmdline', build, kdir, ['cmdline.o']);
  const { bytes } = makeDiffObject(await fs.readFile(o), o, {
    target: 'vmlinux',
    functions: [{ name: 'cmdline_proc_show', oldName: 'cmdline_proc_show', sympos: 0 }],
    klp: { saved_command_line: { object: 'vmlinux', sympos: 0 } },
  });
  const out = join(dir, 'cmdline-diff.o');
  await fs.writeFile(out, bytes);
  return out;
}

/**
 * kelp_target_mod's kelp_target_show: the module's static counter (sympos 0),
 * its second static helper() (sympos 2), and vmlinux's saved_command_line.
 */
export async function moduleDiff(dir: string, kdir: string): Promise<string> {
  const build = join(dir, 'mod-patch-build');
  const [o] = await buildObjects('test/fixtures/link/mod-patch', build, kdir, ['patch.o']);
  const { bytes } = makeDiffObject(await fs.readFile(o), o, {
    target: 'kelp_target_mod',
    functions: [{ name: 'kelp_target_show', oldName: 'kelp_target_show', sympos: 0 }],
    klp: {
      counter: { object: 'kelp_target_mod', sympos: 0 },
      helper: { object: 'kelp_target_mod', sympos: 2 },
      saved_command_line: { object: 'vmlinux', sympos: 0 },
    },
  });
  const out = join(dir, 'mod-diff.o');
  await fs.writeFile(out, bytes);
  return out;
}
