// Hand-written fakes of the core's interfaces: they record what the core
// asked for and let a test decide what the machine does. Each fake keeps its
// state per container, so a bug that reaches across containers shows.
import type { Duplex, Readable } from "node:stream";
import { duplexPair, PassThrough } from "node:stream";
import type { Depot } from "../../src/core/interfaces/depot.js";
import type { DiskLimits, DiskQuota, DiskUsage } from "../../src/core/interfaces/disk-quota.js";
import type { FileTransfer } from "../../src/core/interfaces/file-transfer.js";
import type { IdMap } from "../../src/core/interfaces/id-map.js";
import type { BindMount, Filesystem, FilesystemUsage, ImageMountLayers, RootfsBase, RootfsSpec } from "../../src/core/interfaces/filesystem.js";
import type { Image, ImageConfig, ImageCredentials, ImageStore, ImageSummary } from "../../src/core/interfaces/image-store.js";
import { imageName, type ImageReference } from "../../src/core/images/reference.js";
import { errors } from "../../src/core/errors.js";
import type { CgroupDetail, CpuStats, Limits, MemoryStats } from "../../src/core/interfaces/limits.js";
import type { Logger } from "../../src/core/interfaces/logger.js";
import type {
  BandwidthLimit,
  BandwidthStat,
  ContainerNetwork,
  KnownNetworkRules,
  Network,
  NetworkAttachment,
  NetInRule,
  NetOutRule,
  TrafficStats,
} from "../../src/core/interfaces/network.js";
import type { OutputStream, ProcessLog, ProcessLogSink } from "../../src/core/interfaces/process-log.js";
import type {
  ContainerLaunch,
  PeaLaunch,
  ProcessExit,
  ProcessHandle,
  ProcessLaunch,
  RecoveredProcess,
  ResolvedUser,
  Runtime,
  Signal,
  StopSignal,
  WindowSize,
} from "../../src/core/interfaces/runtime.js";
import { SIGNAL_NUMBERS } from "../../src/core/interfaces/runtime.js";
import type { ContainerRecord, StateStore } from "../../src/core/interfaces/state-store.js";
import { resolveUser } from "../../src/core/process/users.js";

