// A container's resource limits and what it has used.

/** Memory use as the kernel accounts it, in bytes and page counts; what the machine cannot tell is absent. */
export interface MemoryStats {
  cache?: bigint;
  rss?: bigint;
  mappedFile?: bigint;
  pgpgin?: bigint;
  pgpgout?: bigint;
  swap?: bigint;
  pgfault?: bigint;
  pgmajfault?: bigint;
  inactiveAnon?: bigint;
  activeAnon?: bigint;
  inactiveFile?: bigint;
  activeFile?: bigint;
  unevictable?: bigint;
  hierarchicalMemoryLimit?: bigint;
  hierarchicalMemswLimit?: bigint;
  totalCache?: bigint;
  totalRss?: bigint;
  totalMappedFile?: bigint;
  totalPgpgin?: bigint;
  totalPgpgout?: bigint;
  totalSwap?: bigint;
  totalPgfault?: bigint;
  totalPgmajfault?: bigint;
  totalInactiveAnon?: bigint;
  totalActiveAnon?: bigint;
  totalInactiveFile?: bigint;
  totalActiveFile?: bigint;
  totalUnevictable?: bigint;
}

export const MEMORY_STATS_FIELDS: ReadonlyArray<keyof MemoryStats> = [
  "cache", "rss", "mappedFile", "pgpgin", "pgpgout", "swap", "pgfault", "pgmajfault",
  "inactiveAnon", "activeAnon", "inactiveFile", "activeFile", "unevictable",
  "hierarchicalMemoryLimit", "hierarchicalMemswLimit",
  "totalCache", "totalRss", "totalMappedFile", "totalPgpgin", "totalPgpgout", "totalSwap",
  "totalPgfault", "totalPgmajfault", "totalInactiveAnon", "totalActiveAnon",
  "totalInactiveFile", "totalActiveFile", "totalUnevictable",
];

/** CPU time used, in nanoseconds. */
export interface CpuStats {
  usage: bigint;
  user: bigint;
  system: bigint;
}

/**
 * What a cgroup holds and has done, beyond MemoryStats and CpuStats: for
 * detailed metrics (Kubernetes' cAdvisor names). What the machine cannot
 * tell is 0.
 */
export interface CgroupDetail {
  memoryUsage: bigint;
  memoryMaxUsage: bigint;
  /** Times the memory limit was hit. */
  memoryFailcnt: bigint;
  kernelUsage: bigint;
  memoryLimit: bigint;
  /** Memory and swap together (0: not accounted). */
  swapLimit: bigint;
  cpuPeriods: bigint;
  cpuThrottledPeriods: bigint;
  cpuThrottledNanos: bigint;
  cpuShares: bigint;
  /** Microseconds; quota 0: no ceiling. */
  cpuPeriod: bigint;
  cpuQuota: bigint;
  /** 0: no limit. */
  pidsLimit: bigint;
  processes: number;
  threads: number;
  fileDescriptors: number;
  sockets: number;
  /** Block I/O by device (none when the machine does not count it). */
  blockIo: BlockIoStats[];
}

/** Bytes and operations a cgroup read from and wrote to one block device. */
export interface BlockIoStats {
  major: number;
  minor: number;
  /** Its name under /dev ("/dev/vda"), "" when unknown. */
  device: string;
  readBytes: bigint;
  writeBytes: bigint;
  reads: bigint;
  writes: bigint;
}

export interface Limits {
  setMemoryLimit(id: string, bytes: bigint): Promise<void>;
  memoryLimit(id: string): Promise<bigint>;
  setCpuShares(id: string, shares: bigint): Promise<void>;
  cpuShares(id: string): Promise<bigint>;
  /** At most `quota` microseconds of CPU in every `period` microseconds (quota 0: no ceiling). */
  setCpuQuota(id: string, quota: bigint, period: bigint): Promise<void>;
  /** The CPUs and memory nodes its processes may use ("0-3,5"); what is not given stays. */
  setCpuset(id: string, cpus?: string, mems?: string): Promise<void>;
  memoryStats(id: string): Promise<MemoryStats>;
  cpuStats(id: string): Promise<CpuStats>;
  /** How many processes (threads included) the container has now. */
  pids(id: string): Promise<number>;
  /** Calls `onOom` when the kernel kills a process of the container for memory. Returns a function that stops watching. */
  watchOom(id: string, onOom: () => void): () => void;
  /** How many processes the kernel has killed for memory in a cgroup (a container's, or a pea's of its own). */
  oomKills(cgroup: string): Promise<number>;
  /** The cgroup's usage and settings in detail, with a census of its processes (threads, open files, sockets). */
  detail(cgroup: string): Promise<CgroupDetail>;
}
