// The OCI process spec of a job: /bin/bash reading the script on stdin, as
// the container user (or root when privileged), in its home.
import type { JobSpec } from "../../core/interfaces.js";
import type { HardLimits } from "../rlimits.js";
import { toOciRlimits } from "../rlimits.js";
import type { OciCapabilities, OciProcess } from "./oci-spec.js";

// The set container engines give root in a container by default.
const ROOT_CAPABILITIES = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
  "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
];

function capabilities(names: string[]): OciCapabilities {
  return { bounding: names, effective: names, permitted: names, inheritable: [], ambient: [] };
}

export function jobProcess(job: JobSpec, hard: HardLimits): OciProcess {
  return {
    terminal: false,
    user: { uid: job.user.uid, gid: job.user.gid },
    args: ["/bin/bash"],
    env: job.env,
    cwd: job.user.home,
    // The unprivileged user gets no capabilities and cannot gain any through setuid binaries.
    capabilities: capabilities(job.privileged ? ROOT_CAPABILITIES : []),
    noNewPrivileges: !job.privileged,
    rlimits: toOciRlimits(job.rlimits, hard),
  };
}
