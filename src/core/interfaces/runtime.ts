// Running containers and their processes.
import type { IdMap } from "./id-map.js";
import type { Rlimits } from "../rlimits.js";
import type { BindMount } from "./filesystem.js";
import type { NetworkAttachment } from "./network.js";
import type { OutputStream } from "./process-log.js";

/** What the runtime needs to start a container on a prepared root filesystem. */
/**
 * What a container's processes may hold. Absent, the daemon decides: root
 * gets its default set (everything it holds, when privileged) and other
 * users none at all.
 */
export interface ContainerCapabilities {
  /** What root holds (and the init): names such as CAP_CHOWN, or "all" the daemon has. */
  root: readonly string[] | "all";
  /** What other users keep as bounding and inheritable sets; they hold none. */
  others: readonly string[];
}

export interface ContainerLaunch {
  id: string;
  handle: string;
  rootfsPath: string;
  bindMounts: BindMount[];
  /** "host": in the host's network namespace. */
  network: NetworkAttachment | "host";
  /** Without a user namespace; root in it holds every capability the daemon has. */
  privileged?: boolean;
  /** A user namespace with this map, in place of the daemon's. */
  idMap?: IdMap;
  /** Its cgroup under this one (an absolute path, as a kubelet's pod cgroup) instead of the daemon's. */
  cgroupParent?: string;
  capabilities?: ContainerCapabilities;
  /** Absent: its id. */
  hostname?: string;
  /** Most processes; absent: the runtime's default. */
  pidsLimit?: number;
  /** Kernel parameters of its own namespaces. */
  sysctls?: Record<string, string>;
}

/** What a pea may or may not do beyond its container's defaults (a Kubernetes security context). */
export interface PeaSecurity {
  /** Every capability and device the daemon has, no seccomp filter, no masked or read-only paths. */
  privileged?: boolean;
  /** Its root file system is read-only. */
  readonlyRoot?: boolean;
  /** These instead of the container's. */
  maskedPaths?: string[];
  readonlyPaths?: string[];
  /**
   * Absent: the container's filter. "default": the daemon's (even in a
   * container without one). "unconfined": none. A profile: the seccomp JSON
   * (OCI's or Docker's form) in this host file.
   */
  seccomp?: "default" | "unconfined" | { profilePath: string };
  /**
   * Its PID namespace: the container's (absent), one of its own, or the
   * host's; its IPC namespace: the container's or the host's. The host's
   * only for a container without a user namespace.
   */
  pidNamespace?: "own" | "host";
  ipcNamespace?: "host";
}

/** A pea's own limits: memory, CPU shares, a CPU ceiling (quota microseconds per period), the CPUs and memory nodes it may use (lists as "0-3,5"). */
export interface PeaLimits {
  memoryBytes?: bigint;
  cpuShares?: bigint;
  cpuQuota?: bigint;
  cpuPeriod?: bigint;
  cpusetCpus?: string;
  cpusetMems?: string;
}

/** A host device node a pea gets at a path of its own, with what it may do with it ("r", "w", "m"). */
export interface PeaDevice {
  hostPath: string;
  containerPath: string;
  permissions: string;
}

export interface PeaLaunch {
  /** Unique in the container. */
  id: string;
  rootfsPath: string;
  /** Limits of its own; absent: it shares the container's. */
  limits?: PeaLimits;
  /** With limits of its own: the cgroup (an absolute path in the hierarchy) its own goes under, instead of beside its container's. */
  cgroupParent?: string;
  /** Host paths bound into its root. */
  bindMounts?: BindMount[];
  /** Host devices it may use. */
  devices?: PeaDevice[];
  security?: PeaSecurity;
}

/** A user of the container, found in its account files (or known to the core). */
export interface ResolvedUser {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: number[];
  home: string;
}

export interface WindowSize {
  rows: number;
  columns: number;
}

/** Signals a client may send a process. */
export const SIGNALS = ["TERM", "KILL", "INT", "HUP", "QUIT", "USR1", "USR2"] as const;
export type Signal = (typeof SIGNALS)[number];

/** The signals of a process's end are numbers (what killed it may be any). */
export const SIGNAL_NUMBERS: Readonly<Record<Signal, number>> = {
  HUP: 1, INT: 2, QUIT: 3, KILL: 9, USR1: 10, USR2: 12, TERM: 15,
};

/** How a process ended. `lost`: its supervisor died with it, so nobody saw. */
export type ProcessExit =
  | { kind: "exited"; code: number }
  | { kind: "signaled"; signal: number }
  | { kind: "lost" };

/** Standard input: none, the given bytes, or a stream the client writes and closes. */
export type StdinMode = { kind: "none" } | { kind: "data"; data: Buffer } | { kind: "stream" };

