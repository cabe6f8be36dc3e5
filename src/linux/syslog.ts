// The process log on Linux: output lines of a process with a log tag go to
// syslog under the tag, stdout at priority info and stderr at err, as
// Warden's logger pipeline did. One `logger` per process reads lines
// prefixed with their priority (--prio-prefix).
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../core/interfaces/logger.js";
import type { OutputStream, ProcessLog, ProcessLogSink } from "../core/interfaces/process-log.js";

const PRIORITY: Record<OutputStream, number> = {
  stdout: 8 + 6, // user.info
  stderr: 8 + 3, // user.err
};

class LoggerProcessLog implements ProcessLog {
  private broken = false;

  constructor(private readonly child: ChildProcess) {
    child.stdin!.on("error", () => (this.broken = true));
    child.on("error", () => (this.broken = true));
  }

  write(stream: OutputStream, line: string): void {
    if (this.broken) return;
    this.child.stdin!.write(`<${PRIORITY[stream]}>${line.replace(/\r?\n/g, " ")}\n`);
  }

  close(): void {
    this.child.stdin!.end();
  }
}

export class SyslogProcessLogSink implements ProcessLogSink {
  constructor(
    /** The syslog socket; /dev/log when not given. */
    private readonly socket: string | undefined,
    private readonly log: Logger,
  ) {}

  open(tag: string): ProcessLog {
    const args = ["--prio-prefix", "-t", tag, ...(this.socket ? ["-u", this.socket] : [])];
    const child = spawn("logger", args, { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (b: Buffer) => {
      if (stderr.length < 4096) stderr += b.toString();
    });
    child.on("exit", (code) => {
      if (code !== 0) this.log.warn({ tag, code, stderr: stderr.trim() }, "syslog forwarding failed");
    });
    return new LoggerProcessLog(child);
  }
}
