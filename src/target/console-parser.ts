/**
 * Reads the serial console of a target run, line by line as it arrives, and
 * collects what the generated init reported on its `@@KELP:<nonce>:` lines.
 * Anything else on the console (firmware, kernel) is ignored here.
 */
import { OUTPUT_LIMIT } from './init-script.js';

export interface ModuleReport {
  exitCode: number;
  loaded: boolean;
  /** enabled file of the livepatch, or null when the module has no livepatch directory. */
  enabled: boolean | null;
  transition: boolean | null;
  output: string;
}

export interface CommandReport {
  exitCode: number;
  output: string;
}

export interface DisableReport {
  exitCode: number;
  /** enabled after the disable: null when the patch left sysfs (the normal end of a disable). */
  enabled: boolean | null;
  output: string;
}

/** A streaming parser of the console; feed it chunks, then read the fields. */
export class ConsoleParser {
  private readonly prefix: string;
  private pending = '';
  private readonly streams = new Map<string, number[]>();
  /** Guest uptime (s) when init started, and the host time (ms since start) it was seen. */
  bootUptime: number | undefined;
  bootSeenAt: number | undefined;
  readonly modules = new Map<number, ModuleReport>();
  readonly checks = { p: new Map<number, CommandReport>(), d: new Map<number, CommandReport>() };
  readonly disables = new Map<number, DisableReport>();
  readonly dmesg: string[] = [];
  taint: number | undefined;
  done = false;
  /** Index of the module being loaded when the console stopped, if any. */
  moduleInProgress: number | undefined;
  checkInProgress: { phase: 'p' | 'd'; index: number } | undefined;

  constructor(nonce: string, private readonly clock: () => number = () => 0) {
    this.prefix = `@@KELP:${nonce}:`;
  }

  /** Feeds console bytes (decoded as UTF-8 or latin1 by the caller). */
  push(text: string): void {
    this.pending += text;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.line(this.pending.slice(0, nl));
      this.pending = this.pending.slice(nl + 1);
    }
    // A console line never needs to be this long; drop it rather than grow.
    if (this.pending.length > 1 << 20) this.pending = '';
  }

  /** Ends the input: a last unterminated line is parsed too. */
  end(): void {
    if (this.pending !== '') this.line(this.pending);
    this.pending = '';
  }

  private bytes(stream: string): string {
    return Buffer.from(this.streams.get(stream) ?? []).toString('utf8');
  }

  private line(raw: string): void {
    const at = raw.indexOf(this.prefix);
    if (at < 0) return;
    const body = raw.slice(at + this.prefix.length).replace(/\r+$/, '');
    if (body.startsWith('X:')) {
      const colon = body.indexOf(':', 2);
      if (colon < 0) return;
      const name = body.slice(2, colon);
      let buf = this.streams.get(name);
      if (buf === undefined) this.streams.set(name, (buf = []));
      for (const h of body.slice(colon + 1).trim().split(/\s+/)) {
        if (/^[0-9a-f]{2}$/.test(h) && buf.length < OUTPUT_LIMIT) buf.push(Number.parseInt(h, 16));
      }
      return;
    }
    if (body.startsWith('K:')) {
      if (this.dmesg.length < 20000) this.dmesg.push(body.slice(2));
      return;
    }
    const f = body.split(' ');
    const num = (s: string | undefined) => (s !== undefined && /^-?\d+$/.test(s) ? Number(s) : NaN);
    const flag = (s: string | undefined) => (s === '1' ? true : s === '0' ? false : null);
    switch (f[0]) {
      case 'boot':
        this.bootUptime = Number.parseFloat(f[1] ?? '');
        this.bootSeenAt = this.clock();
        break;
      case 'mod': {
        const i = num(f[1]);
        if (f[2] === 'begin') this.moduleInProgress = i;
        else if (f[2] === 'end') {
          this.moduleInProgress = undefined;
          this.modules.set(i, {
            exitCode: num(f[3]), loaded: f[4] === '1', enabled: flag(f[5]), transition: flag(f[6]), output: this.bytes(`m${i}`),
          });
        }
        break;
      }
      case 'check': {
        const phase = f[1] === 'd' ? 'd' : 'p';
        const j = num(f[2]);
        if (f[3] === 'begin') this.checkInProgress = { phase, index: j };
        else if (f[3] === 'end') {
          this.checkInProgress = undefined;
          this.checks[phase].set(j, { exitCode: num(f[4]), output: this.bytes(`c${phase}${j}`) });
        }
        break;
      }
      case 'disable': {
        const k = num(f[1]);
        if (f[2] === 'end') this.disables.set(k, { exitCode: num(f[3]), enabled: flag(f[4]), output: this.bytes(`d${k}`) });
        break;
      }
      case 'taint':
        this.taint = num(f[1]);
        break;
      case 'done':
        this.done = true;
        break;
      default:
        break;
    }
  }
}
