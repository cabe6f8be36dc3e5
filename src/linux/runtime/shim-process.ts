// A process as its shim keeps it in its directory: `stdout` and `stderr`
// (raw bytes, written by the process itself), `pid`, `shim.pid`, and `exit`
// once it ended. Nothing here needs the daemon that started it, so a
// restarted daemon picks a process up from its directory alone. Standard
// input, signals and window sizes go to the shim over its ctl.sock.
import { fstatSync, watch, type FSWatcher } from "node:fs";
import { open, readFile, rm, stat, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { OutputStream } from "../../core/interfaces/process-log.js";
import { SIGNAL_NUMBERS, type ProcessExit, type ProcessHandle, type Signal, type WindowSize } from "../../core/interfaces/runtime.js";
import type { CommandRunner } from "../command.js";
import { isAlive, readPidFile } from "../process.js";
import { ShimControl, ShimGone } from "./shim-control.js";

const LIVENESS_POLL_MS = 1000;
const READERS_IDLE_MS = 1000;
const MAX_EXIT_FILE = 64 * 1024;
const REOPEN_WAIT_MS = 2000;
/** Disk space is freed in whole blocks. */
const PUNCH_ALIGN = 4096;

export type ShimOutcome = ProcessExit | { kind: "failed"; error: string };

/** How the process ended, as its shim recorded it; undefined while it runs. A record that cannot be read is a lost end. */
export async function readShimExit(dir: string): Promise<ShimOutcome | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, "exit"), "utf8");
  } catch {
    return undefined;
  }
  try {
    if (text.length > MAX_EXIT_FILE) throw new Error("too long");
    const v = JSON.parse(text) as { code?: unknown; signal?: unknown; error?: unknown };
    if (Number.isInteger(v.code)) return { kind: "exited", code: v.code as number };
    if (Number.isInteger(v.signal)) return { kind: "signaled", signal: v.signal as number };
    if (typeof v.error === "string") return { kind: "failed", error: v.error };
  } catch {
    // a torn or foreign file
  }
  return { kind: "lost" };
}

export interface ShimProcessOptions {
  dir: string;
  /** The output files; absent when output is discarded (nothing to read). */
  outputs: Record<OutputStream, string | undefined>;
  /** Kills a process and everything it started. */
  killTree: (pid: number) => Promise<void>;
  /** Its container log, when it has one (known to the daemon that started it). */
  logFile?: string;
  commands: CommandRunner;
}

export class ShimProcess implements ProcessHandle {
  readonly exited: Promise<ProcessExit>;
  private readonly listeners = new Set<() => void>();
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private notifyScheduled = false;
  private settle!: (exit: ProcessExit) => void;
  private done = false;
  private control: ShimControl | undefined;

  constructor(private readonly options: ShimProcessOptions) {
    this.exited = new Promise((resolve) => (this.settle = resolve));
    this.watcher = watch(options.dir, (_event, name) => {
      if (name === "exit") void this.checkExit();
      else if (name === "stdout" || name === "stderr") this.scheduleNotify();
    });
    this.watcher.on("error", () => this.stopWatching());
    this.poll = setInterval(() => void this.checkLiveness(), LIVENESS_POLL_MS);
    this.poll.unref();
    void this.checkExit();
  }

  private get dir(): string {
    return this.options.dir;
  }

  private scheduleNotify(): void {
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    setImmediate(() => {
      this.notifyScheduled = false;
      for (const l of this.listeners) l();
    });
  }

  private async checkExit(): Promise<boolean> {
    if (this.done) return true;
    const outcome = await readShimExit(this.dir);
    if (outcome === undefined || this.done) return false;
    this.finish(outcome.kind === "failed" ? { kind: "lost" } : outcome);
    return true;
  }

  private async checkLiveness(): Promise<void> {
    if (await this.checkExit()) return;
    const shim = await readPidFile(join(this.dir, "shim.pid"));
    if (shim !== undefined && (await isAlive(shim))) return;
    // The shim writes the exit file before it exits: look once more, then call the end lost.
    if (!(await this.checkExit())) this.finish({ kind: "lost" });
  }

  private finish(exit: ProcessExit): void {
    if (this.done) return;
    this.done = true;
    this.stopWatching();
    this.control?.close();
    this.settle(exit);
    this.scheduleNotify();
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = undefined;
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
  }

