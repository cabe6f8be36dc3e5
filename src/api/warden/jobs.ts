// Warden's jobs on the core's processes (reference §4.6). Spawn is
// /bin/bash reading the script on stdin, as the container user (or root
// when privileged) in their home, with HOME, USER, PATH and LANG only, and
// wsh's rlimits under the server's under the request's. stdout + stderr are
// capped: past the cap the job is killed. discard_output keeps nothing;
// log_tag sends lines to syslog as warden.<tag>. A job is gone once Linked,
// or Streamed to its end. Its exit status is its code, or 255 when a signal
// killed it, its output passed the cap, or nobody saw it end.
import type { ProcessResult } from "../../core/process/process.js";
import type { ProcessSpec } from "../../core/process/spec.js";
import { RLIM_INFINITY, type RlimitName, type Rlimits } from "../../core/rlimits.js";

export interface WardenJobsConfig {
  /** The container user's name (vcap). */
  containerUser: string;
  /** stdout + stderr of a job (server.job_output_limit). */
  outputLimit: number;
  /** server.container_rlimits. */
  containerRlimits: Rlimits;
  lang: string;
}

export interface SpawnOptions {
  script: string;
  privileged: boolean;
  rlimits: Rlimits;
  discardOutput: boolean;
  logTag?: string;
}

export const SIGNALLED_STATUS = 255;

// wsh's defaults (warden/src/wsh/msg.c).
export const WSH_DEFAULT_RLIMITS: Readonly<Record<RlimitName, bigint>> = {
  as: RLIM_INFINITY,
  core: 0n,
  cpu: RLIM_INFINITY,
  data: RLIM_INFINITY,
  fsize: RLIM_INFINITY,
  locks: RLIM_INFINITY,
  memlock: 65536n,
  msgqueue: 819200n,
  nice: 0n,
  nofile: 1024n,
  nproc: 1024n,
  rss: RLIM_INFINITY,
  rtprio: 0n,
  sigpending: 1024n,
  stack: 8n * 1024n * 1024n,
};

/**
 * Warden merged a request's limits into the server's hash in place, so they
 * leaked into later jobs; here every job starts from the configured values.
 */
export function jobRlimits(server: Rlimits, request: Rlimits): Rlimits {
  return { ...WSH_DEFAULT_RLIMITS, ...server, ...request };
}

export function jobSpec(config: WardenJobsConfig, options: SpawnOptions): ProcessSpec {
  const user = options.privileged ? "root" : config.containerUser;
  const home = options.privileged ? "/root" : `/home/${config.containerUser}`;
  const path = options.privileged ? "/sbin:/bin:/usr/sbin:/usr/bin" : "/bin:/usr/bin";
  return {
    path: "/bin/bash",
    args: [],
    user,
    env: [`HOME=${home}`, `USER=${user}`, `PATH=${path}`, `LANG=${config.lang}`],
    rlimits: jobRlimits(config.containerRlimits, options.rlimits),
    stdin: { kind: "data", data: Buffer.from(options.script) },
    output: options.discardOutput ? { kind: "discard" } : { kind: "kill", limit: config.outputLimit },
    logTag: options.logTag !== undefined ? `warden.${options.logTag}` : undefined,
    forgetWhenCollected: true,
  };
}

export function jobExitStatus(result: ProcessResult): number {
  if (result.outputExceeded) return SIGNALLED_STATUS;
  return result.exit.kind === "exited" ? result.exit.code : SIGNALLED_STATUS;
}

/** Job ids are numbers; processes named otherwise (by another front end) are not jobs. */
export function jobIds(processIds: readonly string[]): number[] {
  return processIds.filter((id) => /^[1-9]\d{0,9}$/.test(id) && Number(id) <= 0xffffffff).map(Number);
}
