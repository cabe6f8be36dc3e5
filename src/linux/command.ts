// Runs host tools with argument arrays (never through a shell string), with
// bounded output and a timeout, and folds stderr into the error so a failure
// says what the tool said.
import { spawn } from "node:child_process";

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string | Buffer;
  timeoutMs?: number;
  /** Accept these exit codes besides 0 without throwing. */
  okCodes?: number[];
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

const MAX_OUTPUT = 1024 * 1024;

export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout!.on("data", (b: Buffer) => {
      if (outLen < MAX_OUTPUT) out.push(b);
      outLen += b.length;
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
      if (timedOut) return reject(new CommandError(argv, null, stderr, `timed out after ${options.timeoutMs} ms`));
      if (signal) return reject(new CommandError(argv, null, stderr, `killed by ${signal}`));
      const c = code ?? -1;
      if (c !== 0 && !(options.okCodes ?? []).includes(c)) return reject(new CommandError(argv, c, stderr));
      resolve({ code: c, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
  });
}
