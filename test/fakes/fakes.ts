// Hand-written fakes of the core's interfaces: they record what the core
// asked for and let a test decide what the machine does.
import type {
  NamespacePaths,
  FileCopier,
  JobUser,
  ContainerRecord,
  JobMeta,
  RecoveredJob,
  StateStore,
  BandwidthLimit,
  BandwidthStat,
  ContainerNetwork,
  ContainerSpec,
  CpuStat,
  DiskLimits,
  DiskQuota,
  DiskUsage,
  Limits,
  MemoryStat,
  KnownNetworkRules,
  Network,
  NetInRule,
  NetOutRule,
  Depot,
  Filesystem,
  JobLog,
  JobLogSink,
  JobProcess,
  JobSpec,
  Logger,
  OutputStream,
  Runtime,
  StopSignal,
} from "../../src/core/interfaces.js";

export class FakeJobProcess implements JobProcess {
  readonly exited: Promise<number>;
  private resolveExit!: (code: number) => void;
  private readonly listeners = new Set<() => void>();
  readonly output: Record<OutputStream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  killed = false;
  removed = false;
  /** The status the job ends with when killed. */
  killStatus = 137;

  constructor(readonly spec: JobSpec) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  write(stream: OutputStream, data: string | Buffer): void {
    this.output[stream] = Buffer.concat([this.output[stream], Buffer.from(data)]);
    for (const l of [...this.listeners]) l();
  }

  exit(code: number): void {
    this.resolveExit(code);
    for (const l of [...this.listeners]) l();
  }

  onOutput(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async outputSizes(): Promise<Record<OutputStream, number>> {
    return { stdout: this.output.stdout.length, stderr: this.output.stderr.length };
  }

  async read(stream: OutputStream, offset: number, length: number): Promise<Buffer> {
    return Buffer.from(this.output[stream].subarray(offset, offset + length));
  }

  async kill(): Promise<void> {
    this.killed = true;
    this.exit(this.killStatus);
  }

  async remove(): Promise<void> {
    this.removed = true;
  }
}

interface FakeContainer {
  spec: ContainerSpec;
  /** Processes besides init; each has a reaction to TERM. */
  processes: Array<{ ignoresTerm: boolean }>;
}

export class FakeRuntime implements Runtime {
  readonly containers = new Map<string, FakeContainer>();
  readonly spawned: FakeJobProcess[] = [];
  /** Jobs by container, with what they were started with, as a restarted daemon would find them. */
  readonly jobsOf = new Map<string, Array<{ jobId: number; meta: JobMeta; process: FakeJobProcess }>>();
  /** Ids whose init has died (a restarted daemon must not keep them). */
  readonly deadInits = new Set<string>();
  readonly signals: Array<{ id: string; signal: StopSignal }> = [];
  readonly destroyed: string[] = [];
  failCreate: Error | undefined;
  failSpawn: Error | undefined;
  createDelayMs = 0;
  /** Finish every job at once with this code, unless undefined. */
  autoExit: number | undefined;

  async create(spec: ContainerSpec, _rootfsPath: string): Promise<void> {
    if (this.createDelayMs) await new Promise((r) => setTimeout(r, this.createDelayMs));
    if (this.failCreate) throw this.failCreate;
    this.containers.set(spec.id, { spec, processes: [] });
  }

  async isRunning(id: string): Promise<boolean> {
    return this.containers.has(id) && !this.deadInits.has(id);
  }

  /** Runtime state of containers the core does not know (a create cut short, say). */
  readonly strays = new Set<string>();
  async removeOrphans(live: ReadonlySet<string>): Promise<string[]> {
    const gone = [...this.strays].filter((id) => !live.has(id));
    for (const id of gone) this.strays.delete(id);
    return gone;
  }

  async jobs(id: string): Promise<RecoveredJob[]> {
    return (this.jobsOf.get(id) ?? []).filter((j) => !j.process.removed);
  }

  async destroy(id: string): Promise<void> {
    this.destroyed.push(id);
    for (const job of this.spawned) job.exit(137);
    this.containers.delete(id);
  }

