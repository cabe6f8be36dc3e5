// Starting a process under warden-shim (src/shim/warden-shim.c): the shim
// execs it through the OCI runtime, detached, and supervises it from then
// on, outliving this daemon. The shim's first process exits once the
// process runs (0) or could not be started (2, with the reason in `exit`).
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "../../core/errors.js";
import type { WindowSize } from "../../core/interfaces/runtime.js";
import type { OciRuntimeCli } from "./oci-runtime.js";
import { readShimExit } from "./shim-process.js";

export interface ShimStart {
  containerId: string;
  /** The process's directory, holding process.json (and stdin, as data). */
  dir: string;
  stdin: "none" | "file" | "pipe";
  tty?: WindowSize;
  discardOutput: boolean;
  /** A pea: the process is a container of its own, with its bundle (config.json) in this directory. */
  bundle?: string;
  /** The process's user's host ids: its stdio pipes are given to it. */
  owner?: { uid: number; gid: number };
  /** The container's init starts the process (process.spec) on this socket, not the runtime's exec (process.json). */
  initSocket?: string;
  /** Its output is also written here, line by line, in Kubernetes' container log format. */
  logFile?: string;
}

export interface ShimOptions {
  path: string;
  oci: OciRuntimeCli;
  /** A character device 1:3 of our own: runtimes chown a process's stdio, so /dev/null itself must never be passed. */
  nullDevice: string;
  /**
   * Runs a command inside the runtime's mount namespace: a pea's shim starts
   * a container (`run`), which the runtime makes only where the container
   * roots are mounted and the hybrid cgroup mount is gone.
   */
  inRuntimeNamespace?: (argv: string[], dir: string) => string[];
}

const STARTED = 0;
const NOT_STARTED = 2;

// What the runtime says when the program is not there, crun's and runc's words.
const NOT_FOUND = /executable file .* not found|no such file or directory/i;

/** What starts a process under a supervisor (the shim; a fake in tests). */
export interface ProcessStarter {
  start(start: ShimStart, path: string): Promise<void>;
}

export class ShimLauncher implements ProcessStarter {
  constructor(private readonly options: ShimOptions) {}

  argv(start: ShimStart): string[] {
    const { oci } = this.options;
    return [
      this.options.path,
      "--runtime", oci.path,
      ...oci.globalArgs.flatMap((a) => ["--runtime-arg", a]),
      "--container", start.containerId,
      "--stdin", start.stdin,
      "--null", this.options.nullDevice,
      ...(start.tty ? ["--tty", String(start.tty.rows), String(start.tty.columns)] : []),
      ...(start.discardOutput ? ["--discard"] : []),
      ...(start.bundle ? ["--bundle", start.bundle] : []),
      ...(start.owner ? ["--owner", `${start.owner.uid}:${start.owner.gid}`] : []),
      ...(start.initSocket ? ["--init-socket", start.initSocket] : []),
      ...(start.logFile ? ["--log", start.logFile] : []),
    ];
  }

  /** Resolves once the process runs; rejects with why it could not start. */
  async start(start: ShimStart, path: string): Promise<void> {
    const own = this.argv(start);
    const argv = start.bundle && this.options.inRuntimeNamespace ? this.options.inRuntimeNamespace(own, start.dir) : own;
    const log = openSync(join(start.dir, "shim.log"), "a");
    let code: number;
    try {
      code = await new Promise<number>((resolve, reject) => {
        const child = spawn(argv[0], argv.slice(1), {
          cwd: start.dir,
          // setsid before exec: killing our process group cannot reach the shim.
          detached: true,
          stdio: ["ignore", "ignore", log],
        });
        child.once("error", reject);
        child.once("exit", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
      });
    } catch (err) {
      throw errors.spawnFailed(`cannot run ${argv[0]}: ${err instanceof Error ? err.message : String(err)}`, err);
    } finally {
      closeSync(log);
    }
    if (code === STARTED) return;
    if (code === NOT_STARTED) {
      const outcome = await readShimExit(start.dir);
      const reason = outcome?.kind === "failed" ? outcome.error : "the runtime could not start the process";
      if (NOT_FOUND.test(reason) && !/chdir/.test(reason)) throw errors.executableNotFound(path, reason);
      throw errors.spawnFailed(reason);
    }
    const said = (await readFile(join(start.dir, "shim.log"), "utf8").catch(() => "")).trim().split("\n").slice(-3).join(" | ");
    throw errors.spawnFailed(`warden-shim exited with ${code}${said ? `: ${said}` : ""}`);
  }
}
