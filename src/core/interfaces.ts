// What the container core needs from the machine, declared here where it is
// used. The core knows nothing of Linux; src/linux implements these, and the
// unit tests implement them with fakes.
import type { NetworkSpec } from "./ipv4.js";

export type BindMountMode = "ro" | "rw";

export interface BindMount {
  srcPath: string;
  dstPath: string;
  mode: BindMountMode;
}

/** A container's /30: the host's side (.1) and the container's (.2). */
export interface ContainerNetwork {
  subnet: string;
  hostIp: string;
  containerIp: string;
}

export interface ContainerSpec {
  id: string;
  handle: string;
  /** The container user's uid (and gid), from the uid pool. */
  uid: number;
  /** Host directory of the read-only base root filesystem. */
  rootfs: string;
  bindMounts: BindMount[];
  network: ContainerNetwork;
  /** The namespaces the runtime joins, made by the Network. */
  namespaces?: NamespacePaths;
}

/** Pinned namespaces: the network one, and the user namespace owning it when containers get one. */
export interface NamespacePaths {
  network: string;
  user?: string;
}

/** One directory per container, named by its id. */
export interface Depot {
  /** The directory holding the containers' directories. */
  readonly root: string;
  path(id: string): string;
  create(id: string): Promise<string>;
  remove(id: string): Promise<void>;
  /** Ids of every container directory present. */
  list(): Promise<string[]>;
}

export interface Filesystem {
  /** Checks what the client named (base, bind mount sources), before anything is made for the container. */
  check(spec: Pick<ContainerSpec, "rootfs" | "bindMounts">): Promise<void>;
  /** Checks the base and builds the container's root: a writable layer over the base. */
  prepare(spec: ContainerSpec): Promise<string>;
  /** Unmounts the container's root; safe while the runtime is still tearing the container down. */
  unmount(id: string): Promise<void>;
  /** Removes the container's root and writable layer once its processes are gone; safe for a half-made or missing one. */
  remove(id: string): Promise<void>;
  /** Unmounts roots of containers that are not live (left by a daemon killed half-way); returns their ids. */
  removeOrphans(live: ReadonlySet<string>): Promise<string[]>;
}

export type RlimitName =
  | "as" | "core" | "cpu" | "data" | "fsize" | "locks" | "memlock" | "msgqueue"
  | "nice" | "nofile" | "nproc" | "rss" | "rtprio" | "sigpending" | "stack";

export const RLIMIT_NAMES: readonly RlimitName[] = [
  "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
  "nice", "nofile", "nproc", "rss", "rtprio", "sigpending", "stack",
];

export type Rlimits = Partial<Record<RlimitName, bigint>>;

export interface JobUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface JobSpec {
  jobId: number;
  script: string;
  user: JobUser;
  privileged: boolean;
  env: string[];
  rlimits: Rlimits;
  discardOutput: boolean;
}

export type OutputStream = "stdout" | "stderr";

/** A job running under a supervisor that outlives this daemon. */
export interface JobProcess {
  /** The exit status the supervisor recorded: the code, or 128 + signal. */
  readonly exited: Promise<number>;
  /** Calls `listener` (coalesced) when output grows. Returns an unsubscribe function. */
  onOutput(listener: () => void): () => void;
  outputSizes(): Promise<Record<OutputStream, number>>;
  read(stream: OutputStream, offset: number, length: number): Promise<Buffer>;
  /** Kills the job's process. */
  kill(): Promise<void>;
  /** Forgets the job and removes its files. */
  remove(): Promise<void>;
}

export type StopSignal = "TERM" | "KILL";

/** What a job was started with, kept beside it for a restarted daemon. */
export interface JobMeta {
  discardOutput: boolean;
  logTag?: string;
  privileged: boolean;
}

export interface RecoveredJob {
  jobId: number;
  meta: JobMeta;
  process: JobProcess;
}

export interface Runtime {
  /** Starts the container's init under its supervisor on a prepared root filesystem. */
  create(spec: ContainerSpec, rootfsPath: string): Promise<void>;
  /** Kills every process, the supervisors included, and removes the runtime's state. Idempotent. */
  destroy(id: string): Promise<void>;
  /** Signals every process of the container but its init. */
  signalAll(id: string, signal: StopSignal): Promise<void>;
  /** How many processes the container runs besides its init. */
  processCount(id: string): Promise<number>;
  spawn(id: string, job: JobSpec, meta: JobMeta): Promise<JobProcess>;
  /** Removes the runtime's state, supervisors and cgroups of containers that are not live; returns their ids. */
  removeOrphans(live: ReadonlySet<string>): Promise<string[]>;
  /** Whether the container's init still runs (after a daemon restart). */
  isRunning(id: string): Promise<boolean>;
  /** The jobs a container has, found again from what their supervisors left. */
  jobs(id: string): Promise<RecoveredJob[]>;
}

export interface NetInRule {
  hostPort: number;
  containerPort: number;
}

export type NetOutProtocol = "tcp" | "udp" | "icmp" | "all";

export interface NetOutRule {
  network?: NetworkSpec;
  ports?: { from: number; to: number };
  protocol: NetOutProtocol;
  icmpType?: number;
  icmpCode?: number;
  log: boolean;
}

/** Bytes per second and bytes, both ways. */
export interface BandwidthLimit {
  rate: number;
  burst: number;
}

export interface BandwidthStat {
  inRate: number;
  inBurst: number;
  outRate: number;
  outBurst: number;
}

