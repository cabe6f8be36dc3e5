// A job as its conmon left it in the job directory: `stdout` and `stderr`
// (raw bytes, written by the job itself), `pid`, `conmon.pid`, and `exit`
// once it ended. Nothing here needs the process that started the job, so a
// restarted daemon can pick a job up from its directory alone.
import { watch, type FSWatcher } from "node:fs";
import { open, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { JobProcess, OutputStream } from "../../core/interfaces.js";
import { isAlive, readPidFile } from "../process.js";

// A supervisor killed with SIGKILL writes no exit file; its job is lost.
export const LOST_JOB_STATUS = 255;
const LIVENESS_POLL_MS = 1000;

export async function readExitStatus(dir: string): Promise<number | undefined> {
  try {
    const text = (await readFile(join(dir, "exit"), "utf8")).trim();
    const code = Number(text);
    return text !== "" && Number.isInteger(code) && code >= 0 ? code : LOST_JOB_STATUS;
  } catch {
    return undefined;
  }
}

export class ConmonJob implements JobProcess {
  readonly exited: Promise<number>;
  private readonly listeners = new Set<() => void>();
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private notifyScheduled = false;
  private settle!: (code: number) => void;
  private done = false;

  constructor(
    readonly dir: string,
    private readonly outputs: Record<OutputStream, string | undefined>,
    /** Kills a process and everything it started. */
    private readonly killTree: (pid: number) => Promise<void>,
  ) {
    this.exited = new Promise((resolve) => (this.settle = resolve));
    this.watcher = watch(dir, (_event, name) => {
      if (name === "exit") void this.checkExit();
      else if (name === "stdout" || name === "stderr") this.scheduleNotify();
    });
    this.watcher.on("error", () => this.stopWatching());
    this.poll = setInterval(() => void this.checkLiveness(), LIVENESS_POLL_MS);
    this.poll.unref();
    void this.checkExit();
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
    const code = await readExitStatus(this.dir);
    if (code === undefined || this.done) return false;
    this.finish(code);
    return true;
  }

  private async checkLiveness(): Promise<void> {
    if (await this.checkExit()) return;
    const conmon = await readPidFile(join(this.dir, "conmon.pid"));
    if (conmon !== undefined && (await isAlive(conmon))) return;
    // conmon writes the exit file before it exits: look once more, then call the job lost.
    if (!(await this.checkExit())) this.finish(LOST_JOB_STATUS);
  }

  private finish(code: number): void {
    if (this.done) return;
    this.done = true;
    this.stopWatching();
    this.settle(code);
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
      const path = this.outputs[s];
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

  async read(stream: OutputStream, offset: number, length: number): Promise<Buffer> {
    const path = this.outputs[stream];
    if (!path || length <= 0) return Buffer.alloc(0);
    const handle = await open(path, "r");
    try {
      const buf = Buffer.alloc(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buf, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return buf.subarray(0, got);
    } finally {
      await handle.close();
    }
  }

  async kill(): Promise<void> {
    if (this.done) return;
    const pid = await readPidFile(join(this.dir, "pid"));
    if (pid !== undefined && !this.done) await this.killTree(pid);
  }

  async remove(): Promise<void> {
    this.stopWatching();
    this.listeners.clear();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Stops watching without touching the files (the daemon is going away, the job is not). */
  detach(): void {
    this.stopWatching();
    this.listeners.clear();
  }
}
