/**
 * Booting a bzImage's own vmlinux through its PVH entry point.
 *
 * Under software emulation the slowest part of a boot is the bzImage's
 * decompressor: Debian compresses 6.1 with xz and 6.12 with zstd, and
 * unpacking ~60 MiB of kernel in emulated code takes 15–50 s on this kind of
 * machine, while the kernel itself reaches the init in 5–10 s. A kernel built
 * with CONFIG_PVH (Debian's are) carries a Xen ELF note,
 * XEN_ELFNOTE_PHYS32_ENTRY, that QEMU's `-kernel` takes as the entry point of
 * an uncompressed vmlinux. So kelp unpacks the image's payload once (the very
 * bytes the decompressor would produce), keeps it in the cache keyed by the
 * image's sha256, and boots that: the same kernel text, data and tables. What
 * differs is only what the decompressor does: there is no KASLR (the kernel
 * runs at its link-time addresses).
 *
 * An image without the note, a payload kelp cannot read, or `bzImage: true`
 * boots the image as it is.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { cacheRoot } from './cache.js';
import { isBzImage, vmlinuxOfBzImage } from './kernel-image.js';

const PT_NOTE = 4;
/** Xen's ELF note type for the 32-bit PVH entry point (xen/include/public/elfnote.h). */
export const XEN_ELFNOTE_PHYS32_ENTRY = 18;

/** True when the ELF64 image `elf` has a PT_NOTE holding a "Xen" note of type XEN_ELFNOTE_PHYS32_ENTRY. */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32LE(0) !== 0x464c457f || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  if (phentsize < 56 || phoff + phnum * phentsize > elf.length) return false;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (elf.readUInt32LE(ph) !== PT_NOTE) continue;
    const off = Number(elf.readBigUInt64LE(ph + 8));
    const size = Number(elf.readBigUInt64LE(ph + 32));
    if (off + size > elf.length) continue;
    let p = off;
    while (p + 12 <= off + size) {
      const namesz = elf.readUInt32LE(p);
      const descsz = elf.readUInt32LE(p + 4);
      const type = elf.readUInt32LE(p + 8);
      const name = elf.toString('latin1', p + 12, p + 12 + Math.max(0, namesz - 1));
      if (name === 'Xen' && type === XEN_ELFNOTE_PHYS32_ENTRY && descsz >= 4) return true;
      p += 12 + align4(namesz) + align4(descsz);
    }
  }
  return false;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

export interface BootKernel {
  /** What qemu's -kernel gets. */
  file: string;
  /** True when `file` is the image's vmlinux booted through its PVH entry. */
  pvh: boolean;
}

/**
 * The file to boot for the bzImage `image`: its unpacked vmlinux (cached under
 * `<cache>/boot/`) when it has a PVH entry, else the image itself.
 */
export async function bootKernel(image: string, o: { bzImage?: boolean; cache?: string } = {}): Promise<BootKernel> {
  if (o.bzImage === true) return { file: image, pvh: false };
  let buf: Buffer;
  try {
    buf = await fs.readFile(image);
  } catch {
    return { file: image, pvh: false };
  }
  if (!isBzImage(buf)) return { file: image, pvh: false };
  const sha = createHash('sha256').update(buf).digest('hex');
  const dir = join(cacheRoot(o.cache), 'boot');
  const out = join(dir, `${sha}.vmlinux`);
  const none = join(dir, `${sha}.no-pvh`);
  try {
    await fs.access(out);
    return { file: out, pvh: true };
  } catch {
    // not unpacked yet
  }
  try {
    await fs.access(none);
    return { file: image, pvh: false };
  } catch {
    // not looked at yet
  }
  let elf: Buffer;
  try {
    elf = vmlinuxOfBzImage(buf, image);
  } catch {
    return { file: image, pvh: false };
  }
  await fs.mkdir(dir, { recursive: true });
  if (!hasPvhEntry(elf)) {
    await writeFileAtomic(none, '');
    return { file: image, pvh: false };
  }
  await writeFileAtomic(out, elf);
  return { file: out, pvh: true };
}
