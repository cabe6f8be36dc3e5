// The core's API: containers and their processes, files, network, limits,
// properties and grace time, in domain terms only. Every front end (Warden's
// protocol, Garden's HTTP API, the CRI) is a thin mapping onto this; none of
// their texts, types or connections appear here.
import type { Duplex, Readable } from "node:stream";
import type { Container, ContainerEvent, ContainerInfo, Properties } from "../container/container.js";
import { checkProperty, matchesAll } from "../container/properties.js";
import type { ContainerSpec } from "../container/spec.js";
import { errors } from "../errors.js";
import type { DiskLimits } from "../interfaces/disk-quota.js";
import type { FilesystemUsage } from "../interfaces/filesystem.js";
import type { CgroupDetail } from "../interfaces/limits.js";
import { isHostNetwork, type BandwidthLimit, type NetInRule, type NetOutRule, type TrafficStats } from "../interfaces/network.js";
import type { ProcessSpec } from "../process/spec.js";
import { ServiceContext, type ServiceConfig, type ServiceDeps } from "./context.js";
import { Creator } from "./creator.js";
import { Destroyer } from "./destroyer.js";
import { FilesService } from "./files.js";
import { ImageService } from "./images.js";
import type { PoolUse } from "./allocator.js";
import { LimitsService, type ContainerLimits, type ContainerMetrics, type DiskLimitsView } from "./limits.js";
import { NetworkingService } from "./networking.js";
import { OomHandler } from "./oom.js";
import { ProcessService, type ProcessRef } from "./processes.js";
import { Recovery } from "./recovery.js";
import { Stopper } from "./stopper.js";
import { UserLookup } from "./users.js";

export type { ServiceConfig, ServiceDeps } from "./context.js";
export type { ContainerLimits, ContainerMetrics, DiskLimitsView } from "./limits.js";
export type { ProcessRef } from "./processes.js";

/** How many of what there are now, for metrics. */
export interface ServiceStats {
  containers: Record<"active" | "stopped", number>;
  processes: { running: number; ended: number };
  pools: Record<"networks" | "uids" | "ports", PoolUse>;
}

export class ContainerService {
  private readonly ctx: ServiceContext;
  private readonly creator: Creator;
  private readonly destroyer: Destroyer;
  private readonly stopper: Stopper;
  private readonly processes: ProcessService;
  private readonly limitsService: LimitsService;
  private readonly networking: NetworkingService;
  private readonly files: FilesService;
  private readonly recovery: Recovery;
  /** The image store, by the names clients give. */
  readonly images: ImageService;

  constructor(config: ServiceConfig, deps: ServiceDeps) {
    this.ctx = new ServiceContext(config, deps, (c) => this.reap(c));
    const users = new UserLookup(this.ctx);
    this.stopper = new Stopper(this.ctx);
    this.destroyer = new Destroyer(this.ctx);
    this.limitsService = new LimitsService(this.ctx);
    this.networking = new NetworkingService(this.ctx);
    this.processes = new ProcessService(this.ctx, users);
    this.files = new FilesService(this.ctx, users);
    const oom = new OomHandler(this.ctx, (c) => this.stopper.stop(c, false));
    this.creator = new Creator(this.ctx, this.limitsService, this.networking, oom);
    this.images = new ImageService(this.ctx);
    this.recovery = new Recovery(this.ctx, this.limitsService, this.networking, this.processes, oom);
  }

  private find(handle: string): Container {
    return this.ctx.registry.find(handle);
  }

  private reap(c: Container): void {
    const log = this.ctx.logFor(c);
    log.info({ graceTime: c.graceTime }, "grace time expired; destroying");
    this.destroyer.destroy(c).catch((err) => log.error({ err: String(err) }, "destroy after grace time failed"));
  }

  // ---- containers ----

  /** Makes a container; answers its handle (its id when the spec names none). */
  async create(spec: ContainerSpec): Promise<string> {
    return this.creator.create(spec);
  }

  async destroy(handle: string): Promise<void> {
    return this.destroyer.destroy(this.find(handle));
  }

