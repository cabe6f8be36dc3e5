// Runs host tools with argument arrays (never through a shell string), with
// bounded output and a timeout, and folds stderr into the error so a failure
// says what the tool said. Adapters take a CommandRunner, so their unit tests
// can record the argv they build and answer for the tool.
import { spawn } from "node:child_process";
import type { Writable } from "node:stream";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Accept these exit codes besides 0 without throwing. */
  okCodes?: number[];
  /**
   * A conversation with the running tool instead of `input`: sees its pid,
   * waits for lines it prints, writes to it. When it throws, the tool is
   * killed and run rejects with that error.
   */
  interact?: (io: Interaction) => Promise<void>;
}

export interface Interaction {
  pid: number;
  stdin: Writable;
  /** Resolves with the next line the tool prints on stdout; rejects when it ends first. */
  nextLine(): Promise<string>;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: readonly string[],
    readonly code: number | null,
    readonly stderr: string,
    reason?: string,
  ) {
    const tail = stderr.trim().split("\n").slice(-3).join(" | ");
    super(`${argv.join(" ")}: ${reason ?? `exited with ${code}`}${tail ? `: ${tail}` : ""}`);
    this.name = "CommandError";
  }
}

export interface CommandRunner {
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
}

const MAX_OUTPUT = 1024 * 1024;

/** The host's tools, run as processes. */
export const hostCommands: CommandRunner = { run: (argv, options) => run(argv, options) };

export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined && !options.interact ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let interactionFailed: unknown;
    let pending = "";
    const waiters: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on("data", (b: Buffer) => {
      if (outLen < MAX_OUTPUT) out.push(b);
      outLen += b.length;
      if (!options.interact) return;
      pending += b.toString();
      for (let nl = pending.indexOf("\n"); nl >= 0 && waiters.length > 0; nl = pending.indexOf("\n")) {
        waiters.shift()!.resolve(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    child.stdout!.on("end", () => {
      for (const w of waiters.splice(0)) w.reject(new Error("the tool ended before printing a line"));
    });
    child.stderr!.on("data", (b: Buffer) => {
      if (errLen < MAX_OUTPUT) err.push(b);
      errLen += b.length;
    });
    let timedOut = false;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, options.timeoutMs);
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new CommandError(argv, null, "", e.message));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (interactionFailed !== undefined) return reject(interactionFailed);
      if (timedOut) return reject(new CommandError(argv, null, stderr, `timed out after ${options.timeoutMs} ms`));
      if (signal) return reject(new CommandError(argv, null, stderr, `killed by ${signal}`));
      const c = code ?? -1;
      if (c !== 0 && !(options.okCodes ?? []).includes(c)) return reject(new CommandError(argv, c, stderr));
      resolve({ code: c, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    if (options.interact && child.pid !== undefined) {
      child.stdin!.on("error", () => {}); // a tool that exits early closes its stdin; its exit code tells
      const nextLine = () =>
        new Promise<string>((resolve, reject) => {
          const nl = pending.indexOf("\n");
          if (nl >= 0) {
            resolve(pending.slice(0, nl));
            pending = pending.slice(nl + 1);
          } else if (child.stdout!.readableEnded) reject(new Error("the tool ended before printing a line"));
          else waiters.push({ resolve, reject });
        });
      options.interact({ pid: child.pid, stdin: child.stdin!, nextLine }).catch((e: unknown) => {
        interactionFailed = e;
        child.kill("SIGKILL");
      });
    }
  });
}
