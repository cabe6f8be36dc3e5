// The OCI process spec of a job: /bin/bash reading the script on stdin, as
// the container user (or root when privileged), in its home.
import type { JobSpec } from "../../core/interfaces.js";
import type { HardLimits } from "../rlimits.js";
import { toOciRlimits } from "../rlimits.js";
import { ROOT_CAPABILITIES } from "../security/capabilities.js";
import type { OciCapabilities, OciProcess } from "./oci-spec.js";

function capabilities(names: readonly string[]): OciCapabilities {
  return { bounding: [...names], effective: [...names], permitted: [...names], inheritable: [], ambient: [] };
}

export function jobProcess(job: JobSpec, hard: HardLimits): OciProcess {
  return {
    terminal: false,
    user: { uid: job.user.uid, gid: job.user.gid },
    args: ["/bin/bash"],
    env: job.env,
    cwd: job.user.home,
    // The unprivileged user gets no capabilities, and no job gains any
    // through setuid or file-capability binaries.
    capabilities: capabilities(job.privileged ? ROOT_CAPABILITIES : []),
    noNewPrivileges: true,
    rlimits: toOciRlimits(job.rlimits, hard),
  };
}