  /** Stops every process of the container (TERM, then KILL after the stop timeout; KILL at once with `kill`). */
  async stop(handle: string, options: { kill: boolean; background?: boolean }): Promise<void> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    const work = this.stopper.stop(c, options.kill);
    if (!options.background) return work;
    work.catch((err) => this.ctx.logFor(c).error({ err: String(err) }, "background stop failed"));
  }

  info(handle: string): ContainerInfo {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return c.info();
  }

  /** What the container uses (memory, cpu, disk, bandwidth, processes, age). */
  async metrics(handle: string): Promise<ContainerMetrics> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.limitsService.metrics(c);
  }

  /** A pea's usage, by its process id (Garden names peas so in BulkMetrics); undefined when none runs. */
  async peaMetrics(processId: string): Promise<ContainerMetrics | undefined> {
    const pea = this.processes.pea(processId);
    return pea ? this.limitsService.metricsOf(pea.container, pea.cgroup) : undefined;
  }

  /** A pea's usage in detail (its cgroup's, its processes', its writable layer's), by its process id; undefined when none runs. */
  async peaDetail(processId: string): Promise<{ metrics: ContainerMetrics; detail: CgroupDetail; disk: FilesystemUsage; oomKills: number } | undefined> {
    const pea = this.processes.pea(processId);
    if (!pea) return undefined;
    const { limits, filesystem } = this.ctx.deps;
    const [metrics, detail, disk, oomKills] = await Promise.all([
      this.limitsService.metricsOf(pea.container, pea.cgroup),
      limits.detail(pea.cgroup),
      filesystem.peaUsage(pea.container.id, pea.peaId),
      limits.oomKills(pea.cgroup).catch(() => 0),
    ]);
    return { metrics, detail, disk, oomKills };
  }

  /** A container's traffic so far; undefined on the host's network (it has no interface of its own). */
  async traffic(handle: string): Promise<TrafficStats | undefined> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return isHostNetwork(c.network) ? undefined : this.ctx.deps.network.traffic(c.id);
  }

  /** A TCP connection to a port the container listens on, on its own loopback. */
  connect(handle: string, port: number): Duplex {
    const c = this.find(handle);
    c.assertState("active");
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw errors.invalid(`port ${port} must be 1 to 65535`);
    return this.ctx.deps.network.connect(c.id, port, { hostNetwork: isHostNetwork(c.network) });
  }

  /** Handles of the containers whose properties hold every pair of `filter`. */
  list(filter: Properties = {}): string[] {
    return this.ctx.registry
      .all()
      .filter((c) => c.findable && matchesAll(c.properties, filter))
      .map((c) => c.handle);
  }

  async recordEvent(handle: string, event: ContainerEvent): Promise<void> {
    const c = this.find(handle);
    if (c.addEvent(event)) await this.ctx.persist(c);
  }

  // ---- grace time ----

  /** While held, the container is not reaped. Returns the release. */
  hold(handle: string): () => void {
    return this.ctx.reaper.hold(this.find(handle));
  }

  /** The grace time counts again from now (when it is running). */
  touch(handle: string): void {
    this.ctx.reaper.touch(this.find(handle));
  }

  async setGraceTime(handle: string, seconds: number | null): Promise<void> {
    const c = this.find(handle);
    if (seconds !== null && !(Number.isFinite(seconds) && seconds >= 0)) {
      throw errors.invalid(`grace time ${seconds} must be a number of seconds, 0 or more`);
    }
    c.graceTime = seconds;
    await this.ctx.persist(c);
    this.ctx.reaper.regraced(c);
  }

  // ---- properties ----

  properties(handle: string): Properties {
    return { ...this.find(handle).properties };
  }

  property(handle: string, key: string): string {
    const c = this.find(handle);
    if (!Object.hasOwn(c.properties, key)) throw errors.propertyNotFound(handle, key);
    return c.properties[key];
  }

  async setProperty(handle: string, key: string, value: string): Promise<void> {
    const c = this.find(handle);
    checkProperty(key, value);
    c.properties = { ...c.properties, [key]: value };
    await this.ctx.persist(c);
  }

  async removeProperty(handle: string, key: string): Promise<void> {
    const c = this.find(handle);
    if (!Object.hasOwn(c.properties, key)) throw errors.propertyNotFound(handle, key);
    const { [key]: _removed, ...rest } = c.properties;
    c.properties = rest;
    await this.ctx.persist(c);
  }

  // ---- processes ----

  /** Starts a process; it is running when this resolves. */
  async run(handle: string, spec: ProcessSpec): Promise<ProcessRef> {
    const c = this.find(handle);
    c.assertState("active");
    return this.processes.run(c, spec);
  }

  /** A process by id, running or ended (until forgotten). */
  process(handle: string, id: string): ProcessRef {
    return this.processes.find(this.find(handle), id);
  }

  // ---- network ----

  async netIn(handle: string, rule: Partial<NetInRule>): Promise<NetInRule> {
    const c = this.find(handle);
    c.assertState("active");
    return this.networking.netIn(c, rule);
  }

  async netOut(handle: string, rules: NetOutRule[]): Promise<void> {
    const c = this.find(handle);
    c.assertState("active");
    return this.networking.netOut(c, rules);
  }

  async limitBandwidth(handle: string, limit: BandwidthLimit): Promise<BandwidthLimit> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.networking.limitBandwidth(c, limit);
  }

  // ---- limits ----

  async limitMemory(handle: string, bytes?: bigint): Promise<bigint> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.limitsService.limitMemory(c, bytes);
  }

  async limitCpu(handle: string, shares?: bigint): Promise<bigint> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.limitsService.limitCpu(c, shares);
  }

  async diskLimits(handle: string): Promise<DiskLimitsView | undefined> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.limitsService.diskLimits(c);
  }

  async limitDisk(handle: string, limits: DiskLimits): Promise<DiskLimits | undefined> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.limitsService.limitDisk(c, limits);
  }

  async limits(handle: string): Promise<ContainerLimits> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.limitsService.current(c);
  }

  // ---- files ----

  async copyIn(handle: string, request: { src: string; dst: string; user?: string }): Promise<void> {
    const c = this.find(handle);
    c.assertState("active");
    return this.files.copyIn(c, request);
  }

  /** Works on stopped containers too. */
  async copyOut(handle: string, request: { src: string; dst: string; owner?: string; user?: string }): Promise<void> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.files.copyOut(c, request);
  }

  async streamIn(handle: string, request: { path: string; user?: string; tar: Readable }): Promise<void> {
    const c = this.find(handle);
    c.assertState("active");
    return this.files.streamIn(c, request);
  }

  async streamOut(handle: string, request: { path: string; user?: string }): Promise<Readable> {
    const c = this.find(handle);
    c.assertState("active", "stopped");
    return this.files.streamOut(c, request);
  }

  // ---- the daemon's life ----

  async recover(): Promise<{ recovered: number; removed: number }> {
    return this.recovery.recover();
  }

  get containerCount(): number {
    return this.ctx.registry.size;
  }

  stats(): ServiceStats {
    const containers = { active: 0, stopped: 0 };
    for (const c of this.ctx.registry.all()) if (c.state === "active" || c.state === "stopped") containers[c.state]++;
    return { containers, processes: this.processes.stats(), pools: this.ctx.allocator.use() };
  }

  /** Stops reaping and creating; resolves once creates under way have finished. Containers go on running. */
  async shutdown(): Promise<void> {
    this.ctx.reaper.stop();
    for (const c of this.ctx.registry.all()) c.stopWatchingOom?.();
    // The processes run on; this daemon stops watching them and lets go of their files.
    for (const c of this.ctx.registry.all()) for (const p of c.processes.all()) p.detach();
    await this.creator.close();
    // Clean-ups of destroyed containers finish first: their mounts and links are this daemon's to take down.
    await this.destroyer.stop();
  }

  /** Destroys every container and cleans up after them (for tests and a daemon told to leave nothing). */
  async destroyAll(): Promise<void> {
    await Promise.allSettled(this.ctx.registry.all().map((c) => this.destroyer.destroy(c)));
    await this.destroyer.cleanUps();
  }

  /** Resolves once what destroys left to do after their answers (the machine's clean-up) is done. */
  cleanUps(): Promise<void> {
    return this.destroyer.cleanUps();
  }
}
