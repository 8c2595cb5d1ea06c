/**
 * Progress of `kelp build`: each phase with its elapsed time. On a terminal,
 * one line redrawn in place with a bar over the phases; otherwise (a pipe, a
 * file, CI) plain lines, one when a phase starts and one when it ends.
 */
export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
}

export class Progress {
  private phaseStart = 0;
  private current: string | null = null;
  private index = 0;
  private detail = '';
  private timer: NodeJS.Timeout | null = null;
  private readonly tty: boolean;
  readonly timings: Record<string, number> = {};

  constructor(private readonly phases: readonly string[], private readonly out: ProgressSink, private readonly quiet = false) {
    const ci = (process.env.CI ?? '').toLowerCase();
    this.tty = out.isTTY === true && (ci === '' || ci === '0' || ci === 'false');
  }

  /** Starts `phase` (ending the current one). */
  phase(name: string, detail = ''): void {
    this.end();
    this.current = name;
    this.index = Math.max(0, this.phases.indexOf(name));
    this.detail = detail;
    this.phaseStart = Date.now();
    if (this.quiet) return;
    if (this.tty) {
      this.draw();
      this.timer = setInterval(() => this.draw(), 200);
      this.timer.unref();
    } else {
      this.out.write(`kelp: ${name}${detail ? `: ${detail}` : ''}\n`);
    }
  }

  /** Updates the current phase's detail (e.g. "3/5 objects"). */
  note(detail: string): void {
    this.detail = detail;
    if (!this.quiet && this.tty) this.draw();
  }

  /** A line that must stay visible (a warning, a cache note); `always` prints it under --quiet too. */
  say(line: string, always = false): void {
    if (this.quiet && !always) return;
    const tty = this.tty && !this.quiet;
    if (tty) this.out.write('\r\x1b[K');
    this.out.write(`kelp: ${line}\n`);
    if (tty && this.current !== null) this.draw();
  }

  /** Ends the current phase and records its time. */
  end(): void {
    if (this.current === null) return;
    const secs = (Date.now() - this.phaseStart) / 1000;
    this.timings[this.current] = Math.round(((this.timings[this.current] ?? 0) + secs) * 100) / 100;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    if (!this.quiet) {
      if (this.tty) this.out.write('\r\x1b[K');
      this.out.write(`kelp: ${this.current} done in ${secs.toFixed(1)} s${this.detail ? ` (${this.detail})` : ''}\n`);
    }
    this.current = null;
  }

  private draw(): void {
    if (this.current === null) return;
    const width = 20;
    const filled = Math.round((this.index / Math.max(1, this.phases.length)) * width);
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
    const secs = ((Date.now() - this.phaseStart) / 1000).toFixed(1);
    this.out.write(`\r\x1b[K[${bar}] ${this.index + 1}/${this.phases.length} ${this.current} ${secs} s${this.detail ? ` ${this.detail}` : ''}`);
  }
}
