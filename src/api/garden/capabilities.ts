// Garden's capability model, as Guardian gives it (Docker's default set):
// root holds these, other users keep them as bounding and inheritable sets
// and hold none; in a privileged container root holds everything the daemon
// has, and other users keep CAP_SYS_ADMIN too (GATS checks the exact sets).
import type { ContainerCapabilities } from "../../core/interfaces/runtime.js";

export const GARDEN_CAPABILITIES: readonly string[] = [
  "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
  "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE",
  "CAP_SETFCAP",
];

export function gardenCapabilities(privileged: boolean): ContainerCapabilities {
  return privileged
    ? { root: "all", others: [...GARDEN_CAPABILITIES, "CAP_SYS_ADMIN"] }
    : { root: GARDEN_CAPABILITIES, others: GARDEN_CAPABILITIES };
}
