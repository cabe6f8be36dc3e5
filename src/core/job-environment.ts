// What a Warden job runs with: the user, an environment of HOME, USER, PATH
// and LANG only, and resource limits from wsh's defaults, overridden by the
// server's container_rlimits, overridden by the request.
import type { JobUser, RlimitName, Rlimits } from "./interfaces.js";

export const INFINITY = 2n ** 64n - 1n;

// wsh's defaults (warden/src/wsh/msg.c).
export const WSH_DEFAULT_RLIMITS: Readonly<Record<RlimitName, bigint>> = {
  as: INFINITY,
  core: 0n,
  cpu: INFINITY,
  data: INFINITY,
  fsize: INFINITY,
  locks: INFINITY,
  memlock: 65536n,
  msgqueue: 819200n,
  nice: 0n,
  nofile: 1024n,
  nproc: 1024n,
  rss: INFINITY,
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

export function jobUser(privileged: boolean, uid: number, userName: string): JobUser {
  return privileged
    ? { name: "root", uid: 0, gid: 0, home: "/root" }
    : { name: userName, uid, gid: uid, home: `/home/${userName}` };
}

export function jobEnvironment(user: JobUser, lang: string): string[] {
  const path = user.uid === 0 ? "/sbin:/bin:/usr/sbin:/usr/bin" : "/bin:/usr/bin";
  return [`HOME=${user.home}`, `USER=${user.name}`, `PATH=${path}`, `LANG=${lang}`];
}