  async signalAll(id: string, signal: StopSignal): Promise<void> {
    this.signals.push({ id, signal });
    const c = this.containers.get(id);
    if (!c) return;
    c.processes = signal === "KILL" ? [] : c.processes.filter((p) => p.ignoresTerm);
    if (c.processes.length === 0) for (const job of this.spawned) job.exit(signal === "KILL" ? 137 : 143);
  }

  async processCount(id: string): Promise<number> {
    return this.containers.get(id)?.processes.length ?? 0;
  }

  async spawn(id: string, spec: JobSpec, meta: JobMeta): Promise<JobProcess> {
    if (this.failSpawn) throw this.failSpawn;
    if (!this.containers.has(id)) throw new Error(`no container ${id}`);
    const job = new FakeJobProcess(spec);
    this.spawned.push(job);
    const list = this.jobsOf.get(id) ?? [];
    list.push({ jobId: spec.jobId, meta, process: job });
    this.jobsOf.set(id, list);
    if (this.autoExit !== undefined) queueMicrotask(() => job.exit(this.autoExit!));
    return job;
  }
}

export class FakeNetwork implements Network {
  readonly created = new Map<string, ContainerNetwork>();
  readonly destroyed: Array<{ id: string; known?: KnownNetworkRules }> = [];
  readonly netIns: Array<{ id: string; rule: NetInRule }> = [];
  readonly netOuts: Array<{ id: string; rule: NetOutRule }> = [];
  readonly limits = new Map<string, BandwidthLimit>();
  failCreate: Error | undefined;
  failNetIn: Error | undefined;
  orphans: string[] = [];

  async create(id: string, network: ContainerNetwork): Promise<NamespacePaths> {
    if (this.failCreate) throw this.failCreate;
    this.created.set(id, network);
    return { network: `/netns/${id}`, user: `/userns/${id}` };
  }

  /** Fails the next destroy (once), as a kernel refusing to let go of an interface would. */
  failDestroyOnce: Error | undefined;

  async destroy(id: string, known?: KnownNetworkRules): Promise<void> {
    const fail = this.failDestroyOnce;
    this.failDestroyOnce = undefined;
    if (fail) throw fail;
    this.created.delete(id);
    this.destroyed.push({ id, known });
  }

  async netIn(id: string, _network: ContainerNetwork, rule: NetInRule): Promise<void> {
    if (this.failNetIn) throw this.failNetIn;
    this.netIns.push({ id, rule });
  }

  async netOut(id: string, rule: NetOutRule): Promise<void> {
    this.netOuts.push({ id, rule });
  }

  async limitBandwidth(id: string, limit: BandwidthLimit): Promise<BandwidthStat> {
    this.limits.set(id, limit);
    return this.bandwidthStat(id);
  }

  async bandwidthStat(id: string): Promise<BandwidthStat> {
    const l = this.limits.get(id)!;
    return { inRate: l.rate, inBurst: l.burst, outRate: l.rate, outBurst: l.burst };
  }

  readonly restored: string[] = [];

  async restore(id: string): Promise<void> {
    this.restored.push(id);
  }

  async removeOrphans(live: ReadonlyMap<string, ContainerNetwork>): Promise<string[]> {
    return this.orphans.filter((id) => !live.has(id));
  }
}

export class FakeLimits implements Limits {
  readonly memory = new Map<string, bigint>();
  readonly shares = new Map<string, bigint>();
  readonly oomWatchers = new Map<string, () => void>();
  failSetMemory: Error | undefined;

  async setMemoryLimit(id: string, bytes: bigint): Promise<void> {
    if (this.failSetMemory) throw this.failSetMemory;
    // The kernel rounds up to pages.
    this.memory.set(id, ((bytes + 4095n) / 4096n) * 4096n);
  }

  async memoryLimit(id: string): Promise<bigint> {
    return this.memory.get(id) ?? 9223372036854771712n;
  }

  async setCpuShares(id: string, shares: bigint): Promise<void> {
    this.shares.set(id, shares < 2n ? 2n : shares);
  }

  async cpuShares(id: string): Promise<bigint> {
    return this.shares.get(id) ?? 1024n;
  }

  async memoryStat(_id: string): Promise<MemoryStat> {
    return { rss: 1000n, cache: 2000n };
  }

  async cpuStat(_id: string): Promise<CpuStat> {
    return { usage: 5n, user: 1n, system: 2n };
  }

