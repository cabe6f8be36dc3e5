// conmon supervises the container's init: it outlives this daemon, records
// its end and the kernel's OOM kills in files, and reports the pid it
// started on a "sync" fd. We give it a plain file as that fd, never a pipe: a pipe whose
// reader died (a daemon restart) kills conmon with EPIPE and loses the job.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isAlive, readPidFile } from "../process.js";
import { waitFor } from "../wait-for.js";
import type { RuntimeMountNamespace } from "./mount-namespace.js";
import type { OciRuntimeCli } from "./oci-runtime.js";

export interface SyncMessage {
  data: number;
  message?: string;
}

export function parseSync(text: string): SyncMessage[] {
  const out: SyncMessage[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const msg = JSON.parse(line) as SyncMessage;
      if (typeof msg.data === "number") out.push(msg);
    } catch {
      // a partial line: conmon is still writing it
    }
  }
  return out;
}

export class ConmonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConmonError";
  }
}

const START_TIMEOUT_MS = 30_000;

export interface ConmonOptions {
  path: string;
  runtime: OciRuntimeCli;
  /** Where conmon makes its attach socket links; short, so paths stay under 108 bytes. */
  socketDir: string;
}

export class Conmon {
  constructor(
    private readonly options: ConmonOptions,
    private readonly ns: RuntimeMountNamespace,
  ) {}

  private runtimeArgs(): string[] {
    return [
      "-r", this.options.runtime.path,
      ...this.options.runtime.globalArgs.flatMap((a) => ["--runtime-arg", a]),
    ];
  }

  /**
   * Creates the container (not yet started) under a conmon of its own, inside
   * the runtime mount namespace. Resolves with the init's host pid.
   * `initSocket`: warden-init listens there (on fd 3, LISTEN_FDS=1, which
   * conmon and the runtime pass on to the container's process).
   */
  async createContainer(id: string, bundleDir: string, runDir: string, initSocket?: { init: string; path: string }): Promise<number> {
    const own = [
      this.options.path, "--api-version", "1",
      "-c", id, "-u", id, "-n", id,
      ...this.runtimeArgs(),
      "-b", bundleDir,
      "-p", join(runDir, "pid"),
      "-P", join(runDir, "conmon.pid"),
      "--persist-dir", runDir,
      "--socket-dir-path", this.options.socketDir,
      "-l", "none",
      // runc takes LISTEN_FDS only with LISTEN_PID its own.
      ...(initSocket ? ["--replace-listen-pid"] : []),
    ];
    // conmon writes an `oom` file into its working directory too. warden-init enters the namespace itself (no nsenter).
    const argv = initSocket
      ? [initSocket.init, "--bind", initSocket.path, "--mount-ns", this.ns.pinFile, "--wd", runDir, "--", ...own]
      : this.ns.wrap(own, runDir);
    await this.launch(argv, runDir, {
      stdin: "ignore",
      stdout: "ignore",
      stderr: join(runDir, "conmon.stderr"),
    });
    const sync = await this.waitSync(runDir, () => readFile(join(runDir, "conmon.stderr"), "utf8").catch(() => ""));
    return sync;
  }

  private async launch(
    argv: string[],
    cwd: string,
    stdio: { stdin: string; stdout: string; stderr: string },
  ): Promise<void> {
    const fds: number[] = [];
    const openFd = (spec: string, flags: string) => {
      if (spec === "ignore") return "ignore" as const;
      const fd = openSync(spec, flags);
      fds.push(fd);
      return fd;
    };
    try {
      const syncFd = openFd(join(cwd, "sync"), "a");
      const child = spawn(argv[0], argv.slice(1), {
        cwd,
        // setsid before exec: killing our process group cannot reach the supervisor.
        detached: true,
        // fd 3 is left free for a listening socket (systemd's LISTEN_FDS start there).
        stdio: [openFd(stdio.stdin, "r"), openFd(stdio.stdout, "a"), openFd(stdio.stderr, "a"), "ignore", syncFd],
        env: { ...process.env, _OCI_SYNCPIPE: "4" },
      });
      child.unref();
      // conmon forks and its first process exits at once; a failure here is a bad argument.
      const code = await new Promise<number>((resolve, reject) => {
        child.once("error", reject);
        child.once("exit", (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      });
      if (code !== 0) throw new ConmonError(`conmon exited with ${code}`);
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }

  /**
   * Waits until conmon reports the pid it started. A conmon that died
   * without a word is a failure; `detail` says why (the runtime's stderr).
   */
  private async waitSync(dir: string, detail: () => Promise<string>): Promise<number> {
    const failure = async (why: string) => new ConmonError(`${why}${tail(await detail())}`);
    return waitFor(
      dir,
      async () => {
        const messages = parseSync(await readFile(join(dir, "sync"), "utf8"));
        const first = messages[0];
        if (first && first.data > 0) return first.data;
        if (first && first.data <= 0) throw await failure(first.message ?? "the runtime failed");
        const pid = await readPidFile(join(dir, "conmon.pid"));
        if (pid !== undefined && !(await isAlive(pid))) {
          // Read once more: conmon may have written and exited between our reads.
          const again = parseSync(await readFile(join(dir, "sync"), "utf8"))[0];
          if (again && again.data > 0) return again.data;
          throw await failure("the supervisor exited before the process started");
        }
        return undefined;
      },
      { timeoutMs: START_TIMEOUT_MS, pollMs: 20, what: "conmon to start the process" },
    );
  }
}

function tail(text: string): string {
  const t = text.trim().split("\n").slice(-3).join(" | ");
  return t ? `: ${t}` : "";
}
