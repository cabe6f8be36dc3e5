// A job of a container: Warden's rules over a process the runtime supervises.
// stdout + stderr together are capped at the job output limit: past it the
// job is killed, its status is 255, and only the first `limit` bytes are
// returned. With discard_output nothing is kept, so there is no cap.
import type { JobLog, JobProcess, Logger, OutputStream } from "./interfaces.js";

export const OVERFLOW_STATUS = 255;
export const OUTPUT_OVERFLOW_EVENT = "command exceeded maximum output";
// Output read (and sent as one StreamResponse) at a time. Per chunk the
// daemon pays a read, a decode, an encode and a write; 1 MiB chunks carry
// 50 MB in 50 of them (64 KiB ones took 800, and 0.8 s).
const STREAM_CHUNK = 1024 * 1024;
const STREAMS: readonly OutputStream[] = ["stdout", "stderr"];

export interface JobResult {
  exitStatus: number;
  stdout: Buffer;
  stderr: Buffer;
  overflowed: boolean;
}

export interface StreamChunk {
  name: OutputStream;
  data: Buffer;
}

export interface JobOptions {
  outputLimit: number;
  discardOutput: boolean;
  log?: JobLog;
  /** Forward to the log only what comes from now on (a job found again after a restart). */
  logFromNow?: boolean;
  logger: Logger;
}

export class Job {
  private exitStatus: number | undefined;
  private overflow = false;
  private collected: Promise<JobResult> | undefined;
  private readers = 0;
  private readersIdle: (() => void)[] = [];
  private checking = false;
  private recheck = false;
  private readonly unsubscribe: () => void;
  private readonly logOffsets: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  private readonly logPartial: Record<OutputStream, string> = { stdout: "", stderr: "" };
  private forwarding: Promise<void> = Promise.resolve();
  /** Resolves with the status clients see (255 after an overflow). */
  readonly finished: Promise<number>;

  constructor(
    readonly id: number,
    private readonly process: JobProcess,
    private readonly options: JobOptions,
  ) {
    if (options.log && options.logFromNow) {
      this.forwarding = process.outputSizes().then(
        (sizes) => {
          this.logOffsets.stdout = sizes.stdout;
          this.logOffsets.stderr = sizes.stderr;
        },
        () => {},
      );
    }
    this.unsubscribe = process.onOutput(() => this.onOutput());
    this.finished = process.exited.then(async (code) => {
      // Output written just before the exit may not have been looked at yet.
      await this.checkOutput();
      // After any forwarding still under way, or lines would go out twice.
      this.forwarding = this.forwarding.then(() => this.forwardLog(true));
      await this.forwarding;
      this.exitStatus = this.overflow ? OVERFLOW_STATUS : code;
      this.unsubscribe();
      return this.exitStatus;
    });
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  get overflowed(): boolean {
    return this.overflow;
  }

  private onOutput(): void {
    void this.checkOutput();
    if (this.options.log) this.forwarding = this.forwarding.then(() => this.forwardLog(false));
  }

  private async checkOutput(): Promise<void> {
    if (this.options.discardOutput || this.overflow) return;
    if (this.checking) {
      this.recheck = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.recheck = false;
        const sizes = await this.process.outputSizes();
        if (sizes.stdout + sizes.stderr > this.options.outputLimit) {
          this.overflow = true;
          this.options.logger.warn({ job: this.id, limit: this.options.outputLimit }, "job output limit exceeded");
          await this.process.kill();
          return;
        }
      } while (this.recheck);
    } catch (err) {
      this.options.logger.warn({ job: this.id, err: String(err) }, "cannot check job output");
    } finally {
      this.checking = false;
    }
  }

