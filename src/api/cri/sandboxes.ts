// Pod sandboxes on the core's containers. A sandbox is a container of the
// core: its init is PID 1 of the pod and holds the namespaces the pod's
// containers join, it has its own network from the pool, host name, DNS
// settings and host port mappings; no user namespace (Kubernetes' default:
// a pod's root is the host's, with Docker's default capabilities) unless the
// kubelet gives it a map of its own. What only the CRI knows of it (metadata, labels,
// annotations, log directory, namespace modes) is kept in one property of
// the container, so it is recorded with the container and survives a
// restart of the daemon. Its id is the container's handle; a stopped
// container is a sandbox that is not ready.
import { randomBytes } from "node:crypto";
import { status as grpcStatus } from "@grpc/grpc-js";
import type { ContainerInfo } from "../../core/container/container.js";
import { DOCKER_DEFAULT_CAPABILITIES } from "../../core/container/capabilities.js";
import type { ContainerSpec } from "../../core/container/spec.js";
import { CoreError } from "../../core/errors.js";
import { checkCgroupParent } from "../../core/process/spec.js";
import type { ContainerService } from "../../core/service/container-service.js";
import { runtime } from "../../protocol/gen/cri.js";
import { CriRequestError } from "./errors.js";
import { matchesLabels } from "./labels.js";
import { nanos } from "./longs.js";
import type { PortDialer } from "./streaming/port-forward.js";
import v1 = runtime.v1;

/** Marks the containers that are sandboxes (a filter for the core's list). */
export const KIND_PROPERTY = "cri.kind";
const RECORD_PROPERTY = "cri.sandbox";

/** What the CRI alone knows of a sandbox. */
export interface SandboxRecord {
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  logDirectory: string;
  runtimeHandler: string;
  namespaces: { network: number; pid: number; ipc: number };
  /** A user namespace of the pod's own: container ids 0..size-1 are host ids hostId.. (uids and gids). */
  userns?: { hostId: number; size: number };
  /** Its containers may be privileged. */
  privileged?: boolean;
  /** The kubelet's pod cgroup: its containers' cgroups go under it. */
  cgroupParent?: string;
}

export interface Sandbox {
  id: string;
  record: SandboxRecord;
  info: ContainerInfo;
}

const notFound = (id: string) => new CriRequestError(`pod sandbox ${JSON.stringify(id)} not found`, grpcStatus.NOT_FOUND);

export class Sandboxes {
  constructor(private readonly service: ContainerService) {}

  /** The sandbox, or undefined when there is none of that id (or the container is no sandbox). */
  find(id: string): Sandbox | undefined {
    let info: ContainerInfo;
    try {
      info = this.service.info(id);
    } catch (err) {
      if (err instanceof CoreError && (err.code === "CONTAINER_NOT_FOUND" || err.code === "WRONG_STATE")) return undefined;
      throw err;
    }
    const text = info.properties[RECORD_PROPERTY];
    if (info.properties[KIND_PROPERTY] !== "sandbox" || text === undefined) return undefined;
    return { id, record: JSON.parse(text) as SandboxRecord, info };
  }

  /** Every sandbox there is. */
  all(): Sandbox[] {
    return this.service
      .list({ [KIND_PROPERTY]: "sandbox" })
      .map((id) => this.find(id))
      .filter((s) => s !== undefined);
  }

  get(id: string): Sandbox {
    const found = this.find(id);
    if (!found) throw notFound(id);
    return found;
  }

