// A process of a container: its output kept by policy, read by any number
// of attached clients, forwarded to the process log; its end, exactly.
//
// Output policies: "kill" caps stdout + stderr together and kills the
// process past the cap (Warden's jobs: what came before is kept);
// "keep-recent" keeps the last `limit` bytes of each stream, freeing the
// disk space of older ones, and the process runs on; "discard" keeps none.
import type { Logger } from "../interfaces/logger.js";
import type { OutputStream, ProcessLog } from "../interfaces/process-log.js";
import type { ProcessExit, ProcessHandle, Signal, WindowSize } from "../interfaces/runtime.js";
import type { OutputPolicy } from "./spec.js";

export interface ProcessResult {
  exit: ProcessExit;
  /** Killed for passing its output limit (policy "kill"). */
  outputExceeded: boolean;
}

export interface CollectedOutput {
  result: ProcessResult;
  stdout: Buffer;
  stderr: Buffer;
}

export interface OutputChunk {
  stream: OutputStream;
  data: Buffer;
}

export interface ProcessOptions {
  output: OutputPolicy;
  log?: ProcessLog;
  /** Forward to the log only what comes from now on (a process found again after a restart). */
  logFromNow?: boolean;
  logger: Logger;
  forgetWhenCollected?: boolean;
  /** Whether its standard input is a stream clients write. */
  stdinStream?: boolean;
  /** How often at most the output's sizes are looked at (the kill and keep-recent policies); default 20 ms. */
  checkIntervalMs?: number;
}

// Output read (and handed to a client) at a time. Per chunk a client pays a
// read, an encode and a write; 1 MiB chunks carry 50 MB in 50 of them.
const CHUNK = 1024 * 1024;
const CHECK_INTERVAL_MS = 20;
const STREAMS: readonly OutputStream[] = ["stdout", "stderr"];

export class Process {
  private ended: ProcessResult | undefined;
  private overflow = false;
  private collected: Promise<CollectedOutput> | undefined;
  private readers = 0;
  private readersIdle: (() => void)[] = [];
  private checking = false;
  private recheck = false;
  private checkTimer: NodeJS.Timeout | undefined;
  private lastCheck = 0;
  private readonly unsubscribe: () => void;
  /** The first offset of each stream still kept. */
  private readonly kept: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  private readonly logOffsets: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  private readonly logPartial: Record<OutputStream, string> = { stdout: "", stderr: "" };
  private forwarding: Promise<void> = Promise.resolve();
  readonly finished: Promise<ProcessResult>;

  constructor(
    readonly id: string,
    /** The number naming its files. */
    readonly seq: number,
    private readonly handle: ProcessHandle,
    private readonly options: ProcessOptions,
  ) {
    if (options.log && options.logFromNow) {
      this.forwarding = handle.outputSizes().then(
        (sizes) => {
          this.logOffsets.stdout = sizes.stdout;
          this.logOffsets.stderr = sizes.stderr;
        },
        () => {},
      );
    }
    this.unsubscribe = handle.onOutput(() => this.onOutput());
    this.finished = handle.exited.then(async (exit) => {
      // Output written just before the end may not have been looked at yet.
      await this.checkOutput();
      // After any forwarding still under way, or lines would go out twice.
      this.forwarding = this.forwarding.then(() => this.forwardLog(true));
      await this.forwarding;
      this.ended = { exit, outputExceeded: this.overflow };
      this.unsubscribe();
      return this.ended;
    });
  }

  get running(): boolean {
    return this.ended === undefined;
  }

  get forgetWhenCollected(): boolean {
    return this.options.forgetWhenCollected ?? false;
  }

  get hasStdinStream(): boolean {
    return this.options.stdinStream ?? false;
  }

  private get keepsOutput(): boolean {
    return this.options.output.kind !== "discard";
  }

  private onOutput(): void {
    this.scheduleCheck();
    if (this.options.log) this.forwarding = this.forwarding.then(() => this.forwardLog(false));
  }

  // Output arrives as a stream of notifications: the sizes are looked at
  // every CHECK_INTERVAL_MS at most, not once per write.
  private scheduleCheck(): void {
    if (this.checkTimer) return;
    const wait = this.lastCheck + (this.options.checkIntervalMs ?? CHECK_INTERVAL_MS) - Date.now();
    if (wait <= 0) {
      this.lastCheck = Date.now();
      void this.checkOutput();
      return;
    }
    this.checkTimer = setTimeout(() => {
      this.checkTimer = undefined;
      this.lastCheck = Date.now();
      void this.checkOutput();
    }, wait);
    this.checkTimer.unref();
  }

  private async checkOutput(): Promise<void> {
    const policy = this.options.output;
    if (policy.kind === "discard" || this.overflow) return;
    if (this.checking) {
      this.recheck = true;
      return;
    }
    this.checking = true;
    try {
      do {
        this.recheck = false;
        const sizes = await this.handle.outputSizes();
        if (policy.kind === "kill") {
          if (sizes.stdout + sizes.stderr > policy.limit) {
            this.overflow = true;
            this.options.logger.warn({ process: this.id, limit: policy.limit }, "process output limit exceeded; killing it");
            await this.handle.kill();
            return;
          }
        } else {
          for (const name of STREAMS) await this.trim(name, sizes[name], policy.limit);
        }
      } while (this.recheck);
    } catch (err) {
      this.options.logger.warn({ process: this.id, err: String(err) }, "cannot check process output");
    } finally {
      this.checking = false;
    }
  }

