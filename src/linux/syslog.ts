// log_tag: job output lines to syslog, tagged warden.<tag>, stdout at
// priority info and stderr at err, as Warden's logger pipeline did. One
// `logger` per job reads lines prefixed with their priority (--prio-prefix).
import { spawn, type ChildProcess } from "node:child_process";
import type { JobLog, JobLogSink, Logger, OutputStream } from "../core/interfaces.js";

const PRIORITY: Record<OutputStream, number> = {
  stdout: 8 + 6, // user.info
  stderr: 8 + 3, // user.err
};

class LoggerProcessLog implements JobLog {
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

export class SyslogJobLogSink implements JobLogSink {
  constructor(
    /** The syslog socket; /dev/log when not given. */
    private readonly socket: string | undefined,
    private readonly log: Logger,
  ) {}

  open(tag: string): JobLog {
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
