// The core's Limits on Linux: the cgroup files, and OOM notice.
//
// Node has no eventfd, so an OOM kill is seen two ways: conmon writes an
// `oom` file into the container's run directory when the kernel kills in
// its memory cgroup (inotify tells us at once), and the cgroup's oom_kill
// counter is read once a second for every watched container, in case the
// file was missed (a conmon gone, say).
import { watch, type FSWatcher } from "node:fs";
import type { CgroupDetail, CpuStats, Limits, MemoryStats } from "../../core/interfaces/limits.js";
import type { ContainerCgroups } from "./cgroups.js";

const POLL_MS = 1000;

interface Watched {
  onOom: () => void;
  kills: number;
  watcher: FSWatcher | undefined;
}

export class LinuxLimits implements Limits {
  private readonly watched = new Map<string, Watched>();
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly cgroups: ContainerCgroups,
    /** The directory where the container's conmon writes `oom`. */
    private readonly runDirOf: (id: string) => string,
  ) {}

  setMemoryLimit(id: string, bytes: bigint): Promise<void> {
    return this.cgroups.setMemoryLimit(id, bytes);
  }

  memoryLimit(id: string): Promise<bigint> {
    return this.cgroups.memoryLimit(id);
  }

  setCpuShares(id: string, shares: bigint): Promise<void> {
    return this.cgroups.setCpuShares(id, shares);
  }

  setCpuQuota(id: string, quota: bigint, period: bigint): Promise<void> {
    return this.cgroups.setCpuQuota(id, quota, period);
  }

  setCpuset(id: string, cpus?: string, mems?: string): Promise<void> {
    return this.cgroups.setCpuset(id, cpus, mems);
  }

  detail(cgroup: string): Promise<CgroupDetail> {
    return this.cgroups.detail(cgroup);
  }

  cpuShares(id: string): Promise<bigint> {
    return this.cgroups.cpuShares(id);
  }

  memoryStats(id: string): Promise<MemoryStats> {
    return this.cgroups.memoryStats(id);
  }

  cpuStats(id: string): Promise<CpuStats> {
    return this.cgroups.cpuStats(id);
  }

  pids(id: string): Promise<number> {
    return this.cgroups.pids(id);
  }

  oomKills(cgroup: string): Promise<number> {
    return this.cgroups.oomKills(cgroup);
  }

  watchOom(id: string, onOom: () => void): () => void {
    const entry: Watched = { onOom, kills: 0, watcher: undefined };
    this.watched.set(id, entry);
    // Kills before the watch began are not news.
    void this.cgroups.oomKills(id).then(
      (n) => (entry.kills = n),
      () => {},
    );
    try {
      entry.watcher = watch(this.runDirOf(id), (_event, name) => {
        if (name === "oom") void this.check(id, true);
      });
      entry.watcher.on("error", () => {});
    } catch {
      // no run directory: the poll still sees the counter
    }
    this.poller ??= setInterval(() => {
      for (const watchedId of this.watched.keys()) void this.check(watchedId);
    }, POLL_MS);
    this.poller.unref();
    return () => this.unwatch(id, entry);
  }

  private unwatch(id: string, entry: Watched): void {
    entry.watcher?.close();
    if (this.watched.get(id) === entry) this.watched.delete(id);
    if (this.watched.size === 0 && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }

  /** `announced`: conmon wrote its oom file, which is enough even when the counter cannot be read. */
  private async check(id: string, announced = false): Promise<void> {
    const entry = this.watched.get(id);
    if (!entry) return;
    let kills: number;
    try {
      kills = await this.cgroups.oomKills(id);
    } catch {
      if (announced) entry.onOom();
      return;
    }
    if (kills <= entry.kills && !announced) return;
    entry.kills = Math.max(kills, entry.kills);
    entry.onOom();
  }
}
