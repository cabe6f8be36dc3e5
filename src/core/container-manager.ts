// The container manager: the registry of containers and every command on
// them, with Warden's state rules, grace timers and pools. It drives the
// machine only through the interfaces in interfaces.ts.
import { Container, type InfoResult } from "./container.js";
import { ContainerIdGenerator } from "./container-id.js";
import { errors } from "./errors.js";
import type {
  MetricsSink,
  BandwidthLimit,
  BandwidthStat,
  BindMount,
  ContainerNetwork,
  ContainerSpec,
  Depot,
  DiskQuota,
  FileCopier,
  Filesystem,
  Limits,
  JobLogSink,
  JobMeta,
  JobProcess,
  Logger,
  Network,
  NetInRule,
  Rlimits,
  Runtime,
  StateStore,
} from "./interfaces.js";
import { fromRecord, toRecord } from "./container-record.js";
import { decodeContainerId } from "./container-id.js";
import type { Cidr } from "./ipv4.js";
import { bandwidthLimit, containerPort as checkContainerPort, hostPort as checkHostPort, netOutRule, type NetOutRequest } from "./net-rules.js";
import { SubnetPool } from "./subnet-pool.js";
import { applyDiskRequest, diskLimitFields, unenforced, type DiskLimitFields, type DiskLimitRequest } from "./disk-limits.js";
import { Job, OUTPUT_OVERFLOW_EVENT, type StreamChunk } from "./job.js";
import { jobEnvironment, jobRlimits, jobUser } from "./job-environment.js";
import { Pool } from "./pool.js";

export interface ManagerConfig {
  defaultRootfs: string;
  /** Seconds; null: containers are never reaped. */
  graceTime: number | null;
  jobOutputLimit: number;
  containerRlimits: Rlimits;
  stopTimeoutMs: number;
  lang: string;
  uidPoolStart: number;
  uidPoolSize: number;
  containerUser: string;
  networkPool: Cidr;
  networkReleaseDelayMs: number;
  portPoolStart: number;
  portPoolSize: number;
}

/** What Info reports for a container without a bandwidth limit, as Warden did. */
export const NO_BANDWIDTH_LIMIT = 4294967295;
export const OOM_EVENT = "out of memory";
/** Containers recovered at once after a restart. */
const RECOVERY_CONCURRENCY = 8;

export interface ManagerDeps {
  runtime: Runtime;
  network: Network;
  limits: Limits;
  copier: FileCopier;
  /** Absent when disk quotas are off: LimitDisk then does nothing and Info has no disk_stat. */
  diskQuota?: DiskQuota;
  filesystem: Filesystem;
  depot: Depot;
  state: StateStore;
  logSink?: JobLogSink;
  logger: Logger;
  ids?: ContainerIdGenerator;
  metrics?: MetricsSink;
}

/** How many of what there are now, for metrics. */
export interface ManagerStats {
  containers: Record<"active" | "stopped", number>;
  jobs: { running: number; finished: number };
  pools: Record<"networks" | "uids" | "ports", { size: number; inUse: number }>;
}

export interface CreateOptions {
  handle?: string;
  graceTime?: number;
  rootfs?: string;
  bindMounts: BindMount[];
  network?: string;
}

export interface StopOptions {
  kill: boolean;
  background: boolean;
}

export interface SpawnOptions {
  script: string;
  privileged: boolean;
  rlimits: Rlimits;
  discardOutput: boolean;
  logTag?: string;
}

export interface LinkResult {
  exitStatus: number;
  stdout: Buffer;
  stderr: Buffer;
  info: InfoResult;
}

export interface StreamEnd {
  exitStatus: number;
  info: InfoResult;
}