  async run(r: v1.RunPodSandboxRequest): Promise<string> {
    const config = r.config;
    if (!config?.metadata) throw new CriRequestError("a pod sandbox needs its metadata");
    if (r.runtime_handler) throw new CriRequestError(`no runtime handler ${JSON.stringify(r.runtime_handler)}: only the default one ("")`);
    const m = config.metadata;
    const ns = config.linux?.security_context?.namespace_options;
    const record: SandboxRecord = {
      metadata: { name: m.name ?? "", uid: m.uid ?? "", namespace: m.namespace ?? "", attempt: m.attempt ?? 0 },
      labels: { ...(config.labels ?? {}) },
      annotations: { ...(config.annotations ?? {}) },
      logDirectory: config.log_directory ?? "",
      runtimeHandler: "",
      namespaces: { network: ns?.network ?? v1.NamespaceMode.POD, pid: ns?.pid ?? v1.NamespaceMode.POD, ipc: ns?.ipc ?? v1.NamespaceMode.POD },
      privileged: config.linux?.security_context?.privileged ?? false,
      ...(config.linux?.cgroup_parent ? { cgroupParent: config.linux.cgroup_parent } : {}),
    };
    if (record.cgroupParent) checkCgroupParent(record.cgroupParent);
    const userns = podUserNamespace(ns?.userns_options);
    if (userns) {
      if (record.privileged) throw new CriRequestError("a privileged pod cannot have a user namespace of its own");
      const host = Object.entries(record.namespaces).filter(([, mode]) => mode === v1.NamespaceMode.NODE).map(([name]) => name);
      if (host.length > 0) throw new CriRequestError(`a pod with a user namespace of its own cannot share the node's ${host.join(", ")} namespace`);
      record.userns = userns;
    }
    const id = randomBytes(32).toString("hex");
    // The node's network: the pod's ports are the host's own, nothing to map.
    const hostNetwork = record.namespaces.network === v1.NamespaceMode.NODE;
    const spec: ContainerSpec = {
      handle: id,
      // Without a user namespace, as Kubernetes runs pods by default: container root is host root,
      // holding Docker's default set. With the kubelet's map, a user namespace of that map.
      ...(userns ? { idMap: userns } : { privileged: true }),
      capabilities: { root: DOCKER_DEFAULT_CAPABILITIES, others: DOCKER_DEFAULT_CAPABILITIES },
      // The kubelet removes what it no longer wants; nothing is reaped behind its back.
      graceTime: null,
      // Its init is the pod's too: under the kubelet's pod cgroup, with the pod's containers.
      ...(record.cgroupParent ? { cgroupParent: record.cgroupParent } : {}),
      properties: { [KIND_PROPERTY]: "sandbox", [RECORD_PROPERTY]: JSON.stringify(record) },
      ...(hostNetwork
        ? { hostNetwork: true }
        : {
            netIn: (config.port_mappings ?? [])
              .filter((p) => (p.host_port ?? 0) > 0)
              .map((p) => ({ hostPort: p.host_port ?? 0, containerPort: p.container_port || (p.host_port ?? 0) })),
          }),
    };
    if (config.hostname) spec.hostname = config.hostname;
    const sysctls = config.linux?.sysctls ?? {};
    if (Object.keys(sysctls).length > 0) spec.sysctls = { ...sysctls };
    const dns = config.dns_config;
    if (dns) spec.dns = { servers: [...(dns.servers ?? [])], searches: [...(dns.searches ?? [])], options: [...(dns.options ?? [])] };
    await this.service.create(spec);
    return id;
  }

  /** Kills what runs in it (the kubelet stops a pod without a grace period); the init and its namespaces stay. */
  async stop(id: string): Promise<void> {
    const sandbox = this.find(id);
    if (!sandbox || sandbox.info.state === "stopped") return;
    await this.service.stop(id, { kill: true });
  }

  async remove(id: string): Promise<void> {
    if (!this.find(id)) return;
    try {
      await this.service.destroy(id);
    } catch (err) {
      // Removed meanwhile by another call: what the caller wanted.
      if (!(err instanceof CoreError && err.code === "CONTAINER_NOT_FOUND")) throw err;
    }
  }

  /** Connects to a port of a ready sandbox on its own loopback, as the kubelet does (a server bound to 127.0.0.1 in the pod is reached too). */
  portDialer(id: string): PortDialer {
    const s = this.get(id);
    if (s.info.state !== "active") throw new CriRequestError(`pod sandbox ${id} is not ready`, grpcStatus.FAILED_PRECONDITION);
    return (port) => this.service.connect(id, port);
  }

