// Structured JSON logs, one line per event (pino). Warden's level names are
// accepted in the config and mapped onto pino's.
import { pino } from "pino";
import type { Logger } from "./core/interfaces/logger.js";

const LEVELS: Record<string, string> = {
  all: "trace",
  debug2: "trace",
  debug1: "trace",
  debug: "debug",
  info: "info",
  warn: "warn",
  error: "error",
  fatal: "fatal",
  off: "silent",
};

export function createLogger(options: { level: string; file?: string }): Logger {
  const destination = options.file ? pino.destination({ dest: options.file, mkdir: true, sync: false }) : pino.destination(1);
  return pino(
    {
      level: LEVELS[options.level] ?? "info",
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  ) as unknown as Logger;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
