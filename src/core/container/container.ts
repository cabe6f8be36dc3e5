// One container as the core sees it: who it is, its state (born → active →
// stopped → destroyed), its events, processes, rules, limits and properties.
import { errors } from "../errors.js";
import type { DiskLimits } from "../interfaces/disk-quota.js";
import type { IdMap } from "../interfaces/id-map.js";
import type { BindMount } from "../interfaces/filesystem.js";
import type { ImageConfig } from "../interfaces/image-store.js";
import type { ContainerCapabilities } from "../interfaces/runtime.js";
import type { BandwidthLimit, BandwidthStat, ContainerNetwork, NetInRule, NetOutRule } from "../interfaces/network.js";
import { ProcessTable } from "../process/process-table.js";

export type ContainerState = "born" | "active" | "stopped" | "destroyed";

/** What happened to a container that its clients should know. */
export type ContainerEvent = "out-of-memory" | "process-output-exceeded";

export const CONTAINER_EVENTS: readonly ContainerEvent[] = ["out-of-memory", "process-output-exceeded"];

export type Properties = Record<string, string>;

export interface ForwardedPort extends NetInRule {
  /** Taken from the port pool, to be given back on destroy. */
  fromPool: boolean;
}

/** What a client is told of a container (what the core knows, without asking the machine). */
export interface ContainerInfo {
  handle: string;
  id: string;
  state: ContainerState;
  events: ContainerEvent[];
  network: ContainerNetwork;
  path: string;
  rootfs: string;
  /** The image it was made from, when rootfs named one. */
  image?: { name: string; id: string };
  /** Ids of the processes still running. */
  processIds: string[];
  properties: Properties;
  graceTime: number | null;
  netIns: NetInRule[];
  createdAt: number;
}

/** The image a container was made from. */
export interface ContainerImage {
  name: string;
  id: string;
  config: ImageConfig;
}

export interface ContainerIdentity {
  id: string;
  handle: string;
  path: string;
  uid: number;
  rootfs: string;
  image?: ContainerImage;
  /** Without a user namespace. */
  privileged?: boolean;
  /** A user namespace of its own, with this map (else the daemon's, unless privileged). */
  idMap?: IdMap;
  capabilities?: ContainerCapabilities;
  /** Its own limit on processes, when it was made with one. */
  pidsLimit?: number;
  bindMounts: BindMount[];
  network: ContainerNetwork;
  /** Seconds, or null for never. */
  graceTime: number | null;
  env: string[];
  properties: Properties;
  createdAt: number;
}

export class Container {
  state: ContainerState = "born";
  readonly id: string;
  readonly handle: string;
  readonly path: string;
  readonly uid: number;
  readonly rootfs: string;
  readonly image: ContainerImage | undefined;
  readonly privileged: boolean;
  readonly idMap: IdMap | undefined;
  readonly capabilities: ContainerCapabilities | undefined;
  readonly pidsLimit: number | undefined;
  readonly bindMounts: BindMount[];
  readonly network: ContainerNetwork;
  /** The environment every process starts from. */
  readonly env: string[];
  readonly createdAt: number;
  graceTime: number | null;
  properties: Properties;
  readonly processes: ProcessTable;
  readonly netIns: ForwardedPort[] = [];
  readonly netOuts: NetOutRule[] = [];
  bandwidth: BandwidthLimit | undefined;
  /** The limit as the kernel holds it, read back when it was set. */
  bandwidthStat: BandwidthStat | undefined;
  /** Limits set through the API, kept to be applied again after a restart. */
  memoryLimit: bigint | undefined;
  cpuShares: bigint | undefined;
  diskLimits: DiskLimits | undefined;
  stopWatchingOom: (() => void) | undefined;
  stopping: Promise<void> | undefined;
  destroying: Promise<void> | undefined;
  /** Info kept by Destroy, for waits on its processes that outlive it. */
  obituary: ContainerInfo | undefined;
  private readonly eventSet = new Set<ContainerEvent>();

  constructor(identity: ContainerIdentity) {
    this.id = identity.id;
    this.handle = identity.handle;
    this.path = identity.path;
    this.uid = identity.uid;
    this.rootfs = identity.rootfs;
    this.image = identity.image;
    this.privileged = identity.privileged ?? false;
    this.idMap = identity.idMap;
    this.capabilities = identity.capabilities;
    this.pidsLimit = identity.pidsLimit;
    this.bindMounts = identity.bindMounts;
    this.network = identity.network;
    this.graceTime = identity.graceTime;
    this.env = identity.env;
    this.properties = identity.properties;
    this.createdAt = identity.createdAt;
    this.processes = new ProcessTable();
  }

  get events(): ContainerEvent[] {
    return [...this.eventSet];
  }

  /** Records an event once; true when it is new. */
  addEvent(event: ContainerEvent): boolean {
    if (this.eventSet.has(event)) return false;
    this.eventSet.add(event);
    return true;
  }

  /** The state clients see: a container being destroyed is as good as destroyed. */
  get visibleState(): ContainerState {
    return this.destroying ? "destroyed" : this.state;
  }

  /** Whether a client may find it by its handle. */
  get findable(): boolean {
    return this.state === "active" || this.state === "stopped";
  }

  assertState(...allowed: ContainerState[]): void {
    const current = this.visibleState;
    if (!allowed.includes(current)) throw errors.wrongState(allowed, current);
  }

  info(): ContainerInfo {
    if (this.obituary) return this.obituary;
    return {
      handle: this.handle,
      id: this.id,
      state: this.state,
      events: this.events,
      network: this.network,
      path: this.path,
      rootfs: this.rootfs,
      image: this.image ? { name: this.image.name, id: this.image.id } : undefined,
      processIds: this.processes.runningIds(),
      properties: { ...this.properties },
      graceTime: this.graceTime,
      netIns: this.netIns.map(({ hostPort, containerPort }) => ({ hostPort, containerPort })),
      createdAt: this.createdAt,
    };
  }
}
