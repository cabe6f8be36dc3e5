// One container as the core sees it: its identity, its state (Warden's
// born → active → stopped → destroyed), its events, jobs and grace timer.
import { errors } from "./errors.js";
import type {
  BandwidthLimit,
  BandwidthStat,
  BindMount,
  ContainerNetwork,
  CpuStat,
  DiskLimits,
  DiskUsage,
  MemoryStat,
  NetInRule,
  NetOutRule,
} from "./interfaces.js";
import type { Job } from "./job.js";

export type ContainerState = "born" | "active" | "stopped" | "destroyed";

export interface InfoResult {
  state: ContainerState;
  events: string[];
  hostIp?: string;
  containerIp?: string;
  containerPath: string;
  jobIds: number[];
  bandwidthStat?: BandwidthStat;
  memoryStat?: MemoryStat;
  cpuStat?: CpuStat;
  diskStat?: DiskUsage;
}

export interface ForwardedPort extends NetInRule {
  /** Taken from the port pool, to be given back on destroy. */
  fromPool: boolean;
}

export class Container {
  state: ContainerState = "born";
  readonly jobs = new Map<number, Job>();
  /** Connections that reference this container; while any does, no grace timer runs. */
  readonly refs = new Set<number>();
  graceTimer: NodeJS.Timeout | undefined;
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
  /** Info saved by Destroy, answered to Links and Streams that outlive the container. */
  obituary: InfoResult | undefined;
  private readonly eventSet = new Set<string>();

  constructor(
    readonly id: string,
    readonly handle: string,
    readonly path: string,
    readonly uid: number,
    readonly rootfs: string,
    readonly bindMounts: BindMount[],
    /** Seconds, or null for never. */
    readonly graceTime: number | null,
    readonly network: ContainerNetwork,
  ) {}

  get events(): string[] {
    return [...this.eventSet];
  }

  addEvent(event: string): void {
    this.eventSet.add(event);
  }

  /** The state clients see: a container being destroyed is as good as destroyed. */
  get visibleState(): ContainerState {
    return this.destroying ? "destroyed" : this.state;
  }

  assertState(...allowed: ContainerState[]): void {
    const current = this.visibleState;
    if (!allowed.includes(current)) throw errors.wrongState(allowed, current);
  }

  runningJobIds(): number[] {
    return [...this.jobs.values()].filter((j) => j.running).map((j) => j.id);
  }
}