  watchOom(id: string, onOom: () => void): () => void {
    this.oomWatchers.set(id, onOom);
    return () => this.oomWatchers.delete(id);
  }

  /** What the kernel's OOM killer would make the real one report. */
  oom(id: string): void {
    this.oomWatchers.get(id)?.();
  }
}

export class FakeDiskQuota implements DiskQuota {
  readonly enforces = { byteSoft: false, byteHard: true, inodeSoft: false, inodeHard: false } as const;
  readonly set = new Map<string, DiskLimits>();

  async limits(id: string): Promise<DiskLimits> {
    const l = this.set.get(id) ?? { byteSoft: 0n, byteHard: 0n, inodeSoft: 0n, inodeHard: 0n };
    return { ...l, byteSoft: 0n, inodeSoft: 0n, inodeHard: 0n };
  }

  async setLimits(id: string, limits: DiskLimits): Promise<void> {
    this.set.set(id, limits);
  }

  async usage(_id: string): Promise<DiskUsage> {
    return { bytesUsed: 4096n };
  }
}

export class FakeFilesystem implements Filesystem {
  readonly prepared = new Set<string>();
  readonly removed: string[] = [];
  failPrepare: Error | undefined;
  failCheck: Error | undefined;

  async check(_spec: Pick<ContainerSpec, "rootfs" | "bindMounts">): Promise<void> {
    if (this.failCheck) throw this.failCheck;
  }

  async prepare(spec: ContainerSpec): Promise<string> {
    if (this.failPrepare) throw this.failPrepare;
    this.prepared.add(spec.id);
    return `/fake/${spec.id}/rootfs`;
  }

  async unmount(_id: string): Promise<void> {}

  async remove(id: string): Promise<void> {
    this.prepared.delete(id);
    this.removed.push(id);
  }

  orphanMounts: string[] = [];
  async removeOrphans(live: ReadonlySet<string>): Promise<string[]> {
    const gone = this.orphanMounts.filter((id) => !live.has(id));
    this.orphanMounts = this.orphanMounts.filter((id) => live.has(id));
    return gone;
  }
}

export class FakeDepot implements Depot {
  readonly dirs = new Set<string>();
  readonly root = "/depot";

  path(id: string): string {
    return `/depot/${id}`;
  }

  async create(id: string): Promise<string> {
    this.dirs.add(id);
    return this.path(id);
  }

  async remove(id: string): Promise<void> {
    this.dirs.delete(id);
  }

  async list(): Promise<string[]> {
    return [...this.dirs];
  }
}

export class FakeLogSink implements JobLogSink {
  readonly lines: Array<{ tag: string; stream: OutputStream; line: string }> = [];
  closed = 0;

  open(tag: string): JobLog {
    return {
      write: (stream, line) => this.lines.push({ tag, stream, line }),
      close: () => void this.closed++,
    };
  }
}

export class FakeCopier implements FileCopier {
  readonly copies: Array<{ direction: "in" | "out"; id: string; user: JobUser; src: string; dst: string; owner?: string }> = [];

  async copyIn(r: { id: string; user: JobUser; src: string; dst: string }): Promise<void> {
    this.copies.push({ direction: "in", ...r });
  }

  async copyOut(r: { id: string; user: JobUser; src: string; dst: string; owner?: string }): Promise<void> {
    this.copies.push({ direction: "out", ...r });
  }
}

export class FakeStateStore implements StateStore {
  readonly records = new Map<string, ContainerRecord>();
  readonly counters = new Map<string, number>();

  async save(record: ContainerRecord): Promise<void> {
    // Through JSON, as a file would: no objects shared with the container.
    this.records.set(record.id, JSON.parse(JSON.stringify(record)) as ContainerRecord);
  }

  async load(id: string): Promise<ContainerRecord | undefined> {
    return this.records.get(id);
  }

  async loadCounter(name: string): Promise<number> {
    return this.counters.get(name) ?? 0;
  }

  async saveCounter(name: string, value: number): Promise<void> {
    this.counters.set(name, value);
  }

  async clearCounters(): Promise<void> {
    this.counters.clear();
  }
}

export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
};

/** Lets pending promise callbacks run. */
export async function settle(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}
