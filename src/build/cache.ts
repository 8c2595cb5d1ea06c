/**
 * The cache of original objects: `${cache}/objects/<key>/`, where the key is a
 * hash of the object's path, its source file's content, the kernel config,
 * the compiler's version and the flags. Each entry also records the content
 * hash of every dependency kbuild listed when it was built, and a lookup is a
 * hit only when they all still match, so a changed header is never missed.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface ObjectKeyInput {
  /** The object's path relative to the tree (or module directory). */
  object: string;
  source: string | Buffer;
  config: string | Buffer;
  compilerVersion: string;
  flags: string;
}

/** The cache key of an original object. */
export function objectCacheKey(k: ObjectKeyInput): string {
  const h = createHash('sha256');
  const part = (label: string, v: string | Buffer) => {
    const b = typeof v === 'string' ? Buffer.from(v) : v;
    h.update(`${label}:${b.length}:`);
    h.update(b);
  };
  part('object', k.object);
  part('source', k.source);
  part('config', k.config);
  part('compiler', k.compilerVersion);
  part('flags', k.flags);
  return h.digest('hex').slice(0, 40);
}

/** `<cc> --version`'s first line (memoised); the compiler kbuild would use. */
const versions = new Map<string, string>();
export function compilerVersion(cc: string): string {
  let v = versions.get(cc);
  if (v === undefined) {
    const r = spawnSync(cc, ['--version'], { encoding: 'utf8' });
    v = r.status === 0 ? (r.stdout.split('\n')[0] ?? '').trim() : `unknown ${cc}`;
    versions.set(cc, v);
  }
  return v;
}

function sha1(buf: Buffer): string {
  return createHash('sha1').update(buf).digest('hex');
}

interface EntryMeta { object: string; deps: Record<string, string | null> }

export class ObjectCache {
  constructor(readonly dir: string) {}

  private entry(key: string): string {
    return join(this.dir, key.slice(0, 2), key);
  }

  /** The cached object for `key`, when every recorded dependency still has the same content in `tree`. */
  async lookup(key: string, tree: string): Promise<string | undefined> {
    const dir = this.entry(key);
    const obj = join(dir, 'object.o');
    let meta: EntryMeta;
    try {
      meta = JSON.parse(await fs.readFile(join(dir, 'meta.json'), 'utf8')) as EntryMeta;
    } catch {
      return undefined;
    }
    if (!existsSync(obj)) return undefined;
    for (const [dep, hash] of Object.entries(meta.deps)) {
      const abs = resolve(tree, dep);
      let now: string | null = null;
      try {
        now = sha1(await fs.readFile(abs));
      } catch {
        now = null;
      }
      if (now !== hash) return undefined;
    }
    return obj;
  }

  /** Stores `objectFile` under `key` with the content hashes of `deps` (paths relative to `tree` or absolute). */
  async store(key: string, objectFile: string, tree: string, object: string, deps: string[]): Promise<void> {
    const dir = this.entry(key);
    const tmp = `${dir}.${process.pid}.tmp`;
    await fs.rm(tmp, { recursive: true, force: true });
    await fs.mkdir(tmp, { recursive: true });
    const hashes: Record<string, string | null> = {};
    for (const d of deps) {
      try {
        hashes[d] = sha1(readFileSync(resolve(tree, d)));
      } catch {
        hashes[d] = null;
      }
    }
    await fs.copyFile(objectFile, join(tmp, 'object.o'));
    await fs.writeFile(join(tmp, 'meta.json'), `${JSON.stringify({ object, deps: hashes } satisfies EntryMeta)}\n`);
    await fs.rm(dir, { recursive: true, force: true });
    try {
      await fs.rename(tmp, dir);
    } catch {
      // Another kelp stored the same key meanwhile.
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }
}