const MAX_HANDLE_BYTES = 1024;
// Job ids are reserved on disk a block at a time, so a restart never hands one out twice.
const JOB_ID_BLOCK = 1000;
const POLL_MS = 20;
const KILL_WAIT_MS = 5000;
const JOB_EXIT_WAIT_MS = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The host side must be absolute (it is never relative to the daemon's cwd); both must be named. */
function checkCopyPaths(hostPath: string, containerPath: string, hostField: string): void {
  if (!hostPath.startsWith("/")) throw errors.invalid(`${hostField} must be an absolute path on the host: ${hostPath}`);
  if (containerPath === "") throw errors.invalid("the path in the container must not be empty");
  if (hostPath.includes("\0") || containerPath.includes("\0")) throw errors.invalid("a path must not hold a NUL byte");
}

/** Rejects with an AbortError when `signal` aborts first. */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new DOMException("the client went away", "AbortError"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DOMException("the client went away", "AbortError"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** Milliseconds per phase of an operation, for its log line. */
class PhaseTimer {
  private readonly started = performance.now();
  private readonly phases: Record<string, number> = {};

  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.phases[name] = Math.round(performance.now() - t);
    }
  }

  summary(): { ms: number; phases: Record<string, number> } {
    return { ms: Math.round(performance.now() - this.started), phases: this.phases };
  }
}

async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class ContainerManager {
  private readonly byHandle = new Map<string, Container>();
  private readonly reservedHandles = new Set<string>();
  private readonly uids: Pool<number>;
  private readonly subnets: SubnetPool;
  private readonly ports: Pool<number>;
  /** Host ports forwarded by NetIn, across containers. */
  private readonly forwarded = new Map<number, Container>();
  private readonly ids: ContainerIdGenerator;
  private readonly log: Logger;
  private lastJobId = 0;
  private jobIdsReserved = 0;
  private readonly creating = new Set<Promise<unknown>>();
  private lastConnection = 0;
  private readonly openConnections = new Set<number>();
  private shuttingDown = false;

  constructor(
    private readonly config: ManagerConfig,
    private readonly deps: ManagerDeps,
  ) {
    this.uids = new Pool(Array.from({ length: config.uidPoolSize }, (_, i) => config.uidPoolStart + i));
    this.subnets = new SubnetPool(config.networkPool, config.networkReleaseDelayMs);
    this.ports = new Pool(Array.from({ length: config.portPoolSize }, (_, i) => config.portPoolStart + i));
    this.ids = deps.ids ?? new ContainerIdGenerator();
    this.log = deps.logger;
  }

  // ---- connections and grace time (Warden §4.4) ----

  /** A new connection references every container, cancelling every grace timer until it closes. */
  connectionOpened(): number {
    const conn = ++this.lastConnection;
    this.openConnections.add(conn);
    for (const c of this.byHandle.values()) this.reference(c, conn);
    return conn;
  }

  connectionClosed(conn: number): void {
    this.openConnections.delete(conn);
    for (const c of this.byHandle.values()) {
      if (c.refs.delete(conn) && c.refs.size === 0) this.startGraceTimer(c);
    }
  }

  private reference(c: Container, conn: number): void {
    c.refs.add(conn);
    if (c.graceTimer) {
      clearTimeout(c.graceTimer);
      c.graceTimer = undefined;
    }
  }

  private startGraceTimer(c: Container): void {
    if (c.graceTime === null || c.graceTimer || this.shuttingDown) return;
    c.graceTimer = setTimeout(() => {
      c.graceTimer = undefined;
      if (c.refs.size > 0) return;
      this.log.info({ handle: c.handle, id: c.id, graceTime: c.graceTime }, "grace time expired; destroying");
      this.destroyContainer(c).catch((err) =>
        this.log.error({ handle: c.handle, id: c.id, err: String(err) }, "destroy after grace time failed"),
      );
    }, c.graceTime * 1000);
    c.graceTimer.unref();
  }

  private lookup(handle: string, conn?: number): Container {
    const c = this.byHandle.get(handle);
    if (!c || c.state === "born" || c.state === "destroyed") throw errors.unknownHandle();
    if (conn !== undefined) this.reference(c, conn);
    return c;
  }

  // ---- commands ----

  list(): string[] {
    return [...this.byHandle.values()].filter((c) => c.state === "active" || c.state === "stopped").map((c) => c.handle);
  }

  create(options: CreateOptions, conn?: number): Promise<string> {
    if (this.shuttingDown) return Promise.reject(errors.shuttingDown());
    const work = this.createContainer(options, conn);
    this.creating.add(work);
    const done = () => this.creating.delete(work);
    work.then(done, done);
    return work;
  }

  private async createContainer(options: CreateOptions, conn?: number): Promise<string> {
    const handle = options.handle;
    if (handle !== undefined) {
      if (handle === "") throw errors.invalid("handle must not be empty");
      if (Buffer.byteLength(handle) > MAX_HANDLE_BYTES) throw errors.invalid(`handle is longer than ${MAX_HANDLE_BYTES} bytes`);
      // A handle is a name only: paths are built from ids we make, so "../x" is
      // harmless (and Warden took any string). Nothing that breaks a C string or a log line, though.
      if (/[\x00-\x1f\x7f]/.test(handle)) throw errors.invalid("handle must not contain NUL or control characters");
      if (this.byHandle.has(handle) || this.reservedHandles.has(handle)) throw errors.handleTaken(handle);
    }
    for (const path of [options.rootfs ?? "", ...options.bindMounts.flatMap((m) => [m.srcPath, m.dstPath])]) {
      if (path.includes("\0")) throw errors.invalid("a path must not hold a NUL byte");
    }
    // Refused before anything is allocated or made: a bad request costs a stat, not a teardown.
    await this.deps.filesystem.check({ rootfs: options.rootfs ?? this.config.defaultRootfs, bindMounts: options.bindMounts });
    if (handle !== undefined && (this.byHandle.has(handle) || this.reservedHandles.has(handle))) throw errors.handleTaken(handle);
    const network =
      options.network !== undefined ? this.subnets.acquireAddress(options.network) : this.subnets.acquire();
    const uid = this.uids.acquire();
    if (uid === undefined) {
      this.subnets.release(network);
      throw errors.uidPoolEmpty();
    }
    const id = this.ids.generate();
    const finalHandle = handle ?? id;
    this.reservedHandles.add(finalHandle);
    const { depot, filesystem, runtime } = this.deps;
    const spec: ContainerSpec = {
      id,
      handle: finalHandle,
      uid,
      rootfs: options.rootfs ?? this.config.defaultRootfs,
      bindMounts: options.bindMounts,
      network,
    };
    const log = this.log.child({ handle: finalHandle, id });
    const phases = new PhaseTimer();
    const started = Date.now();
    // Undone in reverse on failure, so a failed create leaves nothing behind.
    const undo: Array<() => Promise<void>> = [];
    try {
      const path = await depot.create(id);
      undo.push(() => depot.remove(id));
      undo.push(() => filesystem.remove(id));
      undo.push(() => this.deps.network.destroy(id, { network, netIns: [], netOut: false }));
      // The root filesystem and the network do not depend on each other.
      const [rootfs, netns] = await Promise.allSettled([
        phases.time("filesystem", () => filesystem.prepare(spec)),
        phases.time("network", () => this.deps.network.create(id, network)),
      ]);
      if (rootfs.status === "rejected") throw rootfs.reason;
      if (netns.status === "rejected") throw netns.reason;
      spec.namespaces = netns.value;
      undo.push(() => runtime.destroy(id));
      await phases.time("runtime", () => runtime.create(spec, rootfs.value));
      const graceTime = options.graceTime ?? this.config.graceTime;
      const c = new Container(id, finalHandle, path, uid, spec.rootfs, spec.bindMounts, graceTime, network);
      c.state = "active";
      await this.deps.state.save(toRecord(c));
      this.byHandle.set(finalHandle, c);
      c.stopWatchingOom = this.deps.limits.watchOom(id, () => this.onOom(c));
      // The client may have gone while we worked: then nothing references the container.
      if (conn !== undefined && this.openConnections.has(conn)) this.reference(c, conn);
      else this.startGraceTimer(c);
      log.info({ ...phases.summary(), uid, rootfs: spec.rootfs, network: network.subnet }, "container created");
      this.deps.metrics?.containerCreated((Date.now() - started) / 1000);
      return finalHandle;
    } catch (err) {
      log.warn({ err: String(err), detail: (err as { detail?: string }).detail }, "create failed; undoing");
      this.deps.metrics?.createFailed();
      for (const step of undo.reverse()) {
        await step().catch((e) => log.error({ err: String(e) }, "cleanup after failed create failed"));
      }
      this.uids.release(uid);
      this.subnets.release(network);
      throw err;
    } finally {
      this.reservedHandles.delete(finalHandle);
    }
  }

  async info(handle: string, conn?: number): Promise<InfoResult> {
    const c = this.lookup(handle, conn);
    c.assertState("active", "stopped");
    const { limits, diskQuota } = this.deps;
    const read = <T>(what: string, p: Promise<T>) =>
      p.catch((err) => {
        throw errors.limitFailed(what, err);
      });
    const [memoryStat, cpuStat, diskStat, bandwidthStat] = await Promise.all([
      read("getting memory usage", limits.memoryStat(c.id)),
      read("getting cpu stats", limits.cpuStat(c.id)),
      diskQuota ? read("getting disk usage", diskQuota.usage(c.id)) : Promise.resolve(undefined),
      this.bandwidthOf(c),
    ]);
    return { ...this.infoOf(c), memoryStat, cpuStat, diskStat, bandwidthStat };
  }

  // Only LimitBandwidth changes the kernel's limits, and it reads them back then.
  private async bandwidthOf(c: Container): Promise<BandwidthStat> {
    return (
      c.bandwidthStat ?? { inRate: NO_BANDWIDTH_LIMIT, inBurst: NO_BANDWIDTH_LIMIT, outRate: NO_BANDWIDTH_LIMIT, outBurst: NO_BANDWIDTH_LIMIT }
    );
  }

  private infoOf(c: Container): InfoResult {
    if (c.obituary) return c.obituary;
    return {
      state: c.state,
      events: c.events,
      hostIp: c.network.hostIp,
      containerIp: c.network.containerIp,
      containerPath: c.path,
      jobIds: c.runningJobIds(),
    };
  }

  async stop(handle: string, options: StopOptions, conn?: number): Promise<void> {
    const c = this.lookup(handle, conn);
    c.assertState("active", "stopped");
    const work = this.stopContainer(c, options.kill);
    if (!options.background) return work;
    work.catch((err) => this.log.error({ handle: c.handle, id: c.id, err: String(err) }, "background stop failed"));
  }

  private stopContainer(c: Container, kill: boolean): Promise<void> {
    if (c.stopping) {
      // A kill while a graceful stop is under way cuts its wait short.
      if (kill) void this.deps.runtime.signalAll(c.id, "KILL").catch(() => {});
      return c.stopping;
    }
    if (c.state === "stopped") return Promise.resolve();
    c.state = "stopped";
    const started = Date.now();
    c.stopping = this.persist(c)
      .catch(() => {})
      .then(() => this.terminate(c, kill))
      .finally(() => {
        c.stopping = undefined;
        this.log.info({ handle: c.handle, id: c.id, kill, ms: Date.now() - started }, "container stopped");
      });
    return c.stopping;
  }

  /** TERM to every process but init, KILL those left after the stop timeout, then wait for the jobs. */
  private async terminate(c: Container, kill: boolean): Promise<void> {
    const { runtime } = this.deps;
    const gone = async (deadline: number) => {
      for (;;) {
        if ((await runtime.processCount(c.id)) === 0) return true;
        if (Date.now() >= deadline) return false;
        await sleep(POLL_MS);
      }
    };
    let done = false;
    if (!kill) {
      await runtime.signalAll(c.id, "TERM");
      done = await gone(Date.now() + this.config.stopTimeoutMs);
    }
    if (!done) {
      await runtime.signalAll(c.id, "KILL");
      await gone(Date.now() + KILL_WAIT_MS);
    }
    await within(Promise.all([...c.jobs.values()].map((j) => j.finished)), JOB_EXIT_WAIT_MS);
  }

  async destroy(handle: string, conn?: number): Promise<void> {
    const c = this.lookup(handle, conn);
    return this.destroyContainer(c);
  }

  private destroyContainer(c: Container): Promise<void> {
    if (c.destroying) return c.destroying;
    const log = this.log.child({ handle: c.handle, id: c.id });
    const phases = new PhaseTimer();
    const started = Date.now();
    if (c.graceTimer) clearTimeout(c.graceTimer);
    c.graceTimer = undefined;
    c.obituary = this.infoOf(c);
    c.stopWatchingOom?.();
    const work = (async () => {
      const { runtime, filesystem, depot } = this.deps;
      // Side by side: the runtime kills the processes, the network goes, and
      // the root filesystem is unmounted (the runtime needs it no more, and
      // a running container keeps its own copy of the mount). The writable
      // layer and the depot directory go once all of that is done.
      const removeContainer = (async () => {
        await phases.time("runtime", () => runtime.destroy(c.id));
        // Links and Streams waiting on jobs get their output before the files go.
        const jobs = [...c.jobs.values()];
        await phases.time("jobs", async () => {
          await within(Promise.all(jobs.map((j) => j.finished)), JOB_EXIT_WAIT_MS);
          await within(Promise.all(jobs.map((j) => j.idle())), JOB_EXIT_WAIT_MS);
        });
      })();
      const results = await Promise.allSettled([
        removeContainer,
        phases.time("network", () =>
          this.deps.network.destroy(c.id, { network: c.network, netIns: c.netIns, netOut: c.netOuts.length > 0 }),
        ),
        phases.time("unmount", () => filesystem.unmount(c.id)),
      ]);
      for (const r of results) if (r.status === "rejected") throw r.reason;
      await phases.time("filesystem", () => filesystem.remove(c.id));
      await phases.time("depot", () => depot.remove(c.id));
      for (const rule of c.netIns) {
        this.forwarded.delete(rule.hostPort);
        if (rule.fromPool) this.ports.release(rule.hostPort);
      }
      this.subnets.release(c.network);
      this.uids.release(c.uid);
      c.state = "destroyed";
      this.byHandle.delete(c.handle);
      log.info(phases.summary(), "container destroyed");
      this.deps.metrics?.containerDestroyed((Date.now() - started) / 1000);
    })();
    c.destroying = work;
    work.catch((err) => {
      // Left registered so that Destroy can be tried again.
      c.destroying = undefined;
      c.obituary = undefined;
      log.error({ err: String(err) }, "destroy failed");
      this.deps.metrics?.destroyFailed();
    });
    return work;
  }

  async spawn(handle: string, options: SpawnOptions, conn?: number): Promise<number> {
    const c = this.lookup(handle, conn);
    c.assertState("active");
    const jobId = await this.nextJobId();
    const user = jobUser(options.privileged, c.uid, this.config.containerUser);
    const meta = { discardOutput: options.discardOutput, privileged: options.privileged, logTag: options.logTag };
    const process = await this.deps.runtime.spawn(
      c.id,
      {
        jobId,
        script: options.script,
        user,
        privileged: options.privileged,
        env: jobEnvironment(user, this.config.lang),
        rlimits: jobRlimits(this.config.containerRlimits, options.rlimits),
        discardOutput: options.discardOutput,
      },
      meta,
    );
    const job = this.adoptJob(c, jobId, process, meta, false);
    this.log.debug({ handle: c.handle, id: c.id, job: jobId, privileged: options.privileged }, "job spawned");
    void job.finished.then((status) =>
      this.log.debug({ handle: c.handle, id: c.id, job: jobId, status }, "job exited"),
    );
    return jobId;
  }

  private adoptJob(c: Container, jobId: number, process: JobProcess, meta: JobMeta, recovered: boolean): Job {
    const log = meta.logTag !== undefined && this.deps.logSink ? this.deps.logSink.open(`warden.${meta.logTag}`) : undefined;
    const job = new Job(jobId, process, {
      outputLimit: this.config.jobOutputLimit,
      discardOutput: meta.discardOutput,
      log,
      logFromNow: recovered,
      logger: this.log.child({ handle: c.handle, id: c.id }),
    });
    c.jobs.set(jobId, job);
    return job;
  }

  private async nextJobId(): Promise<number> {
    const id = ++this.lastJobId;
    if (id > this.jobIdsReserved) {
      this.jobIdsReserved = id + JOB_ID_BLOCK;
      await this.deps.state.saveCounter("job-ids", this.jobIdsReserved);
    }
    return id;
  }

  /**
   * Writes the container's record. Requests that change a container answer
   * only once it is written: what a client was told has happened survives a
   * crash right after.
   */
  private async persist(c: Container): Promise<void> {
    if (c.state === "destroyed" || c.destroying) return;
    try {
      await this.deps.state.save(toRecord(c));
    } catch (err) {
      this.log.error({ handle: c.handle, id: c.id, err: String(err) }, "cannot write the container's record");
      throw errors.internal(`cannot save the container's record: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Waits for the job and returns its result; the job is then gone. When
   * `closed` aborts (the client went away) the wait ends and the job stays,
   * for another client to Link or Stream.
   */
  async link(handle: string, jobId: number, conn?: number, closed?: AbortSignal): Promise<LinkResult> {
    const c = this.lookup(handle, conn);
    const job = c.jobs.get(jobId);
    if (!job) throw errors.noSuchJob();
    const result = await untilAborted(job.result(), closed);
    if (result.overflowed) c.addEvent(OUTPUT_OVERFLOW_EVENT);
    this.forgetJob(c, job);
    return { exitStatus: result.exitStatus, stdout: result.stdout, stderr: result.stderr, info: this.infoOf(c) };
  }

  async run(handle: string, options: SpawnOptions, conn?: number, closed?: AbortSignal): Promise<LinkResult> {
    const jobId = await this.spawn(handle, options, conn);
    return this.link(handle, jobId, conn, closed);
  }

  /** Checks the handle and job at once, so errors come before any output. */
  stream(handle: string, jobId: number, conn?: number, closed?: AbortSignal): AsyncGenerator<StreamChunk, StreamEnd> {
    const c = this.lookup(handle, conn);
    const job = c.jobs.get(jobId);
    if (!job) throw errors.noSuchJob();
    return this.streamJob(c, job, closed);
  }

  private async *streamJob(c: Container, job: Job, closed?: AbortSignal): AsyncGenerator<StreamChunk, StreamEnd> {
    const exitStatus = yield* job.stream(closed);
    this.forgetJob(c, job);
    return { exitStatus, info: this.infoOf(c) };
  }

  // A linked or streamed job is gone: a second Link gets "no such job".
  private forgetJob(c: Container, job: Job): void {
    if (c.jobs.get(job.id) !== job) return;
    c.jobs.delete(job.id);
    void job
      .idle()
      .then(() => job.remove())
      .catch((err) => this.log.warn({ handle: c.handle, job: job.id, err: String(err) }, "cannot remove job"));
  }

  // ---- networking ----

  /** Forwards a host port to the container; without host_port one comes from the pool. */
  async netIn(handle: string, request: Partial<NetInRule>, conn?: number): Promise<NetInRule> {
    const c = this.lookup(handle, conn);
    c.assertState("active");
    let port: number;
    let fromPool = false;
    if (request.hostPort === undefined) {
      const taken = this.ports.acquire();
      if (taken === undefined) throw errors.portPoolEmpty();
      port = taken;
      fromPool = true;
    } else {
      port = checkHostPort(request.hostPort);
      if (this.forwarded.has(port)) throw errors.hostPortTaken(port);
      // A port of the pool named explicitly is taken out of it, so the pool cannot hand it out too.
      if (this.ports.contains(port)) {
        if (!this.ports.acquireSpecific(port)) throw errors.hostPortTaken(port);
        fromPool = true;
      }
    }
    const rule: NetInRule = {
      hostPort: port,
      containerPort: request.containerPort === undefined ? port : checkContainerPort(request.containerPort),
    };
    this.forwarded.set(port, c);
    try {
      await this.deps.network.netIn(c.id, c.network, rule);
    } catch (err) {
      this.forwarded.delete(port);
      if (fromPool) this.ports.release(port);
      throw err;
    }
    c.netIns.push({ ...rule, fromPool });
    await this.persist(c);
    this.log.info({ handle: c.handle, id: c.id, ...rule }, "port forwarded");
    return rule;
  }

  async netOut(handle: string, request: NetOutRequest, conn?: number): Promise<void> {
    const c = this.lookup(handle, conn);
    c.assertState("active");
    const rule = netOutRule(request);
    await this.deps.network.netOut(c.id, rule);
    c.netOuts.push(rule);
    await this.persist(c);
    this.log.info({ handle: c.handle, id: c.id, rule }, "egress allowed");
  }

  async limitBandwidth(handle: string, rate: number, burst: number, conn?: number): Promise<BandwidthLimit> {
    const c = this.lookup(handle, conn);
    c.assertState("active", "stopped");
    const limit = bandwidthLimit(rate, burst);
    c.bandwidthStat = await this.deps.network.limitBandwidth(c.id, limit);
    c.bandwidth = limit;
    await this.persist(c);
    this.log.info({ handle: c.handle, id: c.id, ...limit }, "bandwidth limited");
    return limit;
  }

  // ---- files ----

  /** Copies a host path into the container, the copies the container user's (Warden's CopyIn). */
  async copyIn(handle: string, src: string, dst: string, conn?: number): Promise<void> {
    const c = this.lookup(handle, conn);
    c.assertState("active");
    checkCopyPaths(src, dst, "src_path");
    await this.deps.copier.copyIn({ id: c.id, user: jobUser(false, c.uid, this.config.containerUser), src, dst });
    this.log.info({ handle: c.handle, id: c.id, src, dst }, "copied in");
  }

  /** Copies a container path out to the host, owned by root or `owner` (Warden's CopyOut); works on stopped containers. */
  async copyOut(handle: string, src: string, dst: string, owner: string | undefined, conn?: number): Promise<void> {
    const c = this.lookup(handle, conn);
    c.assertState("active", "stopped");
    checkCopyPaths(dst, src, "dst_path");
    const user = jobUser(false, c.uid, this.config.containerUser);
    await this.deps.copier.copyOut({ id: c.id, user, src, dst, owner });
    this.log.info({ handle: c.handle, id: c.id, src, dst }, "copied out");
  }

  // ---- limits ----

  /** Warden's OOM handling: an event, and a stop (not a kill) of an active container. */
  private onOom(c: Container): void {
    if (c.state === "destroyed" || c.destroying) return;
    c.addEvent(OOM_EVENT);
    this.deps.metrics?.outOfMemory();
    this.persist(c).catch(() => {});
    this.log.warn({ handle: c.handle, id: c.id }, "out of memory");
    if (c.state === "active") {
      this.stopContainer(c, false).catch((err) =>
        this.log.error({ handle: c.handle, id: c.id, err: String(err) }, "stop after OOM failed"),
      );
    }
  }

  /** Sets the memory limit when given; answers with the limit the kernel holds (rounded to pages). */
  async limitMemory(handle: string, bytes: bigint | undefined, conn?: number): Promise<bigint> {
    const c = this.lookup(handle, conn);
    c.assertState("active", "stopped");
    if (bytes !== undefined) {
      try {
        await this.deps.limits.setMemoryLimit(c.id, bytes);
      } catch (err) {
        throw errors.limitFailed("setting memory limit", err);
      }
      c.memoryLimit = bytes;
      await this.persist(c);
      this.log.info({ handle: c.handle, id: c.id, bytes: bytes.toString() }, "memory limited");
    }
    return this.deps.limits.memoryLimit(c.id).catch((err) => {
      throw errors.limitFailed("getting memory limit", err);
    });
  }

  /** Sets cpu shares when given; answers with what the kernel holds (it raises 1 to 2). */
  async limitCpu(handle: string, shares: bigint | undefined, conn?: number): Promise<bigint> {
    const c = this.lookup(handle, conn);
    c.assertState("active", "stopped");
    if (shares !== undefined) {
      try {
        await this.deps.limits.setCpuShares(c.id, shares);
      } catch (err) {
        throw errors.limitFailed("setting cpu shares", err);
      }
      c.cpuShares = shares;
      await this.persist(c);
      this.log.info({ handle: c.handle, id: c.id, shares: shares.toString() }, "cpu shares set");
    }
    return this.deps.limits.cpuShares(c.id).catch((err) => {
      throw errors.limitFailed("getting cpu shares", err);
    });
  }

  /**
   * Warden's LimitDisk: the request applied over the current limits, all
   * twelve fields back as the mechanism holds them. With quotas off it does
   * nothing and answers nothing. Limits the mechanism cannot enforce come
   * back as 0 (none), and the log says so.
   */
  async limitDisk(handle: string, request: DiskLimitRequest, conn?: number): Promise<DiskLimitFields | undefined> {
    const c = this.lookup(handle, conn);
    c.assertState("active", "stopped");
    const quota = this.deps.diskQuota;
    if (!quota) return undefined;
    try {
      const wanted = applyDiskRequest(await quota.limits(c.id), request);
      const ignored = unenforced(wanted, quota.enforces);
      if (ignored.length > 0) {
        this.log.warn({ handle: c.handle, id: c.id, notEnforced: ignored }, "disk limits the quota mechanism cannot enforce");
      }
      await quota.setLimits(c.id, wanted);
      c.diskLimits = wanted;
      await this.persist(c);
      this.log.info({ handle: c.handle, id: c.id, bytes: wanted.byteHard.toString() }, "disk limited");
      return diskLimitFields(await quota.limits(c.id));
    } catch (err) {
      throw errors.limitFailed("setting disk limit", err);
    }
  }

  // ---- daemon life ----

  /**
   * Takes back the containers an earlier daemon left (after a clean stop or
   * a crash): their records, resources, limits, rules and jobs. One without
   * a valid record, or whose init is gone, is removed, and the log says why.
   * Then what of ours belongs to no container is removed.
   */
  async recover(): Promise<{ recovered: number; removed: number }> {
    const { depot, state } = this.deps;
    let recovered = 0;
    let removed = 0;
    let highestId = 0n;
    let highestJob = await state.loadCounter("job-ids");
    // Containers come back side by side: each is mostly waiting on files and
    // tools, and a host with hundreds of them should not wait on each in turn.
    const recoverOne = async (id: string): Promise<void> => {
      const log = this.log.child({ id });
      let c: Container;
      try {
        const record = await state.load(id);
        if (!record) throw new Error("it has no record (made half-way when a daemon stopped)");
        c = fromRecord(record, depot.path(id));
        if (c.id !== id) throw new Error(`its record is of ${c.id}`);
      } catch (err) {
        log.warn({ err: String(err instanceof Error ? err.message : err) }, "removing a container that cannot be recovered");
        await this.removeLeftover(id);
        removed++;
        return;
      }
      try {
        if (!(await this.deps.runtime.isRunning(id))) throw new Error("its init is no longer running");
        this.claim(c);
        try {
          highestJob = Math.max(highestJob, await this.restore(c));
        } catch (err) {
          this.byHandle.delete(c.handle);
          this.unclaim(c);
          throw err;
        }
      } catch (err) {
        log.warn({ handle: c.handle, err: String(err instanceof Error ? err.message : err) }, "removing a container that cannot be recovered");
        await this.removeLeftover(id, c);
        removed++;
        return;
      }
      const value = decodeContainerId(id) ?? 0n;
      if (value > highestId) highestId = value;
      recovered++;
      log.info({ handle: c.handle, state: c.state, jobs: c.jobs.size }, "container recovered");
    };
    const ids = await depot.list();
    let next = 0;
    const workers = Array.from({ length: Math.min(RECOVERY_CONCURRENCY, ids.length) }, async () => {
      while (next < ids.length) await recoverOne(ids[next++]);
    });
    await Promise.all(workers);
    this.ids.generate(highestId);
    this.lastJobId = Math.max(this.lastJobId, highestJob);
    const live = new Map([...this.byHandle.values()].map((c) => [c.id, c.network]));
    const liveIds = new Set(live.keys());
    // What a daemon killed half-way through a create or a destroy left: processes first, then mounts, then the network.
    const sweeps: Array<[string, () => Promise<string[]>]> = [
      ["runtime", () => this.deps.runtime.removeOrphans(liveIds)],
      ["filesystem", () => this.deps.filesystem.removeOrphans(liveIds)],
      ["network", () => this.deps.network.removeOrphans(live)],
    ];
    for (const [what, sweep] of sweeps) {
      const orphans = await sweep();
      if (orphans.length > 0) this.log.info({ ids: orphans, what }, "removed leftovers of no container");
    }
    return { recovered, removed };
  }

  // Its uid, network and ports are its own again: the pools will not hand them out.
  private claim(c: Container): void {
    if (this.byHandle.has(c.handle)) throw new Error(`handle ${c.handle} is taken by another recovered container`);
    if (!this.uids.acquireSpecific(c.uid)) throw new Error(`uid ${c.uid} is taken or outside the pool`);
    if (!this.subnets.claim(c.network)) {
      this.uids.release(c.uid);
      throw new Error(`network ${c.network.subnet} is taken or outside the pool`);
    }
    for (const rule of c.netIns) {
      if (rule.fromPool) this.ports.acquireSpecific(rule.hostPort);
      this.forwarded.set(rule.hostPort, c);
    }
    // Its handle is its own from here: a second record with the same one is refused above.
    this.byHandle.set(c.handle, c);
  }

  private unclaim(c: Container): void {
    this.uids.release(c.uid);
    this.subnets.release(c.network);
    for (const rule of c.netIns) {
      this.forwarded.delete(rule.hostPort);
      if (rule.fromPool) this.ports.release(rule.hostPort);
    }
  }

  /** Applies its limits and rules again, finds its jobs, watches it; returns its highest job id. */
  private async restore(c: Container): Promise<number> {
    const { limits, network, diskQuota, runtime } = this.deps;
    await network.restore(c.id, {
      network: c.network,
      netIns: c.netIns,
      netOuts: c.netOuts,
      bandwidth: c.bandwidth,
    });
    if (c.memoryLimit !== undefined) await limits.setMemoryLimit(c.id, c.memoryLimit);
    if (c.cpuShares !== undefined) await limits.setCpuShares(c.id, c.cpuShares);
    if (c.diskLimits && diskQuota) await diskQuota.setLimits(c.id, c.diskLimits);
    let highest = 0;
    for (const found of await runtime.jobs(c.id)) {
      this.adoptJob(c, found.jobId, found.process, found.meta, true);
      highest = Math.max(highest, found.jobId);
    }
    c.stopWatchingOom = limits.watchOom(c.id, () => this.onOom(c));
    this.startGraceTimer(c);
    return highest;
  }

  private async removeLeftover(id: string, c?: Container): Promise<void> {
    const { runtime, filesystem, depot, network } = this.deps;
    try {
      await runtime.destroy(id);
      await network.destroy(id, c ? { network: c.network, netIns: c.netIns, netOut: c.netOuts.length > 0 } : undefined);
      await filesystem.remove(id);
      await depot.remove(id);
    } catch (err) {
      this.log.error({ id, err: String(err) }, "cannot remove a leftover container");
    }
  }

  get containerCount(): number {
    return this.byHandle.size;
  }

  stats(): ManagerStats {
    const containers = { active: 0, stopped: 0 };
    const jobs = { running: 0, finished: 0 };
    for (const c of this.byHandle.values()) {
      if (c.state === "active" || c.state === "stopped") containers[c.state]++;
      for (const job of c.jobs.values()) jobs[job.running ? "running" : "finished"]++;
    }
    return {
      containers,
      jobs,
      pools: {
        networks: { size: this.subnets.size, inUse: this.subnets.inUse },
        uids: { size: this.uids.size, inUse: this.uids.inUse },
        ports: { size: this.ports.size, inUse: this.ports.inUse },
      },
    };
  }

  /** Stops reaping and creating; resolves once creates under way have finished. Containers go on running. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const c of this.byHandle.values()) {
      if (c.graceTimer) clearTimeout(c.graceTimer);
      c.graceTimer = undefined;
      c.stopWatchingOom?.();
    }
    await Promise.allSettled([...this.creating]);
  }

  /** Destroys every container (for `wardend` stopping with destroy_on_shutdown, and tests). */
  async destroyAll(): Promise<void> {
    await Promise.allSettled([...this.byHandle.values()].map((c) => this.destroyContainer(c)));
  }
}
