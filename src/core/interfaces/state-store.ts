// Where containers are kept for a restarted daemon.
import type { DiskLimits } from "./disk-quota.js";
import type { IdMap } from "./id-map.js";
import type { BindMount } from "./filesystem.js";
import type { ImageConfig } from "./image-store.js";
import type { ContainerCapabilities } from "./runtime.js";
import type { BandwidthLimit, BandwidthStat, ContainerNetwork, NetInRule, NetOutRule } from "./network.js";

/** What a container is, as kept on disk. JSON: big numbers as strings. */
export interface ContainerRecord {
  version: 1;
  id: string;
  handle: string;
  uid: number;
  rootfs: string;
  /** The image it was made from, with the configuration its processes use. */
  image?: { name: string; id: string; config: ImageConfig };
  privileged?: boolean;
  idMap?: IdMap;
  capabilities?: ContainerCapabilities;
  pidsLimit?: number;
  bindMounts: BindMount[];
  /** Seconds, or null for never. */
  graceTime: number | null;
  network: ContainerNetwork;
  state: "active" | "stopped";
  events: string[];
  netIns: Array<NetInRule & { fromPool: boolean }>;
  netOuts: NetOutRule[];
  bandwidth?: BandwidthLimit;
  bandwidthStat?: BandwidthStat;
  memoryLimit?: string;
  cpuShares?: string;
  diskLimits?: Record<keyof DiskLimits, string>;
  properties?: Record<string, string>;
  env?: string[];
  /** Milliseconds since the epoch. */
  createdAt?: number;
  /** Set when a destroy begins: a daemon killed during it leaves a container a restart must finish off, not take back. */
  destroying?: true;
}

export interface StateStore {
  /** Written atomically: a reader sees the old record or the new one, never a mix. */
  save(record: ContainerRecord): Promise<void>;
  /** undefined when there is none; throws when it cannot be read as a record. */
  load(id: string): Promise<ContainerRecord | undefined>;
  /** A number kept across restarts (the highest process number handed out so far may not go lower). */
  loadCounter(name: string): Promise<number>;
  saveCounter(name: string, value: number): Promise<void>;
  /** Forgets every counter; only when no container is left to refer to what they counted. */
  clearCounters(): Promise<void>;
}