  // Older bytes go once a stream holds twice the limit, so the disk is freed in large steps.
  private async trim(name: OutputStream, size: number, limit: number): Promise<void> {
    if (size - this.kept[name] <= 2 * limit) return;
    // Moved first: a read that overlaps the freed range is thrown away by its reader.
    this.kept[name] = size - limit;
    await this.handle.discardBefore(name, this.kept[name]);
  }

  // syslog gets whole lines; a last line without a newline goes at the end.
  private async forwardLog(final: boolean): Promise<void> {
    const log = this.options.log;
    if (!log || !this.keepsOutput) return;
    const cap = this.options.output.kind === "kill" ? this.options.output.limit : Infinity;
    try {
      const sizes = await this.handle.outputSizes();
      for (const name of STREAMS) {
        if (this.logOffsets[name] < this.kept[name]) this.logOffsets[name] = this.kept[name];
        const limit = Math.min(sizes[name], this.logOffsets[name] + cap);
        while (this.logOffsets[name] < limit) {
          const data = await this.handle.read(name, this.logOffsets[name], Math.min(CHUNK, limit - this.logOffsets[name]));
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
      this.options.logger.warn({ process: this.id, err: String(err) }, "cannot forward process output to the log");
    }
    if (final) log.close();
  }

  /** Waits for the end; all kept output with it, read once for every caller. */
  collect(): Promise<CollectedOutput> {
    this.collected ??= this.withReader(async () => {
      const result = await this.finished;
      const policy = this.options.output;
      if (policy.kind === "discard") return { result, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
      const sizes = await this.handle.outputSizes();
      if (policy.kind === "kill") {
        const stdout = await this.handle.read("stdout", 0, Math.min(sizes.stdout, policy.limit));
        const stderr = await this.handle.read("stderr", 0, Math.min(sizes.stderr, policy.limit - stdout.length));
        return { result, stdout, stderr };
      }
      const read = (name: OutputStream) => this.handle.read(name, this.kept[name], sizes[name] - this.kept[name]);
      return { result, stdout: await read("stdout"), stderr: await read("stderr") };
    });
    return this.collected;
  }

  /**
   * The kept output, then output as it is produced, then the end. Any number
   * of clients may attach at once; each sees all of it. `closed` ends the
   * wait when the client goes away (AbortError). `fromNow`: only output
   * produced after the call (a terminal's attach, not a replay).
   */
  async *attach(closed?: AbortSignal, fromNow = false): AsyncGenerator<OutputChunk, ProcessResult> {
    this.readers++;
    try {
      const offsets: Record<OutputStream, number> = fromNow && this.keepsOutput ? await this.handle.outputSizes() : { ...this.kept };
      const cap = this.options.output.kind === "kill" ? this.options.output.limit : Infinity;
      let sent = 0;
      for (;;) {
        const wake = this.nextChange(closed);
        const ended = !this.running;
        let progressed = false;
        if (this.keepsOutput) {
          // Read to the end of what is there (a short read says so): no size asked first.
          for (const name of STREAMS) {
            while (sent < cap) {
              if (offsets[name] < this.kept[name]) offsets[name] = this.kept[name];
              const from = offsets[name];
              const length = Math.min(CHUNK, cap - sent);
              const data = await this.handle.read(name, from, length);
              if (data.length === 0) break;
              // The bytes were freed while being read: start again from what is kept.
              if (from < this.kept[name]) continue;
              offsets[name] = from + data.length;
              sent += data.length;
              progressed = true;
              yield { stream: name, data };
              if (data.length < length) break;
            }
          }
        }
        if (ended && !progressed) break;
        if (!progressed) await wake.promise;
        wake.cancel();
        if (closed?.aborted) throw new DOMException("the client went away", "AbortError");
      }
      return await this.finished;
    } finally {
      this.releaseReader();
    }
  }

  // Resolves on the next output, the end of the process, or the client's leaving.
  private nextChange(closed?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    let cancel = () => {};
    const promise = new Promise<void>((resolve) => {
      const off = this.handle.onOutput(() => {
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

  /** Waits until no client is reading the process's output. */
  idle(): Promise<void> {
    if (this.readers === 0) return Promise.resolve();
    return new Promise((resolve) => this.readersIdle.push(resolve));
  }

  writeStdin(data: Buffer): Promise<void> {
    return this.handle.writeStdin(data);
  }

  closeStdin(): Promise<void> {
    return this.handle.closeStdin();
  }

  signal(signal: Signal): Promise<void> {
    return this.handle.signal(signal);
  }

  resize(size: WindowSize): Promise<void> {
    return this.handle.resize(size);
  }

  reopenLog(): Promise<void> {
    return this.handle.reopenLog();
  }

  kill(): Promise<void> {
    return this.handle.kill();
  }

  async remove(): Promise<void> {
    this.unsubscribe();
    await this.handle.remove();
  }

  /** Stops watching; the process and its files stay (the daemon is going away). */
  detach(): void {
    this.unsubscribe();
    this.handle.detach();
  }
}
