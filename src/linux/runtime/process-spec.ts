// The OCI process spec of a process: its user with supplementary groups,
// Podman's capabilities for root and none for anyone else, no privilege
// gained through setuid or file capabilities, rlimits checked against the
// host's hard limits, and a terminal of the size asked for.
import type { ProcessLaunch } from "../../core/interfaces/runtime.js";
import type { HardLimits } from "../rlimits.js";
import { toOciRlimits } from "../rlimits.js";
import { ROOT_CAPABILITIES } from "../security/capabilities.js";
import type { OciCapabilities, OciProcess } from "./oci-spec.js";

/** The capability sets of a container's processes, every name resolved. */
export interface CapabilitySets {
  root: readonly string[];
  /** Bounding (and inheritable) sets of other users, who hold none. */
  others: readonly string[];
  /** Inheritable sets as the bounding ones (Garden's and Docker's way), or empty. */
  inheritable: boolean;
}

export const DEFAULT_SETS: CapabilitySets = { root: ROOT_CAPABILITIES, others: [], inheritable: false };

export function capabilitySets(sets: CapabilitySets, uid: number): OciCapabilities {
  const held = uid === 0 ? sets.root : [];
  const bounding = uid === 0 ? sets.root : sets.others;
  return { bounding: [...bounding], effective: [...held], permitted: [...held], inheritable: sets.inheritable ? [...bounding] : [], ambient: [] };
}

export function ociProcess(launch: ProcessLaunch, hard: HardLimits, sets: CapabilitySets = DEFAULT_SETS): OciProcess {
  const { user } = launch;
  const process: OciProcess = {
    terminal: launch.tty !== undefined,
    user: { uid: user.uid, gid: user.gid, ...(user.groups.length > 0 ? { additionalGids: user.groups } : {}) },
    args: [launch.path, ...launch.args],
    env: launch.env,
    cwd: launch.dir,
    capabilities: capabilitySets(sets, user.uid),
    noNewPrivileges: !launch.allowPrivilegeGain,
    rlimits: toOciRlimits(launch.rlimits, hard),
  };
  if (launch.tty) process.consoleSize = { height: launch.tty.rows, width: launch.tty.columns };
  return process;
}
