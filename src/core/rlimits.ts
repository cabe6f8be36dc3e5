// Resource limits of a process (getrlimit(2)'s names), values up to 2^64-1.
export type RlimitName =
  | "as" | "core" | "cpu" | "data" | "fsize" | "locks" | "memlock" | "msgqueue"
  | "nice" | "nofile" | "nproc" | "rss" | "rtprio" | "sigpending" | "stack";

export const RLIMIT_NAMES: readonly RlimitName[] = [
  "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
  "nice", "nofile", "nproc", "rss", "rtprio", "sigpending", "stack",
];

export const RLIM_INFINITY = 2n ** 64n - 1n;

export type Rlimits = Partial<Record<RlimitName, bigint>>;
