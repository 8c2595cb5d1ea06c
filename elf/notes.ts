/** ELF notes: namesz, descsz, type, then the name and descriptor, each padded to the note alignment. */
import { ElfFormatError } from './errors.js';

export interface Note {
  /** The name without its terminating NUL (latin1). */
  readonly name: string;
  readonly namesz: number;
  readonly type: number;
  readonly desc: Buffer;
  /** File offset of the note's header. */
  readonly offset: number;
}

/** Reads every note in `data`; `base` is its file offset, for messages. Alignment 8 is honoured, anything else means 4. */
export function readNotes(data: Buffer, file: string, what: string, base: number, align: number): Note[] {
  const a = align === 8 ? 8 : 4;
  const pad = (n: number) => (n + a - 1) & ~(a - 1);
  const notes: Note[] = [];
  let o = 0;
  while (o < data.length) {
    if (data.length - o < 12) throw new ElfFormatError(file, what, 'note header is truncated', base + o);
    const namesz = data.readUInt32LE(o);
    const descsz = data.readUInt32LE(o + 4);
    const type = data.readUInt32LE(o + 8);
    const nameAt = o + 12;
    if (namesz > data.length - nameAt) throw new ElfFormatError(file, what, `note name size ${namesz} runs past the end`, base + o);
    const descAt = nameAt + pad(namesz);
    if (descAt > data.length || descsz > data.length - descAt) throw new ElfFormatError(file, what, `note descriptor size ${descsz} runs past the end`, base + o);
    let nameEnd = nameAt + namesz;
    if (namesz > 0 && data[nameEnd - 1] === 0) nameEnd--;
    notes.push({ name: data.toString('latin1', nameAt, nameEnd), namesz, type, desc: data.subarray(descAt, descAt + descsz), offset: base + o });
    o = descAt + pad(descsz);
  }
  return notes;
}
