// What the parts of the container service share: configuration, the
// machine's interfaces, the registry, the pools, the grace reaper.
import type { Container } from "../container/container.js";
import { toRecord } from "../container/record.js";
import { ContainerIdGenerator } from "../container-id.js";
import { errors } from "../errors.js";
import type { Depot } from "../interfaces/depot.js";
import type { DiskQuota } from "../interfaces/disk-quota.js";
import type { FileTransfer } from "../interfaces/file-transfer.js";
import type { Filesystem } from "../interfaces/filesystem.js";
import type { IdMap } from "../interfaces/id-map.js";
import type { ImageStore } from "../interfaces/image-store.js";
import type { Limits } from "../interfaces/limits.js";
import type { Logger } from "../interfaces/logger.js";
import type { MetricsSink } from "../interfaces/metrics-sink.js";
import type { Network } from "../interfaces/network.js";
import type { ProcessLogSink } from "../interfaces/process-log.js";
import type { Runtime } from "../interfaces/runtime.js";
import type { StateStore } from "../interfaces/state-store.js";
import { Allocator, type AllocatorConfig } from "./allocator.js";
import { GraceReaper } from "./grace-reaper.js";
import { Registry } from "./registry.js";

export interface ServiceConfig extends AllocatorConfig {
  defaultRootfs: string;
  /** Seconds; null: containers are never reaped. */
  graceTime: number | null;
  /** Bytes of each stream a process keeps unless its spec says otherwise. */
  outputLimit: number;
  stopTimeoutMs: number;
  /** The name of the unprivileged user every container gets, with a uid from the pool. */
  containerUser: string;
  /** The daemon's own user namespace map, which a container's own map must stay clear of. */
  sharedIdMap?: IdMap;
}

export interface ServiceDeps {
  runtime: Runtime;
  network: Network;
  limits: Limits;
  files: FileTransfer;
  /** Absent when disk quotas are off: disk limits then do nothing and metrics have no disk usage. */
  diskQuota?: DiskQuota;
  filesystem: Filesystem;
  /** Absent: containers are made from directories only. */
  images?: ImageStore;
  depot: Depot;
  state: StateStore;
  processLog?: ProcessLogSink;
  logger: Logger;
  ids?: ContainerIdGenerator;
  metrics?: MetricsSink;
}

export class ServiceContext {
  readonly registry = new Registry();
  readonly allocator: Allocator;
  readonly reaper: GraceReaper;
  readonly ids: ContainerIdGenerator;
  readonly log: Logger;

  constructor(
    readonly config: ServiceConfig,
    readonly deps: ServiceDeps,
    onGraceExpired: (c: Container) => void,
  ) {
    this.allocator = new Allocator(config);
    this.reaper = new GraceReaper(onGraceExpired);
    this.ids = deps.ids ?? new ContainerIdGenerator();
    this.log = deps.logger;
  }

  logFor(c: Container): Logger {
    return this.log.child({ handle: c.handle, id: c.id });
  }

  /**
   * Writes the container's record. Requests that change a container answer
   * only once it is written: what a client was told has happened survives a
   * crash right after.
   */
  async persist(c: Container): Promise<void> {
    // A container being born is written once, whole, when it is made.
    if (c.state === "born" || c.state === "destroyed" || c.destroying) return;
    try {
      await this.deps.state.save(toRecord(c));
    } catch (err) {
      this.logFor(c).error({ err: String(err) }, "cannot write the container's record");
      throw errors.internal(`cannot save the container's record: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }
}
