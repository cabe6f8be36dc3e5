// Resource limits for jobs. Root on some hosts lacks CAP_SYS_RESOURCE, so a
// limit above the daemon's own hard limit cannot be set: the runtime would
// fail inside the container and leave a broken job. We refuse such a request
// up front with a message that names the limit.
import { readFileSync } from "node:fs";
import { CoreError } from "../core/errors.js";
import { RLIM_INFINITY, RLIMIT_NAMES, type RlimitName, type Rlimits } from "../core/rlimits.js";
import type { OciRlimit } from "./runtime/oci-spec.js";

export { RLIM_INFINITY };

// The rows of /proc/<pid>/limits, by rlimit.
const PROC_LIMITS_ROW: Record<RlimitName, string> = {
  as: "Max address space",
  core: "Max core file size",
  cpu: "Max cpu time",
  data: "Max data size",
  fsize: "Max file size",
  locks: "Max file locks",
  memlock: "Max locked memory",
  msgqueue: "Max msgqueue size",
  nice: "Max nice priority",
  nofile: "Max open files",
  nproc: "Max processes",
  rss: "Max resident set",
  rtprio: "Max realtime priority",
  sigpending: "Max pending signals",
  stack: "Max stack size",
};

export type HardLimits = Record<RlimitName, bigint>;

export function parseProcLimits(text: string): HardLimits {
  const limits = {} as HardLimits;
  for (const name of RLIMIT_NAMES) {
    const row = text.split("\n").find((l) => l.startsWith(PROC_LIMITS_ROW[name]));
    const fields = row?.slice(PROC_LIMITS_ROW[name].length).trim().split(/\s+/) ?? [];
    const hard = fields[1];
    limits[name] = hard === undefined || hard === "unlimited" ? RLIM_INFINITY : BigInt(hard);
  }
  return limits;
}

export function readHardLimits(): HardLimits {
  return parseProcLimits(readFileSync("/proc/self/limits", "utf8"));
}

/** The OCI rlimits for a job: soft = hard = the value asked for, checked against the host. */
export function toOciRlimits(rlimits: Rlimits, hard: HardLimits): OciRlimit[] {
  const out: OciRlimit[] = [];
  for (const name of RLIMIT_NAMES) {
    const asked = rlimits[name];
    if (asked === undefined) continue;
    const value = asked > RLIM_INFINITY ? RLIM_INFINITY : asked;
    if (value > hard[name]) {
      const shown = hard[name] === RLIM_INFINITY ? "unlimited" : hard[name].toString();
      throw new CoreError("RLIMIT_ABOVE_HARD_LIMIT", `rlimit ${name} of ${value} is above the host's hard limit of ${shown}`, {
        details: { rlimit: name, value: value.toString(), hardLimit: shown },
      });
    }
    out.push({ type: `RLIMIT_${name.toUpperCase()}`, soft: value, hard: value });
  }
  return out;
}
