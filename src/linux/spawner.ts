// A CommandRunner that has warden-spawn (src/shim/warden-spawn.c) start the
// commands: forking this process blocks its event loop for a millisecond or
// more per command (its page tables are copied), and a create runs several;
// the small helper forks for it. Same contract as `run` (argv, cwd, env,
// input, timeout, okCodes, output bounded, stderr in the error); a
// conversation with the tool (`interact`) goes to `run` itself. The helper is
// started on first use and again after it dies (the commands it was running
// then fail).
import { spawn, type ChildProcess } from "node:child_process";
import { constants } from "node:os";
import { CommandError, run, type CommandRunner, type RunOptions, type RunResult } from "./command.js";

interface Pending {
  argv: readonly string[];
  options: RunOptions;
  resolve: (r: RunResult) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  timedOut?: boolean;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

export class SpawnerRunner implements CommandRunner {
  private helper: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private buffer: Buffer = Buffer.alloc(0);
  private closed = false;

  constructor(private readonly path: string) {}

  run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (options.interact || this.closed) return run(argv, options);
    return new Promise((resolve, reject) => {
      const body = request(argv, options);
      const helper = this.ensure();
      const id = this.nextId++;
      const entry: Pending = { argv, options, resolve, reject };
      this.pending.set(id, entry);
      this.ref();
      if (options.timeoutMs !== undefined) {
        entry.timer = setTimeout(() => {
          entry.timedOut = true;
          helper.stdin!.write(frame("K", id, u32(9)));
        }, options.timeoutMs);
      }
      helper.stdin!.write(frame("R", id, body));
    });
  }

  /** Lets the helper go (it exits when its input ends); later commands run as plain processes. */
  close(): void {
    this.closed = true;
    this.helper?.stdin?.end();
    this.helper = undefined;
  }

  private ensure(): ChildProcess {
    if (this.helper) return this.helper;
    const helper = spawn(this.path, [], { stdio: ["pipe", "pipe", "inherit"] });
    this.helper = helper;
    this.buffer = Buffer.alloc(0);
    helper.stdout!.on("data", (b: Buffer) => this.receive(b));
    helper.stdin!.on("error", () => {});
    helper.once("exit", (code, signal) => {
      if (this.helper === helper) this.helper = undefined;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        if (p.timer) clearTimeout(p.timer);
        p.reject(new CommandError(p.argv, null, "", `warden-spawn ended (${signal ?? code}) before the command did`));
      }
      this.unref();
    });
    helper.once("error", () => {});
    return helper;
  }

  // The helper keeps the daemon alive only while it runs something for it.
  private ref(): void {
    if (!this.helper) return;
    this.helper.ref();
    (this.helper.stdout as unknown as { ref?: () => void }).ref?.();
  }

  private unref(): void {
    if (this.pending.size > 0 || !this.helper) return;
    this.helper.unref();
    (this.helper.stdout as unknown as { unref?: () => void }).unref?.();
    (this.helper.stdin as unknown as { unref?: () => void }).unref?.();
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 4) {
      const len = this.buffer.readUInt32LE(0);
      if (this.buffer.length < 4 + len) break;
      const body = this.buffer.subarray(4, 4 + len);
      this.buffer = this.buffer.subarray(4 + len);
      this.settle(body);
    }
    this.unref();
  }

  private settle(body: Buffer): void {
    const id = body.readUInt32LE(0);
    const kind = String.fromCharCode(body[4]);
    const status = body.readInt32LE(5);
    const outLen = body.readUInt32LE(9);
    const stdout = body.subarray(13, 13 + outLen).toString();
    const errLen = body.readUInt32LE(13 + outLen);
    const stderr = body.subarray(17 + outLen, 17 + outLen + errLen).toString();
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    const { argv, options } = p;
    if (kind === "E") return p.reject(new CommandError(argv, null, "", stderr));
    if (p.timedOut) return p.reject(new CommandError(argv, null, stderr, `timed out after ${options.timeoutMs} ms`));
    // A wait status: exited (code in the second byte) or killed (signal in the low seven bits).
    const signal = status & 0x7f;
    if (signal !== 0) return p.reject(new CommandError(argv, null, stderr, `killed by ${SIGNAL_NAMES.get(signal) ?? `signal ${signal}`}`));
    const code = (status >> 8) & 0xff;
    if (code !== 0 && !(options.okCodes ?? []).includes(code)) return p.reject(new CommandError(argv, code, stderr));
    p.resolve({ code, stdout, stderr });
  }
}

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

function frame(op: "R" | "K", id: number, rest: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt32LE(5 + rest.length, 0);
  head.write(op, 4);
  head.writeUInt32LE(id, 5);
  return Buffer.concat([head, rest]);
}

function request(argv: readonly string[], options: RunOptions): Buffer {
  const strings: string[] = [options.cwd ?? "", options.input === undefined ? "0" : "1", String(argv.length), ...argv];
  if (options.env) {
    const env = Object.entries(options.env).filter((e): e is [string, string] => e[1] !== undefined).map(([k, v]) => `${k}=${v}`);
    strings.push(String(env.length), ...env);
  } else {
    strings.push("-");
  }
  for (const s of strings) if (s.includes("\0")) throw new CommandError(argv, null, "", "an argument holds a NUL byte");
  const head = Buffer.from(strings.map((s) => `${s}\0`).join(""));
  if (options.input === undefined) return head;
  return Buffer.concat([head, typeof options.input === "string" ? Buffer.from(options.input) : options.input]);
}