/** What the daemon knows of a container's network when removing it. */
export interface KnownNetworkRules {
  network: ContainerNetwork;
  netIns: NetInRule[];
  netOut: boolean;
}

export interface Network {
  /**
   * Makes the container's network namespace, wired to the host, inside a
   * user namespace of its own when containers get one. Returns the paths of
   * the namespaces for the runtime to join.
   */
  create(id: string, network: ContainerNetwork): Promise<NamespacePaths>;
  /**
   * Removes all of it: interfaces, namespace, firewall chain, forwards.
   * Idempotent; without `known` (a leftover) it looks for everything.
   */
  destroy(id: string, known?: KnownNetworkRules): Promise<void>;
  netIn(id: string, network: ContainerNetwork, rule: NetInRule): Promise<void>;
  netOut(id: string, rule: NetOutRule): Promise<void>;
  /** Sets the limit and answers with what the kernel then holds (read back once: only we change it). */
  limitBandwidth(id: string, limit: BandwidthLimit): Promise<BandwidthStat>;
  bandwidthStat(id: string): Promise<BandwidthStat>;
  /** Applies a recovered container's forwards, egress rules and bandwidth limit again; idempotent. */
  restore(
    id: string,
    rules: { network: ContainerNetwork; netIns: NetInRule[]; netOuts: NetOutRule[]; bandwidth?: BandwidthLimit },
  ): Promise<void>;
  /** Removes what is ours but belongs to none of the live containers; returns their ids. */
  removeOrphans(live: ReadonlyMap<string, ContainerNetwork>): Promise<string[]>;
}

/** memory.stat's fields, as Warden's InfoResponse.MemoryStat names them. */
export const MEMORY_STAT_FIELDS = [
  "cache", "rss", "mapped_file", "pgpgin", "pgpgout", "swap", "pgfault", "pgmajfault",
  "inactive_anon", "active_anon", "inactive_file", "active_file", "unevictable",
  "hierarchical_memory_limit", "hierarchical_memsw_limit",
  "total_cache", "total_rss", "total_mapped_file", "total_pgpgin", "total_pgpgout", "total_swap",
  "total_pgfault", "total_pgmajfault", "total_inactive_anon", "total_active_anon",
  "total_inactive_file", "total_active_file", "total_unevictable",
] as const;

export type MemoryStatField = (typeof MEMORY_STAT_FIELDS)[number];
export type MemoryStat = Partial<Record<MemoryStatField, bigint>>;

export interface CpuStat {
  /** Nanoseconds. */
  usage: bigint;
  /** USER_HZ ticks. */
  user: bigint;
  system: bigint;
}

/** A container's cgroup limits and what it has used. */
export interface Limits {
  setMemoryLimit(id: string, bytes: bigint): Promise<void>;
  memoryLimit(id: string): Promise<bigint>;
  setCpuShares(id: string, shares: bigint): Promise<void>;
  cpuShares(id: string): Promise<bigint>;
  memoryStat(id: string): Promise<MemoryStat>;
  cpuStat(id: string): Promise<CpuStat>;
  /** Calls `onOom` when the kernel kills a process of the container for memory. Returns a function that stops watching. */
  watchOom(id: string, onOom: () => void): () => void;
}

/** Disk limits in bytes and inodes; 0 means none. */
export interface DiskLimits {
  byteSoft: bigint;
  byteHard: bigint;
  inodeSoft: bigint;
  inodeHard: bigint;
}

export interface DiskUsage {
  bytesUsed: bigint;
  /** Absent where the mechanism does not count inodes. */
  inodesUsed?: bigint;
}

/** The disk quota mechanism behind LimitDisk and Info.disk_stat. */
export interface DiskQuota {
  /** Which limits it can enforce; others are reported as not enforced (0), never pretended. */
  readonly enforces: Readonly<Record<keyof DiskLimits, boolean>>;
  limits(id: string): Promise<DiskLimits>;
  setLimits(id: string, limits: DiskLimits): Promise<void>;
  usage(id: string): Promise<DiskUsage>;
}

/** Copies between host paths and a container's paths, the container's resolved inside it as `user`. */
export interface FileCopier {
  copyIn(request: { id: string; user: JobUser; src: string; dst: string }): Promise<void>;
  copyOut(request: { id: string; user: JobUser; src: string; dst: string; owner?: string }): Promise<void>;
}

/** What a container is, as kept on disk for a restarted daemon. JSON: big numbers as strings. */
export interface ContainerRecord {
  version: 1;
  id: string;
  handle: string;
  uid: number;
  rootfs: string;
  bindMounts: BindMount[];
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
}

export interface StateStore {
  /** Written atomically: a reader sees the old record or the new one, never a mix. */
  save(record: ContainerRecord): Promise<void>;
  /** undefined when there is none; throws when it cannot be read as a record. */
  load(id: string): Promise<ContainerRecord | undefined>;
  /** A number kept across restarts (the highest job id handed out so far may not go lower). */
  loadCounter(name: string): Promise<number>;
  saveCounter(name: string, value: number): Promise<void>;
  /** Forgets every counter; only when no container is left to refer to what they counted. */
  clearCounters(): Promise<void>;
}

/** Where output of jobs with a log_tag goes (syslog). */
export interface JobLogSink {
  open(tag: string): JobLog;
}

export interface JobLog {
  write(stream: OutputStream, line: string): void;
  close(): void;
}

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** What the core reports as it happens, for metrics. */
export interface MetricsSink {
  containerCreated(seconds: number): void;
  containerDestroyed(seconds: number): void;
  createFailed(): void;
  destroyFailed(): void;
  outOfMemory(): void;
}
