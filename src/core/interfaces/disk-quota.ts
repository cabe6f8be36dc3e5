// The disk quota mechanism behind a container's disk limit and usage.

/** Disk limits in bytes and inodes; 0 means none. */
export interface DiskLimits {
  byteSoft: bigint;
  byteHard: bigint;
  inodeSoft: bigint;
  inodeHard: bigint;
}

export interface DiskUsage {
  /** What the container wrote: its own layer. */
  bytesUsed: bigint;
  /** What its base takes besides, shared with other containers. */
  baseBytes?: bigint;
  /** Absent where the mechanism does not count inodes. */
  inodesUsed?: bigint;
}

export interface DiskQuota {
  /** Which limits it can enforce; others are reported as not enforced (0), never pretended. */
  readonly enforces: Readonly<Record<keyof DiskLimits, boolean>>;
  limits(id: string): Promise<DiskLimits>;
  setLimits(id: string, limits: DiskLimits): Promise<void>;
  usage(id: string): Promise<DiskUsage>;
}