  // syslog gets whole lines; a last line without a newline goes at the end.
  private async forwardLog(final: boolean): Promise<void> {
    const log = this.options.log;
    if (!log || this.options.discardOutput) return;
    try {
      const sizes = await this.process.outputSizes();
      for (const name of STREAMS) {
        const limit = Math.min(sizes[name], this.logOffsets[name] + this.options.outputLimit);
        while (this.logOffsets[name] < limit) {
          const data = await this.process.read(name, this.logOffsets[name], Math.min(STREAM_CHUNK, limit - this.logOffsets[name]));
          if (data.length === 0) break;
          this.logOffsets[name] += data.length;
          const lines = (this.logPartial[name] + data.toString()).split("\n");
          this.logPartial[name] = lines.pop() ?? "";
          for (const line of lines) log.write(name, line);
        }
        if (final && this.logPartial[name]) {
          log.write(name, this.logPartial[name]);
          this.logPartial[name] = "";
        }
      }
    } catch (err) {
      this.options.logger.warn({ job: this.id, err: String(err) }, "cannot forward job output to syslog");
    }
    if (final) log.close();
  }

  /** The result for Link and Run: all of it once the job ended, read once for every caller. */
  result(): Promise<JobResult> {
    this.collected ??= this.withReader(async () => {
      const exitStatus = await this.finished;
      if (this.options.discardOutput) {
        return { exitStatus, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), overflowed: false };
      }
      const sizes = await this.process.outputSizes();
      const stdoutLength = Math.min(sizes.stdout, this.options.outputLimit);
      const stdout = await this.process.read("stdout", 0, stdoutLength);
      const stderr = await this.process.read("stderr", 0, Math.min(sizes.stderr, this.options.outputLimit - stdout.length));
      return { exitStatus, stdout, stderr, overflowed: this.overflow };
    });
    return this.collected;
  }

  /**
   * Output as it is produced, from the start, then the exit status. Several
   * streams may run at once; each sees everything.
   */
  async *stream(closed?: AbortSignal): AsyncGenerator<StreamChunk, number> {
    this.readers++;
    try {
      const offsets: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
      let sent = 0;
      for (;;) {
        const wake = this.nextChange(closed);
        const ended = !this.running;
        let progressed = false;
        if (!this.options.discardOutput) {
          const sizes = await this.process.outputSizes();
          for (const name of STREAMS) {
            while (offsets[name] < sizes[name] && sent < this.options.outputLimit) {
              const length = Math.min(STREAM_CHUNK, sizes[name] - offsets[name], this.options.outputLimit - sent);
              const data = await this.process.read(name, offsets[name], length);
              if (data.length === 0) break;
              offsets[name] += data.length;
              sent += data.length;
              progressed = true;
              yield { name, data };
            }
          }
        }
        if (ended && !progressed) break;
        if (!progressed) await wake.promise;
        wake.cancel();
        // The reader went away: end here, so the job is left for another Link or Stream.
        if (closed?.aborted) throw new DOMException("the client went away", "AbortError");
      }
      return await this.finished;
    } finally {
      this.releaseReader();
    }
  }

  // Resolves on the next output or on the end of the job.
  private nextChange(closed?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      const off = this.process.onOutput(() => {
        off();
        resolve();
      });
      void this.finished.then(() => resolve());
      const onAbort = () => resolve();
      closed?.addEventListener("abort", onAbort, { once: true });
      cancel = () => {
        off();
        closed?.removeEventListener("abort", onAbort);
        resolve();
      };
    });
    return { promise, cancel };
  }

  private async withReader<T>(fn: () => Promise<T>): Promise<T> {
    this.readers++;
    try {
      return await fn();
    } finally {
      this.releaseReader();
    }
  }

  private releaseReader(): void {
    this.readers--;
    if (this.readers === 0) for (const resolve of this.readersIdle.splice(0)) resolve();
  }

  /** Waits until no Link or Stream is reading the job's output. */
  idle(): Promise<void> {
    if (this.readers === 0) return Promise.resolve();
    return new Promise((resolve) => this.readersIdle.push(resolve));
  }

  kill(): Promise<void> {
    return this.process.kill();
  }

  async remove(): Promise<void> {
    this.unsubscribe();
    await this.process.remove();
  }
}