/** A process to start, every choice made: the user found, the environment whole. */
export interface ProcessLaunch {
  /** A number no other process of this daemon has had: names its files. */
  seq: number;
  path: string;
  args: string[];
  env: string[];
  dir: string;
  user: ResolvedUser;
  rlimits: Rlimits;
  tty?: WindowSize;
  stdin: StdinMode;
  /** Output thrown away (nothing kept, nothing to read). */
  discardOutput: boolean;
  /** Kept beside the process for a restarted daemon; opaque to the runtime. */
  meta: Record<string, unknown>;
  /** The container's, when it has its own. */
  capabilities?: ContainerCapabilities;
  /** Its output also goes here, line by line, in Kubernetes' container log format. */
  logFile?: string;
  /** Setuid programs and file capabilities may raise its privileges (no_new_privileges is off). */
  allowPrivilegeGain?: boolean;
}

/** A process running under a supervisor that outlives this daemon. */
export interface ProcessHandle {
  readonly exited: Promise<ProcessExit>;
  /** Calls `listener` (coalesced) when output grows. Returns an unsubscribe function. */
  onOutput(listener: () => void): () => void;
  outputSizes(): Promise<Record<OutputStream, number>>;
  read(stream: OutputStream, offset: number, length: number): Promise<Buffer>;
  /** Frees the disk space of a stream's bytes before `offset`; they are not read again. */
  discardBefore(stream: OutputStream, offset: number): Promise<void>;
  /** Writes to standard input (a stream); resolves once the supervisor has taken it. */
  writeStdin(data: Buffer): Promise<void>;
  closeStdin(): Promise<void>;
  signal(signal: Signal): Promise<void>;
  resize(size: WindowSize): Promise<void>;
  /** Opens its log file again, at its path (the old one was moved away); resolves once the file is there. */
  reopenLog(): Promise<void>;
  /** Kills the process and everything it started. */
  kill(): Promise<void>;
  /** Forgets the process and removes its files. */
  remove(): Promise<void>;
  /** Stops watching, leaving the process and its files (the daemon is going away). */
  detach(): void;
}

export interface RecoveredProcess {
  seq: number;
  meta: Record<string, unknown>;
  handle: ProcessHandle;
}

export type StopSignal = "TERM" | "KILL";

export interface Runtime {
  /** Starts the container's init under its supervisor. */
  create(launch: ContainerLaunch): Promise<void>;
  /**
   * Ends every process of the container at once (its init, and with it the
   * rest of its pid namespace); resolves once they are gone. Idempotent.
   */
  kill(id: string): Promise<void>;
  /** Kills every process, the supervisors included, and removes the runtime's state. Idempotent. */
  destroy(id: string): Promise<void>;
  /** Signals every process of the container but its init. */
  signalAll(id: string, signal: StopSignal): Promise<void>;
  /** How many processes the container runs besides its init. */
  processCount(id: string): Promise<number>;
  /**
   * Finds `user` (a name, uid, uid:gid or name:group) in the container's
   * account files. With `workDir`, makes the working directory (its `path`,
   * or else the user's home) when missing, owned by the user. Throws
   * USER_NOT_FOUND for a name it does not know.
   */
  resolveUser(id: string, user: string, workDir?: { path?: string }): Promise<ResolvedUser>;
  startProcess(id: string, launch: ProcessLaunch): Promise<ProcessHandle>;
  /**
   * Starts a pea: the process as a container of its own on `pea.rootfsPath`,
   * joining container `id`'s namespaces but its mount one, in a cgroup under
   * the container's or, with limits of its own, beside it.
   */
  startPea(id: string, launch: ProcessLaunch, pea: PeaLaunch): Promise<ProcessHandle>;
  /** Starts another process in a running pea: its root, its mount namespace, its cgroup. */
  execInPea(id: string, peaId: string, launch: ProcessLaunch): Promise<ProcessHandle>;
  /** Removes what a pea that ended left of its container; safe for one already gone. */
  removePea(id: string, peaId: string): Promise<void>;
  /** The cgroup name a pea's usage is read under (by Limits), for its metrics. */
  peaCgroup(id: string, peaId: string, ownLimits: boolean): string;
  /** The processes a container has, found again from what their supervisors left. */
  processes(id: string): Promise<RecoveredProcess[]>;
  /** Removes the runtime's state, supervisors and cgroups of containers that are not live; returns their ids. */
  removeOrphans(live: ReadonlySet<string>): Promise<string[]>;
  /** Whether the container's init still runs (after a daemon restart). */
  isRunning(id: string): Promise<boolean>;
}