  status(id: string): v1.PodSandboxStatus.$Properties {
    const s = this.get(id);
    return {
      id: s.id,
      metadata: s.record.metadata,
      state: this.state(s),
      created_at: nanos(s.info.createdAt),
      // A pod on the node's network has no address of its own (the kubelet takes the node's).
      network: { ip: this.hostNetwork(s) ? "" : s.info.network.containerIp, additional_ips: [] },
      linux: {
        namespaces: {
          options: {
            network: s.record.namespaces.network,
            pid: s.record.namespaces.pid,
            ipc: s.record.namespaces.ipc,
            userns_options: s.record.userns ? userNamespaceOption(s.record.userns) : { mode: v1.NamespaceMode.NODE },
          },
        },
      },
      labels: s.record.labels,
      annotations: s.record.annotations,
      runtime_handler: s.record.runtimeHandler,
    };
  }

  list(filter: v1.PodSandboxFilter.$Properties | null | undefined): v1.PodSandbox.$Properties[] {
    const ids = filter?.id ? [filter.id] : this.service.list({ [KIND_PROPERTY]: "sandbox" });
    const out: v1.PodSandbox.$Properties[] = [];
    for (const id of ids) {
      const s = this.find(id);
      if (!s) continue;
      const state = this.state(s);
      if (filter?.state && filter.state.state !== state) continue;
      if (!matchesLabels(s.record.labels, filter?.label_selector)) continue;
      out.push({
        id: s.id,
        metadata: s.record.metadata,
        state,
        created_at: nanos(s.info.createdAt),
        labels: s.record.labels,
        annotations: s.record.annotations,
        runtime_handler: s.record.runtimeHandler,
      });
    }
    return out;
  }

  private hostNetwork(s: Sandbox): boolean {
    return s.record.namespaces.network === v1.NamespaceMode.NODE;
  }

  private state(s: Sandbox): v1.PodSandboxState {
    return s.info.state === "active" ? v1.PodSandboxState.SANDBOX_READY : v1.PodSandboxState.SANDBOX_NOTREADY;
  }
}

/**
 * The pod's user namespace as the kubelet asks for it: NODE (or nothing),
 * none of its own; POD, one with a single map from container id 0, the
 * same for uids and gids (the kubelet gives each pod one range of both).
 */
export function podUserNamespace(options: v1.UserNamespace.$Properties | null | undefined): { hostId: number; size: number } | undefined {
  const mode = options?.mode ?? v1.NamespaceMode.NODE;
  if (mode === v1.NamespaceMode.NODE) return undefined;
  if (mode !== v1.NamespaceMode.POD) throw new CriRequestError(`user namespace mode ${v1.NamespaceMode[mode] ?? mode}: a pod's user namespace is the node's (NODE) or its own (POD)`);
  const uids = options?.uids ?? [];
  const gids = options?.gids ?? [];
  if (uids.length !== 1 || gids.length !== 1) {
    throw new CriRequestError(`a pod's user namespace takes exactly one uid and one gid mapping (given ${uids.length} and ${gids.length})`);
  }
  const [u, g] = [uids[0], gids[0]];
  if ((u.container_id ?? 0) !== 0 || (g.container_id ?? 0) !== 0) throw new CriRequestError("a pod's user namespace must map container id 0 (its root)");
  if ((u.host_id ?? 0) !== (g.host_id ?? 0) || (u.length ?? 0) !== (g.length ?? 0)) {
    throw new CriRequestError("a pod's user namespace maps uids and gids alike: the two mappings must be the same");
  }
  return { hostId: u.host_id ?? 0, size: u.length ?? 0 };
}

function userNamespaceOption(map: { hostId: number; size: number }): v1.UserNamespace.$Properties {
  const mapping = [{ container_id: 0, host_id: map.hostId, length: map.size }];
  return { mode: v1.NamespaceMode.POD, uids: mapping, gids: mapping };
}
