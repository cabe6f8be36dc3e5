// A container's limits (memory, cpu shares, disk, as the machine holds
// them) and what it has used.
import type { Container } from "../container/container.js";
import { errors } from "../errors.js";
import type { DiskLimits, DiskUsage } from "../interfaces/disk-quota.js";
import type { CpuStats, MemoryStats } from "../interfaces/limits.js";
import type { BandwidthStat } from "../interfaces/network.js";
import type { ServiceContext } from "./context.js";

/** What a container without a bandwidth limit reports, as Warden did (2^32 - 1). */
export const NO_BANDWIDTH_LIMIT = 4294967295;

export interface ContainerMetrics {
  memory: MemoryStats;
  cpu: CpuStats;
  /** Absent when disk quotas are off. */
  disk?: DiskUsage;
  bandwidth: BandwidthStat;
  pids: number;
  /** Its own limit on processes, when it was made with one. */
  pidsLimit?: number;
  /** Milliseconds since the container was made. */
  age: number;
}

export interface DiskLimitsView {
  limits: DiskLimits;
  enforces: Readonly<Record<keyof DiskLimits, boolean>>;
}

export interface ContainerLimits {
  memoryBytes: bigint;
  cpuShares: bigint;
  /** Absent when disk quotas are off. */
  disk?: DiskLimits;
  bandwidth: BandwidthStat;
}

const read = <T>(operation: string, p: Promise<T>) =>
  p.catch((err) => {
    throw errors.limitFailed(operation, err);
  });

export class LimitsService {
  constructor(private readonly ctx: ServiceContext) {}

  /** Sets the memory limit when given; answers with the limit the kernel holds (rounded to pages). */
  async limitMemory(c: Container, bytes: bigint | undefined): Promise<bigint> {
    const { limits } = this.ctx.deps;
    if (bytes !== undefined) {
      if (bytes < 0n) throw errors.invalid("a memory limit cannot be negative");
      await read("setting memory limit", limits.setMemoryLimit(c.id, bytes));
      c.memoryLimit = bytes;
      await this.ctx.persist(c);
      this.ctx.logFor(c).info({ bytes: bytes.toString() }, "memory limited");
    }
    return read("getting memory limit", limits.memoryLimit(c.id));
  }

  /** Sets cpu shares when given; answers with what the kernel holds (it raises 1 to 2). */
  async limitCpu(c: Container, shares: bigint | undefined): Promise<bigint> {
    const { limits } = this.ctx.deps;
    if (shares !== undefined) {
      if (shares < 0n) throw errors.invalid("cpu shares cannot be negative");
      await read("setting cpu shares", limits.setCpuShares(c.id, shares));
      c.cpuShares = shares;
      await this.ctx.persist(c);
      this.ctx.logFor(c).info({ shares: shares.toString() }, "cpu shares set");
    }
    return read("getting cpu shares", limits.cpuShares(c.id));
  }

  /** The disk limits as the mechanism holds them; undefined when quotas are off. */
  async diskLimits(c: Container): Promise<DiskLimitsView | undefined> {
    const quota = this.ctx.deps.diskQuota;
    if (!quota) return undefined;
    return { limits: await read("getting disk limit", quota.limits(c.id)), enforces: quota.enforces };
  }

  /**
   * Sets the disk limits; answers with what the mechanism then holds. Limits
   * it cannot enforce come back as 0 (none), and the log says so. With quotas
   * off it does nothing and answers undefined.
   */
  async limitDisk(c: Container, wanted: DiskLimits): Promise<DiskLimits | undefined> {
    const quota = this.ctx.deps.diskQuota;
    if (!quota) return undefined;
    const log = this.ctx.logFor(c);
    const ignored = (Object.keys(wanted) as Array<keyof DiskLimits>).filter((k) => wanted[k] !== 0n && !quota.enforces[k]);
    if (ignored.length > 0) log.warn({ notEnforced: ignored }, "disk limits the quota mechanism cannot enforce");
    await read("setting disk limit", quota.setLimits(c.id, wanted));
    c.diskLimits = wanted;
    await this.ctx.persist(c);
    log.info({ bytes: wanted.byteHard.toString() }, "disk limited");
    return read("getting disk limit", quota.limits(c.id));
  }

  // Only LimitBandwidth changes the kernel's limits, and it reads them back then.
  bandwidthOf(c: Container): BandwidthStat {
    return (
      c.bandwidthStat ?? { inRate: NO_BANDWIDTH_LIMIT, inBurst: NO_BANDWIDTH_LIMIT, outRate: NO_BANDWIDTH_LIMIT, outBurst: NO_BANDWIDTH_LIMIT }
    );
  }

  async current(c: Container): Promise<ContainerLimits> {
    const { limits, diskQuota } = this.ctx.deps;
    const [memoryBytes, cpuShares, disk] = await Promise.all([
      read("getting memory limit", limits.memoryLimit(c.id)),
      read("getting cpu shares", limits.cpuShares(c.id)),
      diskQuota ? read("getting disk limit", diskQuota.limits(c.id)) : Promise.resolve(undefined),
    ]);
    return { memoryBytes, cpuShares, disk, bandwidth: this.bandwidthOf(c) };
  }

  /** A pea's usage: memory, cpu and processes of its own cgroup, the rest its container's. */
  async metricsOf(c: Container, cgroup: string): Promise<ContainerMetrics> {
    const { limits } = this.ctx.deps;
    const [memory, cpu, pids] = await Promise.all([
      read("getting memory usage", limits.memoryStats(cgroup)),
      read("getting cpu stats", limits.cpuStats(cgroup)),
      limits.pids(cgroup).catch(() => 0),
    ]);
    return { memory, cpu, bandwidth: this.bandwidthOf(c), pids, age: Date.now() - c.createdAt };
  }

  async metrics(c: Container): Promise<ContainerMetrics> {
    const { limits, diskQuota } = this.ctx.deps;
    const [memory, cpu, disk, pids] = await Promise.all([
      read("getting memory usage", limits.memoryStats(c.id)),
      read("getting cpu stats", limits.cpuStats(c.id)),
      diskQuota ? read("getting disk usage", diskQuota.usage(c.id)) : Promise.resolve(undefined),
      limits.pids(c.id).catch(() => 0),
    ]);
    const base = disk ? await this.ctx.deps.filesystem.baseBytes(c.id).catch(() => undefined) : undefined;
    if (disk && base !== undefined) disk.baseBytes = base;
    return { memory, cpu, disk, bandwidth: this.bandwidthOf(c), pids, pidsLimit: c.pidsLimit, age: Date.now() - c.createdAt };
  }

  /** Applies the limits a recovered container's record holds again. */
  async restore(c: Container): Promise<void> {
    const { limits, diskQuota } = this.ctx.deps;
    if (c.memoryLimit !== undefined) await limits.setMemoryLimit(c.id, c.memoryLimit);
    if (c.cpuShares !== undefined) await limits.setCpuShares(c.id, c.cpuShares);
    if (c.diskLimits && diskQuota) await diskQuota.setLimits(c.id, c.diskLimits);
  }
}
