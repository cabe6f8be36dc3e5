// A pea's OCI bundle, made from its container's: the container's mounts of
// the system (proc, dev, sys), seccomp filter and devices, on a root of its
// own, joining the container's namespaces (network, IPC, UTS, PID, and the
// user one when it has it) by its init's /proc entries, with a mount
// namespace of its own. Its /etc/hosts and /etc/resolv.conf are the
// container's own files, bound in. Its cgroup is under the container's
// (sharing its limits) or beside it with limits of its own.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { BindMount, BindMountPropagation } from "../../core/interfaces/filesystem.js";
import type { PeaLimits, PeaSecurity } from "../../core/interfaces/runtime.js";
import type { OciSeccomp } from "../security/seccomp.js";
import type { OciDevice, OciProcess, OciSpec } from "./oci-spec.js";

export interface PeaBundle {
  process: OciProcess;
  rootfsPath: string;
  initPid: number;
  cgroupsPath: string;
  limits?: PeaLimits;
  /** The container's /etc, on the host (its writable layer's). */
  etc: string;
  /** Host paths bound in (after the system's and the container's files, so they win). */
  bindMounts?: BindMount[];
  /** Host devices it gets, as found on the host, with what it may do with each (cgroup access: "rwm"). */
  devices?: Array<OciDevice & { access: string }>;
  /** Its own settings (privileged, read-only root, masked and read-only paths); its own seccomp filter, read already. */
  security?: Omit<PeaSecurity, "seccomp">;
  /** Absent: the container's filter; null: none; or this one. */
  seccomp?: OciSeccomp | null;
}

const PROPAGATION: Record<BindMountPropagation, string> = { private: "rprivate", "host-to-container": "rslave", bidirectional: "rshared" };
const SYSTEM_MOUNTS = new Set(["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"]);
const JOINED: Record<string, string> = { network: "net", ipc: "ipc", uts: "uts", pid: "pid", user: "user" };

export function peaBundle(container: OciSpec, pea: PeaBundle): OciSpec {
  const sec = pea.security ?? {};
  // The host's namespace is no namespace at all; one of its own, a new one.
  const joined = container.linux.namespaces
    .filter((ns) => ns.type in JOINED)
    .filter((ns) => !(ns.type === "pid" && sec.pidNamespace) && !(ns.type === "ipc" && sec.ipcNamespace === "host"))
    .map((ns) => ({ type: ns.type, path: `/proc/${pea.initPid}/ns/${JOINED[ns.type]}` }));
  if (sec.pidNamespace === "own") joined.push({ type: "pid" } as { type: string; path: string });
  const mounts = container.mounts.filter((m) => SYSTEM_MOUNTS.has(m.destination));
  for (const name of ["hosts", "resolv.conf"]) {
    const source = join(pea.etc, name);
    if (existsSync(source)) mounts.push({ destination: `/etc/${name}`, type: "bind", source, options: ["rbind", "rw"] });
  }
  for (const m of pea.bindMounts ?? []) {
    mounts.push({ destination: m.dstPath, type: "bind", source: m.srcPath, options: ["rbind", m.mode === "ro" ? "ro" : "rw", PROPAGATION[m.propagation ?? "private"]] });
  }
  // A mount shared with the host stays so only under a shared root (the runtime makes it rslave by default).
  const propagations = (pea.bindMounts ?? []).map((m) => m.propagation);
  const rootfsPropagation = propagations.includes("bidirectional") ? "rshared" : propagations.includes("host-to-container") ? "rslave" : undefined;
  // The container's device rules, privileged or not: a cgroup cannot allow what its parent denies.
  const resources: OciSpec["linux"]["resources"] = {
    devices: [
      ...container.linux.resources.devices,
      ...(pea.devices ?? []).map((d) => ({ allow: true, type: d.type, major: d.major, minor: d.minor, access: d.access })),
    ],
  };
  if (pea.limits?.memoryBytes) (resources as Record<string, unknown>).memory = { limit: pea.limits.memoryBytes };
  const cpu = {
    ...(pea.limits?.cpuShares ? { shares: pea.limits.cpuShares } : {}),
    ...(pea.limits?.cpuQuota ? { quota: pea.limits.cpuQuota, period: pea.limits.cpuPeriod || 100_000n } : {}),
    ...(pea.limits?.cpusetCpus ? { cpus: pea.limits.cpusetCpus } : {}),
    ...(pea.limits?.cpusetMems ? { mems: pea.limits.cpusetMems } : {}),
  };
  if (Object.keys(cpu).length > 0) (resources as Record<string, unknown>).cpu = cpu;
  // The container's kernel parameters were set in its namespaces as it was made; a pea in the host's would set the host's.
  const { uidMappings: _u, gidMappings: _g, seccomp: containerSeccomp, sysctl: _s, ...linux } = container.linux;
  // Joining the container's UTS namespace: its host name is the container's already.
  const { hostname: _h, annotations, ...rest } = container;
  const ownFilter = sec.privileged || pea.seccomp !== undefined;
  // The container's filter may be there compiled, as crun's annotation: a filter of its own replaces both.
  const { "run.oci.seccomp_bpf_data": _bpf, ...otherAnnotations } = annotations ?? {};
  const seccomp = sec.privileged ? undefined : pea.seccomp === undefined ? containerSeccomp : (pea.seccomp ?? undefined);
  return {
    ...rest,
    ...(ownFilter ? (Object.keys(otherAnnotations).length ? { annotations: otherAnnotations } : {}) : annotations ? { annotations } : {}),
    process: pea.process,
    root: { path: pea.rootfsPath, readonly: sec.readonlyRoot ?? false },
    mounts,
    linux: {
      ...linux,
      devices: [...linux.devices, ...(pea.devices ?? []).map(({ access: _a, ...node }) => node)],
      ...(seccomp ? { seccomp } : {}),
      maskedPaths: sec.privileged ? [] : (sec.maskedPaths ?? linux.maskedPaths),
      readonlyPaths: sec.privileged ? [] : (sec.readonlyPaths ?? linux.readonlyPaths),
      namespaces: [{ type: "mount" }, ...joined],
      ...(rootfsPropagation ? { rootfsPropagation } : {}),
      cgroupsPath: pea.cgroupsPath,
      resources,
    },
  } as OciSpec;
}
