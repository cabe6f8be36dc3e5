// Where the output lines of a process with a log tag go (syslog on Linux).
export type OutputStream = "stdout" | "stderr";

export interface ProcessLogSink {
  open(tag: string): ProcessLog;
}

export interface ProcessLog {
  write(stream: OutputStream, line: string): void;
  close(): void;
}