  onOutput(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async outputSizes(): Promise<Record<OutputStream, number>> {
    const size = async (s: OutputStream) => {
      const path = this.options.outputs[s];
      if (!path) return 0;
      try {
        return (await stat(path)).size;
      } catch {
        return 0;
      }
    };
    const [stdout, stderr] = await Promise.all([size("stdout"), size("stderr")]);
    return { stdout, stderr };
  }

  // Opened once and kept while the process is read: a stream of output is
  // many reads, and an open and a close for each cost more than the read.
  // Closed after a second without reads (kept ended processes hold no
  // descriptors), and when the process is let go of.
  private readonly readers: Partial<Record<OutputStream, Promise<FileHandle | undefined>>> = {};
  private readersIdle: NodeJS.Timeout | undefined;

  private reader(stream: OutputStream): Promise<FileHandle | undefined> {
    const path = this.options.outputs[stream];
    if (!path) return Promise.resolve(undefined);
    const opened = (this.readers[stream] ??= open(path, "r").catch(() => undefined));
    // A file not there yet is looked for again next time.
    void opened.then((h) => {
      if (!h && this.readers[stream] === opened) delete this.readers[stream];
    });
    return opened;
  }

  private closeReaders(): void {
    if (this.readersIdle) clearTimeout(this.readersIdle);
    this.readersIdle = undefined;
    for (const name of ["stdout", "stderr"] as const) {
      const opened = this.readers[name];
      delete this.readers[name];
      void opened?.then((h) => h?.close().catch(() => {}));
    }
  }

  async read(stream: OutputStream, offset: number, length: number): Promise<Buffer> {
    if (length <= 0) return Buffer.alloc(0);
    if (this.readersIdle) clearTimeout(this.readersIdle);
    this.readersIdle = setTimeout(() => this.closeReaders(), READERS_IDLE_MS);
    this.readersIdle.unref();
    const handle = await this.reader(stream);
    if (!handle) return Buffer.alloc(0);
    // The size first, so the buffer read into is the one handed out: output
    // is streamed by the megabyte and a copy of each read costs as much as
    // the read. fstat of an open file does no I/O; asked through the thread
    // pool it would cost thirty times more than the call.
    let want: number;
    try {
      want = Math.min(length, fstatSync(handle.fd).size - offset);
    } catch {
      return Buffer.alloc(0);
    }
    if (want <= 0) return Buffer.alloc(0);
    const data = Buffer.allocUnsafe(want);
    let got = 0;
    try {
      while (got < want) {
        const { bytesRead } = await handle.read(data, got, want - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
    } catch {
      // closed under us (the process was let go of): what was read is all there is
    }
    return got === want ? data : data.subarray(0, got);
  }

  // The file keeps its size (the process writes at its end); the blocks
  // before `offset` become a hole.
  async discardBefore(stream: OutputStream, offset: number): Promise<void> {
    const path = this.options.outputs[stream];
    const length = Math.floor(offset / PUNCH_ALIGN) * PUNCH_ALIGN;
    if (!path || length <= 0) return;
    await this.options.commands.run(["fallocate", "--punch-hole", "--offset", "0", "--length", String(length), path]);
  }

  // What is sent to a shim that has gone with its process is moot.
  private async tell(send: (control: ShimControl) => Promise<void>): Promise<void> {
    if (this.done) return;
    this.control ??= new ShimControl(this.dir);
    try {
      await send(this.control);
    } catch (err) {
      if (!(err instanceof ShimGone)) throw err;
    }
  }

  /** Takes standard input over: it closes when this daemon goes or says so. */
  attachStdin(): Promise<void> {
    return this.tell((c) => c.attachStdin());
  }

  writeStdin(data: Buffer): Promise<void> {
    return this.tell((c) => c.stdin(data));
  }

  closeStdin(): Promise<void> {
    return this.tell((c) => c.closeStdin());
  }

  signal(signal: Signal): Promise<void> {
    return this.tell((c) => c.signal(SIGNAL_NUMBERS[signal]));
  }

  resize(size: WindowSize): Promise<void> {
    return this.tell((c) => c.resize(size.rows, size.columns));
  }

  async reopenLog(): Promise<void> {
    await this.tell((c) => c.reopenLog());
    // The caller looks for the file at once (the kubelet's rotation does): wait for the shim to make it.
    const path = this.options.logFile;
    for (let waited = 0; path && waited < REOPEN_WAIT_MS && !(await stat(path).catch(() => undefined)); waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async kill(): Promise<void> {
    if (this.done) return;
    const pid = await readPidFile(join(this.dir, "pid"));
    if (pid !== undefined && !this.done) await this.options.killTree(pid);
  }

  async remove(): Promise<void> {
    this.detach();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Stops watching without touching the files (the daemon is going away, the process is not). */
  detach(): void {
    this.closeReaders();
    this.stopWatching();
    this.control?.close();
    this.listeners.clear();
  }
}
