// A CRI container's security context as the core's terms: its capabilities
// (Docker's default set, what it adds and drops, "ALL" either way; all of
// them when privileged), its pea's settings (privileged, read-only root,
// masked and read-only paths, seccomp: none when absent or Unconfined, the
// daemon's filter for RuntimeDefault, a host file for Localhost), its
// supplementary groups (with the image's or without: the policy), and whether setuid programs may raise privileges
// (they may unless no_new_privs, as Kubernetes' allowPrivilegeEscalation).
import { status as grpcStatus } from "@grpc/grpc-js";
import { ALL_CAPABILITIES, DOCKER_DEFAULT_CAPABILITIES } from "../../core/container/capabilities.js";
import type { ContainerCapabilities, PeaSecurity } from "../../core/interfaces/runtime.js";
import { runtime } from "../../protocol/gen/cri.js";
import { CriRequestError } from "./errors.js";
import v1 = runtime.v1;

export interface ContainerSecurity {
  capabilities: ContainerCapabilities;
  pea: PeaSecurity;
  groups: number[];
  /** Strict: the image's /etc/group adds nothing to the user's groups. */
  strictGroups?: boolean;
  allowPrivilegeGain: boolean;
}

const capName = (name: string) => {
  const upper = name.toUpperCase();
  return upper.startsWith("CAP_") ? upper : `CAP_${upper}`;
};

function capabilities(sc: v1.LinuxContainerSecurityContext.$Properties | null | undefined): ContainerCapabilities {
  if (sc?.privileged) return { root: "all", others: ALL_CAPABILITIES };
  const add = (sc?.capabilities?.add_capabilities ?? []).map(capName);
  const drop = (sc?.capabilities?.drop_capabilities ?? []).map(capName);
  let set = new Set<string>(drop.includes("CAP_ALL") ? [] : add.includes("CAP_ALL") ? ALL_CAPABILITIES : DOCKER_DEFAULT_CAPABILITIES);
  for (const c of add) if (c !== "CAP_ALL") set.add(c);
  for (const c of drop) set.delete(c);
  if (add.includes("CAP_ALL") && !drop.includes("CAP_ALL")) set = new Set([...ALL_CAPABILITIES].filter((c) => !drop.includes(c)));
  const unknown = [...set].filter((c) => !ALL_CAPABILITIES.includes(c));
  if (unknown.length > 0) throw new CriRequestError(`unknown capabilities: ${unknown.join(", ")}`);
  const list = [...set];
  return { root: list, others: list };
}

function seccomp(sc: v1.LinuxContainerSecurityContext.$Properties | null | undefined): PeaSecurity["seccomp"] {
  const profile = sc?.seccomp;
  if (profile) {
    const type = profile.profile_type ?? v1.SecurityProfile.ProfileType.RuntimeDefault;
    if (type === v1.SecurityProfile.ProfileType.RuntimeDefault) return "default";
    if (type === v1.SecurityProfile.ProfileType.Localhost) {
      if (!profile.localhost_ref?.startsWith("/")) throw new CriRequestError("a Localhost seccomp profile needs the absolute path of its file");
      return { profilePath: profile.localhost_ref };
    }
    return "unconfined";
  }
  // The older string form: runtime/default, docker/default, unconfined, localhost/<path>; none is unconfined.
  const path = sc?.seccomp_profile_path ?? "";
  if (path === "runtime/default" || path === "docker/default") return "default";
  if (path.startsWith("localhost/")) {
    const file = path.slice("localhost/".length);
    if (!file.startsWith("/")) throw new CriRequestError("a localhost/ seccomp profile needs the absolute path of its file");
    return { profilePath: file };
  }
  return "unconfined";
}

/** The container's PID and IPC namespaces: its own options, else its pod's (POD: the sandbox's, NODE: the host's, CONTAINER: a PID namespace of its own). */
function namespaces(
  own: v1.NamespaceOption.$Properties | null | undefined,
  pod: { pid: number; ipc: number },
): Pick<PeaSecurity, "pidNamespace" | "ipcNamespace"> {
  const pid = own ? (own.pid ?? v1.NamespaceMode.POD) : pod.pid;
  const ipc = own ? (own.ipc ?? v1.NamespaceMode.POD) : pod.ipc;
  if (pid === v1.NamespaceMode.TARGET) throw new CriRequestError("sharing another container's PID namespace (TARGET) is not supported", grpcStatus.UNIMPLEMENTED);
  return {
    ...(pid === v1.NamespaceMode.NODE ? { pidNamespace: "host" as const } : pid === v1.NamespaceMode.CONTAINER ? { pidNamespace: "own" as const } : {}),
    ...(ipc === v1.NamespaceMode.NODE ? { ipcNamespace: "host" as const } : {}),
  };
}

export function containerSecurity(
  sc: v1.LinuxContainerSecurityContext.$Properties | null | undefined,
  sandboxPrivileged: boolean,
  podNamespaces: { pid: number; ipc: number } = { pid: v1.NamespaceMode.POD, ipc: v1.NamespaceMode.POD },
): ContainerSecurity {
  const privileged = sc?.privileged ?? false;
  if (privileged && !sandboxPrivileged) {
    throw new CriRequestError("a privileged container needs a privileged pod sandbox", grpcStatus.FAILED_PRECONDITION);
  }
  const pea: PeaSecurity = { ...namespaces(sc?.namespace_options, podNamespaces) };
  if (privileged) pea.privileged = true;
  if (sc?.readonly_rootfs) pea.readonlyRoot = true;
  if (!privileged && sc?.masked_paths?.length) pea.maskedPaths = [...sc.masked_paths];
  if (!privileged && sc?.readonly_paths?.length) pea.readonlyPaths = [...sc.readonly_paths];
  const filter = privileged ? undefined : seccomp(sc);
  if (filter !== undefined) pea.seccomp = filter;
  return {
    capabilities: capabilities(sc),
    pea,
    groups: (sc?.supplemental_groups ?? []).map((g) => Number(g)),
    ...(sc?.supplemental_groups_policy === v1.SupplementalGroupsPolicy.Strict ? { strictGroups: true } : {}),
    allowPrivilegeGain: !(sc?.no_new_privs ?? false),
  };
}
