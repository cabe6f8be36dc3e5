// The OCI process spec of a process: its user with supplementary groups,
// Podman's capabilities for root and none for anyone else, no privilege
// gained through setuid or file capabilities, rlimits checked against the
// host's hard limits, and a terminal of the size asked for.
import type { ProcessLaunch } from "../../core/interfaces/runtime.js";
import type { HardLimits } from "../rlimits.js";
import { toOciRlimits } from "../rlimits.js";
import { ROOT_CAPABILITIES } from "../security/capabilities.js";
import type { OciCapabilities, OciProcess } from "./oci-spec.js";

function capabilities(names: readonly string[]): OciCapabilities {
  return { bounding: [...names], effective: [...names], permitted: [...names], inheritable: [], ambient: [] };
}

export function ociProcess(launch: ProcessLaunch, hard: HardLimits): OciProcess {
  const { user } = launch;
  const process: OciProcess = {
    terminal: launch.tty !== undefined,
    user: { uid: user.uid, gid: user.gid, ...(user.groups.length > 0 ? { additionalGids: user.groups } : {}) },
    args: [launch.path, ...launch.args],
    env: launch.env,
    cwd: launch.dir,
    capabilities: capabilities(user.uid === 0 ? ROOT_CAPABILITIES : []),
    noNewPrivileges: true,
    rlimits: toOciRlimits(launch.rlimits, hard),
  };
  if (launch.tty) process.consoleSize = { height: launch.tty.rows, width: launch.tty.columns };
  return process;
}
