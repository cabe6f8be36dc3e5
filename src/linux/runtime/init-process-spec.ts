// A process as warden-init reads it (src/shim/warden-init.c): NUL-terminated
// key=value entries, arrays as repeated keys, capability sets as bit masks.
// No JSON: the init is a small static program that parses nothing richer.
import { capabilityNumber } from "../security/capabilities.js";
import type { OciProcess } from "./oci-spec.js";

// resource.h's numbers (the same on every Linux architecture we run on).
const RLIMIT_NUMBERS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

function mask(names: readonly string[] | undefined): string {
  let bits = 0n;
  for (const name of names ?? []) {
    const n = capabilityNumber(name);
    if (n === undefined) throw new Error(`unknown capability ${name}`);
    bits |= 1n << BigInt(n);
  }
  return bits.toString(16);
}

/** The spec, or why the init cannot start this process (the runtime's exec then does). */
export function initProcessSpec(process: OciProcess): Buffer {
  const entries: string[] = [];
  const add = (key: string, value: string) => {
    if (value.includes("\0")) throw new Error(`${key} holds a NUL byte`);
    entries.push(`${key}=${value}`);
  };
  for (const arg of process.args) add("arg", arg);
  for (const env of process.env ?? []) add("env", env);
  add("cwd", process.cwd);
  if (process.noNewPrivileges) add("nnp", "1");
  add("uid", String(process.user.uid));
  add("gid", String(process.user.gid));
  for (const gid of process.user.additionalGids ?? []) add("group", String(gid));
  const caps = process.capabilities;
  add("cap.bounding", mask(caps?.bounding));
  add("cap.effective", mask(caps?.effective));
  add("cap.permitted", mask(caps?.permitted));
  add("cap.inheritable", mask(caps?.inheritable));
  add("cap.ambient", mask(caps?.ambient));
  for (const r of process.rlimits ?? []) {
    const n = RLIMIT_NUMBERS[r.type];
    if (n === undefined) throw new Error(`unknown rlimit ${r.type}`);
    add("rlimit", `${n} ${r.soft} ${r.hard}`);
  }
  return Buffer.from(entries.map((e) => `${e}\0`).join(""));
}
