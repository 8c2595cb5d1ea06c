/**
 * readelf -I: histograms of the bucket list lengths of the dynamic symbol
 * hash tables (DT_HASH, then DT_GNU_HASH), read where the dynamic section's
 * addresses map in the PT_LOAD segments.
 */
import type { DumpContext } from './context.js';
import { dynamicInfo, offsetFromVma } from './dynamic.js';
import { DT } from './dynamic-tags.js';
import { DumpUnsupportedError } from './names.js';
import { padEnd, padStart } from './format.js';

/** printf `%5.1f` of a non-negative double, rounding exact ties to even as glibc does. */
export function fixed1(x: number, width = 5): string {
  const exact = x.toFixed(60);
  const dot = exact.indexOf('.');
  const intPart = exact.slice(0, dot);
  const tenth = exact.charCodeAt(dot + 1) - 48;
  const rest = exact.slice(dot + 2);
  let digits = BigInt(intPart) * 10n + BigInt(tenth);
  const first = rest.charCodeAt(0) - 48;
  const tail = /[1-9]/.test(rest.slice(1));
  if (first > 5 || (first === 5 && (tail || tenth % 2 === 1))) digits += 1n;
  const s = `${digits / 10n}.${digits % 10n}`;
  return padStart(s, width);
}

/** The file offset of `size` bytes at `vma` (readelf checks `check` bytes against the segment). */
function fileRead(ctx: DumpContext, vma: bigint, size: number, check = size): number {
  const off = offsetFromVma(ctx, vma, BigInt(check));
  if (off === undefined || off + BigInt(size) > BigInt(ctx.elf.buf.length)) throw new DumpUnsupportedError(ctx.file, `a hash table address 0x${vma.toString(16)} outside the file`);
  ctx.need(Number(off), size);
  return Number(off);
}

function table(ctx: DumpContext, title: string, lengths: Uint32Array | number[], nsyms: number): void {
  const n = lengths.length;
  let max = 0;
  for (const l of lengths) if (l > max) max = l;
  const counts = new Array<number>(max + 1).fill(0);
  for (const l of lengths) counts[l]++;
  let out = `\n${title} (total of ${n} ${n === 1 ? 'bucket' : 'buckets'}):\n Length  Number     % of total  Coverage\n`;
  if (n > 0) {
    out += `      0  ${padEnd(String(counts[0]), 10)} (${fixed1((counts[0] * 100) / n)}%)\n`;
    let nzero = 0;
    for (let i = 1; i <= max; i++) {
      nzero += counts[i] * i;
      out += `${padStart(String(i), 7)}  ${padEnd(String(counts[i]), 10)} (${fixed1((counts[i] * 100) / n)}%)    ${fixed1((nzero * 100) / nsyms)}%\n`;
    }
  }
  ctx.out.w(out);
}

/** The SysV hash table (DT_HASH): each bucket's chain length. */
function sysvHistogram(ctx: DumpContext, vma: bigint): void {
  const buf = ctx.elf.buf;
  const head = fileRead(ctx, vma, 8, 16);
  const nbuckets = buf.readUInt32LE(head);
  const nchains = buf.readUInt32LE(head + 4);
  if (nbuckets === 0 || nchains === 0) return;
  if ((nbuckets + nchains) * 4 + 8 > buf.length - head) throw new DumpUnsupportedError(ctx.file, 'a DT_HASH table past the end of the file');
  ctx.need(head, 8 + (nbuckets + nchains) * 4);
  const buckets = head + 8;
  const chains = buckets + nbuckets * 4;
  const lengths = new Uint32Array(nbuckets);
  const visited = new Uint8Array(nchains);
  let nsyms = 0;
  for (let hn = 0; hn < nbuckets; hn++) {
    for (let si = buf.readUInt32LE(buckets + hn * 4); si > 0; si = buf.readUInt32LE(chains + si * 4)) {
      nsyms++;
      lengths[hn]++;
      if (si >= nchains || visited[si]) throw new DumpUnsupportedError(ctx.file, 'a corrupt hash chain');
      visited[si] = 1;
    }
  }
  table(ctx, 'Histogram for bucket list length', lengths, nsyms);
}

/** The GNU hash table (DT_GNU_HASH): each bucket's chain up to the entry with bit 0 set. */
function gnuHistogram(ctx: DumpContext, vma: bigint): void {
  const buf = ctx.elf.buf;
  const head = fileRead(ctx, vma, 16);
  const nbuckets = buf.readUInt32LE(head);
  const symidx = buf.readUInt32LE(head + 4);
  const maskwords = buf.readUInt32LE(head + 8);
  const bucketsVma = vma + 16n + BigInt(maskwords) * 8n;
  const buckets = fileRead(ctx, bucketsVma, 4);
  if (nbuckets * 4 > buf.length - buckets) throw new DumpUnsupportedError(ctx.file, 'a DT_GNU_HASH table past the end of the file');
  ctx.need(buckets, nbuckets * 4);
  let maxchain = -1;
  for (let i = 0; i < nbuckets; i++) {
    const b = buf.readUInt32LE(buckets + i * 4);
    if (b === 0) continue;
    if (b < symidx) return;
    if (b > maxchain) maxchain = b;
  }
  if (maxchain < 0) return;
  maxchain -= symidx;
  // The last chain runs to its entry with bit 0 set.
  const chainsVma = bucketsVma + BigInt(nbuckets) * 4n;
  let at = fileRead(ctx, chainsVma + BigInt(maxchain) * 4n, 4);
  for (;;) {
    if (at + 4 > buf.length) throw new DumpUnsupportedError(ctx.file, 'a DT_GNU_HASH chain past the end of the file');
    ctx.need(at, 4);
    const v = buf.readUInt32LE(at);
    maxchain++;
    at += 4;
    if (v & 1) break;
  }
  const chains = fileRead(ctx, chainsVma, 4);
  if (maxchain * 4 > buf.length - chains) throw new DumpUnsupportedError(ctx.file, 'a DT_GNU_HASH chain past the end of the file');
  ctx.need(chains, maxchain * 4);
  const lengths = new Uint32Array(nbuckets);
  let nsyms = 0;
  for (let hn = 0; hn < nbuckets; hn++) {
    const b = buf.readUInt32LE(buckets + hn * 4);
    if (b === 0) continue;
    let length = 1;
    for (let off = b - symidx; off < maxchain && (buf.readUInt32LE(chains + off * 4) & 1) === 0; off++) length++;
    lengths[hn] = length;
    nsyms += length;
  }
  table(ctx, "Histogram for `.gnu.hash' bucket list length", lengths, nsyms);
}

export function printHistogram(ctx: DumpContext): void {
  const d = dynamicInfo(ctx);
  if (!d) return;
  if (ctx.elf.segments.length === 0) throw new DumpUnsupportedError(ctx.file, 'a hash table without program headers');
  const hash = d.last.get(DT.HASH);
  const gnu = d.last.get(DT.GNU_HASH);
  if (hash) sysvHistogram(ctx, hash);
  if (gnu) gnuHistogram(ctx, gnu);
}
