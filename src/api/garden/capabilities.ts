// Garden's capability model, as Guardian gives it (Docker's default set):
// root holds these, other users keep them as bounding and inheritable sets
// and hold none; in a privileged container root holds everything the daemon
// has, and other users keep CAP_SYS_ADMIN too (GATS checks the exact sets).
import { DOCKER_DEFAULT_CAPABILITIES } from "../../core/container/capabilities.js";
import type { ContainerCapabilities } from "../../core/interfaces/runtime.js";

export const GARDEN_CAPABILITIES: readonly string[] = DOCKER_DEFAULT_CAPABILITIES;

export function gardenCapabilities(privileged: boolean): ContainerCapabilities {
  return privileged
    ? { root: "all", others: [...GARDEN_CAPABILITIES, "CAP_SYS_ADMIN"] }
    : { root: GARDEN_CAPABILITIES, others: GARDEN_CAPABILITIES };
}
