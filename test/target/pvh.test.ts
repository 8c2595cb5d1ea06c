/**
 * Booting a bzImage's vmlinux through its PVH entry (src/target/pvh.ts): the
 * Xen PHYS32_ENTRY note is found in Debian's real kernel, not in an object
 * without it; the unpacked vmlinux is the image's own payload, cached by the
 * image's hash; an image whose payload kelp cannot unpack boots as it is.
 */
import { promises as fs, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootKernel, hasPvhEntry } from '../../src/target/pvh.js';
import { readKernelElf } from '../../src/target/kernel-image.js';
import { ensureDebianPackages, skipUnlessReady, type PrereqStatus } from '../support/prereq.js';
import { getTarget, targetPackages, type TargetInfo } from '../support/target.js';
import { makeTmpDir } from '../support/tmp.js';
import { compileC } from '../support/tools.js';

let pre: PrereqStatus | undefined;
let target: TargetInfo;

beforeAll(async () => {
  pre = await ensureDebianPackages(targetPackages());
  if (!pre.ok) return;
  target = await getTarget();
}, 900_000);

test('Debian\'s kernel has the PVH entry note; the unpacked vmlinux is the image\'s payload, cached by hash', async () => {
  if (skipUnlessReady(pre)) return;
  const tmp = makeTmpDir('pvh');
  try {
    const cache = join(tmp.dir, 'cache');
    const first = await bootKernel(target.kernel, { cache });
    expect(first.pvh).toBe(true);
    expect(first.file.startsWith(join(cache, 'boot'))).toBe(true);
    const elf = readFileSync(first.file);
    expect(hasPvhEntry(elf)).toBe(true);
    expect(elf.equals(readKernelElf(target.kernel))).toBe(true);
    // A second call reuses the cached file.
    const mtime = (await fs.stat(first.file)).mtimeMs;
    const second = await bootKernel(target.kernel, { cache });
    expect(second).toEqual(first);
    expect((await fs.stat(second.file)).mtimeMs).toBe(mtime);
    // --bzimage (and KVM) keep the image.
    expect(await bootKernel(target.kernel, { cache, bzImage: true })).toEqual({ file: target.kernel, pvh: false });
  } finally {
    tmp.cleanup();
  }
}, 120_000);

test('an ELF without the note is no PVH kernel; an image with a damaged payload boots as it is', async () => {
  if (skipUnlessReady(pre)) return;
  const tmp = makeTmpDir('pvh-no');
  try {
    const obj = join(tmp.dir, 'a.o');
    compileC('int f(void) { return 1; }\n', obj, ['-O2'], tmp.dir);
    expect(hasPvhEntry(readFileSync(obj))).toBe(false);
    expect(hasPvhEntry(Buffer.alloc(10))).toBe(false);
    const image = await fs.readFile(target.kernel);
    image.fill(0, 3_000_000, 3_000_000 + 65536);
    const broken = join(tmp.dir, 'vmlinuz-broken');
    await fs.writeFile(broken, image);
    expect(await bootKernel(broken, { cache: join(tmp.dir, 'cache') })).toEqual({ file: broken, pvh: false });
    // Not a bzImage at all: left to the boot checks.
    expect(await bootKernel(obj, { cache: join(tmp.dir, 'cache') })).toEqual({ file: obj, pvh: false });
  } finally {
    tmp.cleanup();
  }
}, 120_000);