export class FakeProcess implements ProcessHandle {
  readonly exited: Promise<ProcessExit>;
  private resolveExit!: (exit: ProcessExit) => void;
  private readonly listeners = new Set<() => void>();
  readonly output: Record<OutputStream, Buffer> = { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) };
  /** Offsets below which bytes were freed (read back as zeros, as a hole would). */
  readonly discarded: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  readonly stdin: Buffer[] = [];
  stdinClosed = false;
  readonly signals: Signal[] = [];
  readonly sizes: WindowSize[] = [];
  killed = false;
  removed = false;
  detached = false;
  ended: ProcessExit | undefined;
  /** TERM leaves it running (it traps the signal). */
  ignoresTerm = false;
  /** A pea's: in a cgroup of its own, which signals to the container's cgroup do not reach. */
  ownCgroup = false;

  constructor(
    readonly containerId: string,
    readonly launch: ProcessLaunch,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  write(stream: OutputStream, data: string | Buffer): void {
    this.output[stream] = Buffer.concat([this.output[stream], Buffer.from(data)]);
    for (const l of [...this.listeners]) l();
  }

  end(exit: ProcessExit): void {
    if (this.ended) return;
    this.ended = exit;
    this.resolveExit(exit);
    for (const l of [...this.listeners]) l();
  }

  exit(code: number): void {
    this.end({ kind: "exited", code });
  }

  get running(): boolean {
    return this.ended === undefined;
  }

  onOutput(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async outputSizes(): Promise<Record<OutputStream, number>> {
    return { stdout: this.output.stdout.length, stderr: this.output.stderr.length };
  }

  async read(stream: OutputStream, offset: number, length: number): Promise<Buffer> {
    const bytes = Buffer.from(this.output[stream].subarray(offset, offset + length));
    bytes.fill(0, 0, Math.max(0, Math.min(bytes.length, this.discarded[stream] - offset)));
    return bytes;
  }

  async discardBefore(stream: OutputStream, offset: number): Promise<void> {
    this.discarded[stream] = Math.max(this.discarded[stream], offset);
  }

  async writeStdin(data: Buffer): Promise<void> {
    this.stdin.push(Buffer.from(data));
  }

  async closeStdin(): Promise<void> {
    this.stdinClosed = true;
  }

  async signal(signal: Signal): Promise<void> {
    this.signals.push(signal);
  }

  async resize(size: WindowSize): Promise<void> {
    this.sizes.push(size);
  }

  logReopened = 0;
  async reopenLog(): Promise<void> {
    this.logReopened++;
  }

  async kill(): Promise<void> {
    this.killed = true;
    this.end({ kind: "signaled", signal: 9 });
  }

  async remove(): Promise<void> {
    this.removed = true;
  }

  detach(): void {
    this.detached = true;
  }
}

interface FakeContainer {
  launch: ContainerLaunch;
  /** Processes besides init that the core did not start (daemons a job left); each has a reaction to TERM. */
  others: Array<{ ignoresTerm: boolean }>;
  processes: FakeProcess[];
  /** What the container's /etc/passwd and /etc/group say. */
  passwd: string;
  group: string;
  /** Directories the core had made for processes. */
  dirsMade: string[];
}

export const DEFAULT_PASSWD = "root:x:0:0:root:/root:/bin/bash\nvcap:x:10000:10000::/home/vcap:/bin/bash\n";
export const DEFAULT_GROUP = "root:x:0:\nvcap:x:10000:\n";

export class FakeRuntime implements Runtime {
  readonly containers = new Map<string, FakeContainer>();
  /** Every process started, in order, across containers. */
  readonly started: FakeProcess[] = [];
  /** What a restarted daemon would find: every process started, but those removed. */
  readonly metaOf = new Map<FakeProcess, { seq: number; meta: Record<string, unknown> }>();
  /** Ids whose init has died (a restarted daemon must not keep them). */
  readonly deadInits = new Set<string>();
  readonly signals: Array<{ id: string; signal: StopSignal }> = [];
  readonly destroyed: string[] = [];
  readonly resolved: Array<{ id: string; user: string; workDir?: { path?: string } }> = [];
  failCreate: Error | undefined;
  failStart: Error | undefined;
  createDelayMs = 0;
  /** Ends every process at once with this code, unless undefined. */
  autoExit: number | undefined;

  async create(launch: ContainerLaunch): Promise<void> {
    if (this.createDelayMs) await new Promise((r) => setTimeout(r, this.createDelayMs));
    if (this.failCreate) throw this.failCreate;
    this.containers.set(launch.id, { launch, others: [], processes: [], passwd: DEFAULT_PASSWD, group: DEFAULT_GROUP, dirsMade: [] });
  }

  container(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new Error(`no container ${id}`);
    return c;
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

  async processes(id: string): Promise<RecoveredProcess[]> {
    return (this.containers.get(id)?.processes ?? [])
      .filter((p) => !p.removed)
      .map((p) => ({ ...this.metaOf.get(p)!, handle: p }));
  }

  readonly killed: string[] = [];
  failKillOnce: Error | undefined;
  async kill(id: string): Promise<void> {
    const fail = this.failKillOnce;
    this.failKillOnce = undefined;
    if (fail) throw fail;
    this.killed.push(id);
    for (const p of this.containers.get(id)?.processes ?? []) p.end({ kind: "signaled", signal: 9 });
  }

  async destroy(id: string): Promise<void> {
    this.destroyed.push(id);
    for (const p of this.containers.get(id)?.processes ?? []) p.end({ kind: "signaled", signal: 9 });
    this.containers.delete(id);
  }

  async signalAll(id: string, signal: StopSignal): Promise<void> {
    this.signals.push({ id, signal });
    const c = this.containers.get(id);
    if (!c) return;
    if (signal === "KILL") c.others = [];
    else c.others = c.others.filter((o) => o.ignoresTerm);
    for (const p of c.processes) {
      if (p.ownCgroup) continue;
      if (signal === "KILL" || !p.ignoresTerm) p.end({ kind: "signaled", signal: SIGNAL_NUMBERS[signal] });
    }
  }

  async processCount(id: string): Promise<number> {
    const c = this.containers.get(id);
    return c ? c.others.length + c.processes.filter((p) => p.running).length : 0;
  }

  async resolveUser(id: string, user: string, workDir?: { path?: string }): Promise<ResolvedUser> {
    this.resolved.push(workDir ? { id, user, workDir } : { id, user });
    const c = this.container(id);
    const resolved = resolveUser(user, c.passwd, c.group);
    if (workDir) c.dirsMade.push(workDir.path ?? resolved.home);
    return resolved;
  }

  /** Peas started, by container, and those removed. */
  readonly peas: Array<{ id: string; pea: PeaLaunch; launch: ProcessLaunch }> = [];
  readonly peasRemoved: string[] = [];

  async startPea(id: string, launch: ProcessLaunch, pea: PeaLaunch): Promise<ProcessHandle> {
    this.peas.push({ id, pea, launch });
    const p = (await this.startProcess(id, launch)) as FakeProcess;
    p.ownCgroup = true;
    return p;
  }

  /** Processes started in running peas. */
  readonly peaExecs: Array<{ id: string; peaId: string; launch: ProcessLaunch }> = [];

  async execInPea(id: string, peaId: string, launch: ProcessLaunch): Promise<ProcessHandle> {
    this.peaExecs.push({ id, peaId, launch });
    return this.startProcess(id, launch);
  }

  async removePea(id: string, peaId: string): Promise<void> {
    this.peasRemoved.push(`${id}/${peaId}`);
  }

  peaCgroup(id: string, peaId: string, ownLimits: boolean): string {
    return ownLimits ? `${id}-${peaId}` : `${id}/${peaId}`;
  }

  async startProcess(id: string, launch: ProcessLaunch): Promise<ProcessHandle> {
    if (this.failStart) throw this.failStart;
    const c = this.container(id);
    const p = new FakeProcess(id, launch);
    c.processes.push(p);
    this.started.push(p);
    this.metaOf.set(p, { seq: launch.seq, meta: JSON.parse(JSON.stringify(launch.meta)) as Record<string, unknown> });
    if (this.autoExit !== undefined) {
      const code = this.autoExit;
      queueMicrotask(() => p.exit(code));
    }
    return p;
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
  /** What the host routes, as hostRoutes answers. */
  routes: string[] = [];

  async hostRoutes(): Promise<string[]> {
    return this.routes;
  }

  /** The options each namespace was made with. */
  readonly createdWith = new Map<string, { privileged?: boolean; idMap?: IdMap }>();

  async create(id: string, network: ContainerNetwork, options: { privileged?: boolean; idMap?: IdMap } = {}): Promise<NetworkAttachment> {
    if (this.failCreate) throw this.failCreate;
    this.created.set(id, network);
    this.createdWith.set(id, options);
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
    return { inRate: limit.rate, inBurst: limit.burst, outRate: limit.rate, outBurst: limit.burst };
  }

  /** Connections asked for: each is one end of a pair, the other end here for the test. */
  readonly connections: Array<{ id: string; port: number; hostNetwork: boolean; far: Duplex }> = [];
  connect(id: string, port: number, options: { hostNetwork?: boolean } = {}): Duplex {
    const [near, far] = duplexPair();
    this.connections.push({ id, port, hostNetwork: options.hostNetwork === true, far });
    return near;
  }

  async traffic(id: string): Promise<TrafficStats> {
    if (!this.created.has(id)) throw new Error(`no network for ${id}`);
    return { rxBytes: 100n, rxPackets: 2n, rxErrors: 0n, rxDropped: 0n, txBytes: 50n, txPackets: 1n, txErrors: 0n, txDropped: 0n };
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

  async detail(cgroup: string): Promise<CgroupDetail> {
    const memoryLimit = this.memory.get(cgroup) ?? 0n;
    return {
      memoryUsage: 4096n, memoryMaxUsage: 8192n, memoryFailcnt: 0n, kernelUsage: 0n, memoryLimit, swapLimit: memoryLimit,
      cpuPeriods: 10n, cpuThrottledPeriods: 1n, cpuThrottledNanos: 1000n, cpuShares: this.shares.get(cgroup) ?? 1024n,
      cpuPeriod: this.quotas.get(cgroup)?.period ?? 100_000n, cpuQuota: this.quotas.get(cgroup)?.quota ?? 0n, pidsLimit: 0n,
      processes: 1, threads: 1, fileDescriptors: 3, sockets: 0, blockIo: [],
    };
  }

  readonly cpusets = new Map<string, { cpus?: string; mems?: string }>();
  async setCpuset(id: string, cpus?: string, mems?: string): Promise<void> {
    this.cpusets.set(id, { ...this.cpusets.get(id), ...(cpus !== undefined ? { cpus } : {}), ...(mems !== undefined ? { mems } : {}) });
  }

  readonly quotas = new Map<string, { quota: bigint; period: bigint }>();
  async setCpuQuota(id: string, quota: bigint, period: bigint): Promise<void> {
    this.quotas.set(id, { quota, period });
  }

  async cpuShares(id: string): Promise<bigint> {
    return this.shares.get(id) ?? 1024n;
  }

  async memoryStats(_id: string): Promise<MemoryStats> {
    return { rss: 1000n, cache: 2000n, totalInactiveAnon: 3n };
  }

  async cpuStats(_id: string): Promise<CpuStats> {
    return { usage: 5n, user: 10_000_000n, system: 20_000_000n };
  }

  async pids(_id: string): Promise<number> {
    return 3;
  }

  watchOom(id: string, onOom: () => void): () => void {
    this.oomWatchers.set(id, onOom);
    return () => this.oomWatchers.delete(id);
  }

  /** cgroup -> processes killed for memory there. */
  readonly oomKillCounts = new Map<string, number>();
  async oomKills(cgroup: string): Promise<number> {
    return this.oomKillCounts.get(cgroup) ?? 0;
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
  readonly prepared = new Map<string, RootfsSpec>();
  readonly removed: string[] = [];
  readonly unmounted: string[] = [];
  failPrepare: Error | undefined;
  failCheck: Error | undefined;
  failRemoveOnce: Error | undefined;

  async check(_spec: { base?: RootfsBase; bindMounts: BindMount[] }): Promise<void> {
    if (this.failCheck) throw this.failCheck;
  }

  async prepare(spec: RootfsSpec): Promise<string> {
    if (this.failPrepare) throw this.failPrepare;
    this.prepared.set(spec.id, spec);
    return `/fake/${spec.id}/rootfs`;
  }

  readonly peaRoots = new Map<string, RootfsBase>();
  /** The bind mounts each pea asked for, as the host has them. */
  readonly peaBindMounts: BindMount[][] = [];
  /** The account files every pea's root has. */
  peaPasswd = DEFAULT_PASSWD;

  /** The map each pea's root is seen through, by container/pea. */
  readonly peaIdMaps = new Map<string, IdMap | undefined>();

  /** The images' layers each pea had mounted, in order. */
  readonly peaImageMounts: ImageMountLayers[][] = [];

  async preparePea(spec: {
    containerId: string;
    peaId: string;
    base: RootfsBase;
    idMap?: IdMap;
    bindMounts?: BindMount[];
    imageMounts?: readonly ImageMountLayers[];
  }): Promise<{ rootfsPath: string; passwd: string; group: string; bindMounts: BindMount[] }> {
    this.peaRoots.set(`${spec.containerId}/${spec.peaId}`, spec.base);
    this.peaIdMaps.set(`${spec.containerId}/${spec.peaId}`, spec.idMap);
    this.peaBindMounts.push(spec.bindMounts ?? []);
    this.peaImageMounts.push([...(spec.imageMounts ?? [])]);
    // Sources as the runtime takes them: staged copies of the host's.
    const bindMounts = (spec.bindMounts ?? []).map((m, i) => ({ ...m, srcPath: `/fake/${spec.containerId}/pea-volumes/${spec.peaId}/${i}` }));
    for (const [i, m] of (spec.imageMounts ?? []).entries()) {
      bindMounts.push({ srcPath: `/fake/${spec.containerId}/pea-volumes/${spec.peaId}/image-${i}${m.subPath ? `/${m.subPath}` : ""}`, dstPath: m.dstPath, mode: "ro", propagation: "private" });
    }
    return { rootfsPath: `/fake/${spec.containerId}/peas/${spec.peaId}`, passwd: this.peaPasswd, group: DEFAULT_GROUP, bindMounts };
  }

  async removePea(containerId: string, peaId: string): Promise<void> {
    this.peaRoots.delete(`${containerId}/${peaId}`);
  }

  /** What findInBase answers, by path ("etc" -> "directory"); absent: nothing there. */
  readonly baseEntries = new Map<string, "directory" | "file" | "symlink">();

  async findInBase(_base: RootfsBase, path: string): Promise<"directory" | "file" | "symlink" | undefined> {
    return this.baseEntries.get(path);
  }

  async peaUsage(): Promise<FilesystemUsage> {
    return { usedBytes: 8192n, usedInodes: 3n, capacityBytes: 1n << 30n, inodesTotal: 65536n, inodesFree: 60000n };
  }

  async baseBytes(id: string): Promise<bigint | undefined> {
    return this.prepared.has(id) ? 4096n : undefined;
  }

  async unmount(id: string): Promise<void> {
    this.unmounted.push(id);
  }

  async remove(id: string): Promise<void> {
    const fail = this.failRemoveOnce;
    this.failRemoveOnce = undefined;
    if (fail) throw fail;
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

/** Images by name; acquire holds them, as the store does. */
export class FakeImageStore implements ImageStore {
  readonly images = new Map<string, Image>();
  /** holder -> image name */
  readonly holds = new Map<string, string>();
  readonly acquired: Array<{ name: string; holder: string; credentials?: ImageCredentials; privileged?: boolean }> = [];
  reconciled: string[] | undefined;
  failAcquire: Error | undefined;

  add(name: string, config: Partial<ImageConfig> = {}): Image {
    const image: Image = { name, id: `sha256:${"a".repeat(64)}`, layers: [`/images/l/${name.length}a`, `/images/l/${name.length}b`], config: { env: [], ...config } };
    this.images.set(name, image);
    return image;
  }

  async acquire(ref: Exclude<ImageReference, { kind: "directory" }>, holder: string, options: { credentials?: ImageCredentials; privileged?: boolean } = {}): Promise<Image> {
    const name = imageName(ref);
    this.acquired.push({ name, holder, credentials: options.credentials, ...(options.privileged ? { privileged: true } : {}) });
    if (this.failAcquire) throw this.failAcquire;
    const image = this.images.get(name);
    if (!image) throw errors.imageNotFound(name);
    this.holds.set(holder, name);
    return image;
  }

  async pull(ref: Exclude<ImageReference, { kind: "directory" }>): Promise<Image> {
    const image = this.images.get(imageName(ref));
    if (!image) throw errors.imageNotFound(imageName(ref));
    return image;
  }

  async release(holder: string): Promise<void> {
    this.holds.delete(holder);
  }

  async reconcile(live: ReadonlySet<string>): Promise<void> {
    this.reconciled = [...live];
    for (const holder of this.holds.keys()) if (!live.has(holder)) this.holds.delete(holder);
  }

  async list(): Promise<ImageSummary[]> {
    return [...this.images.values()].map((i) => ({ name: i.name, id: i.id, size: 0, holders: [...this.holds].filter(([, n]) => n === i.name).map(([h]) => h) }));
  }

  async remove(name: string): Promise<void> {
    this.images.delete(name);
  }

  async prune(): Promise<{ images: string[]; bytes: number }> {
    return { images: [], bytes: 0 };
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

export class FakeProcessLog implements ProcessLogSink {
  readonly lines: Array<{ tag: string; stream: OutputStream; line: string }> = [];
  closed = 0;

  open(tag: string): ProcessLog {
    return {
      write: (stream: OutputStream, line: string) => this.lines.push({ tag, stream, line }),
      close: () => void this.closed++,
    };
  }
}

export class FakeFiles implements FileTransfer {
  readonly copies: Array<{ direction: "in" | "out"; id: string; user: ResolvedUser; src: string; dst: string; owner?: string }> = [];
  readonly streamed: Array<{ direction: "in" | "out"; id: string; user: ResolvedUser; path: string; data?: Buffer }> = [];

  async copyIn(r: { id: string; user: ResolvedUser; src: string; dst: string }): Promise<void> {
    this.copies.push({ direction: "in", ...r });
  }

  async copyOut(r: { id: string; user: ResolvedUser; src: string; dst: string; owner?: string }): Promise<void> {
    this.copies.push({ direction: "out", ...r });
  }

  async streamIn(r: { id: string; user: ResolvedUser; path: string; tar: Readable }): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of r.tar) chunks.push(Buffer.from(chunk as Buffer));
    this.streamed.push({ direction: "in", id: r.id, user: r.user, path: r.path, data: Buffer.concat(chunks) });
  }

  async streamOut(r: { id: string; user: ResolvedUser; path: string }): Promise<Readable> {
    this.streamed.push({ direction: "out", ...r });
    const out = new PassThrough();
    out.end(Buffer.from(`tar of ${r.path}`));
    return out;
  }
}

export class FakeStateStore implements StateStore {
  readonly records = new Map<string, ContainerRecord>();
  readonly counters = new Map<string, number>();
  saves = 0;

  async save(record: ContainerRecord): Promise<void> {
    this.saves++;
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

/** Lets callbacks run until `check` holds; fails after `rounds` turns of the event loop. */
export async function until(check: () => boolean, rounds = 1000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (check()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error("the condition never held");
}
