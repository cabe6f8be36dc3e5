// Containers whose cgroup is not under the daemon's parent but under one a
// client named (a kubelet's pod cgroup, for a pod's sandbox). Every call by
// container id goes to where the container's cgroup is: the name relative
// to the daemon's parent ("../../kubepods/pod1/<id>"), which the cgroup
// files resolve. A restarted daemon finds a container's place in its
// bundle, once.
import { join, relative } from "node:path";
import { isContainerId } from "../../core/container-id.js";
import type { CgroupDetail, CpuStats, MemoryStats } from "../../core/interfaces/limits.js";
import type { ContainerCgroups } from "./cgroups.js";

export interface CgroupPlacement {
  /** Puts container `id`'s cgroup under `parent` (absolute in the hierarchy); answers its path, for the bundle. */
  place(id: string, parent: string): string;
  /** The container is gone: its place is forgotten. */
  forget(id: string): void;
}

export class PlacedCgroups implements ContainerCgroups, CgroupPlacement {
  /** By container id: its cgroup's name relative to the daemon's parent ("" where it is the id). */
  private readonly names = new Map<string, string>();

  constructor(
    private readonly inner: ContainerCgroups,
    /** The daemon's parent, as the runtime is given it (relative to the hierarchy's root). */
    private readonly parent: string,
    /** The cgroup path a container's bundle names, when it has one (after a restart). */
    private readonly recorded: (id: string) => string | undefined,
  ) {}

  place(id: string, parent: string): string {
    const path = join("/", parent, id);
    const name = relative(join("/", this.parent), path);
    this.names.set(id, name === id ? "" : name);
    return path;
  }

  forget(id: string): void {
    this.names.delete(id);
  }

  /** A cgroup by the name the daemon knows it ("<id>" or "<id>/<pea>"), as the hierarchy has it. */
  private name(cgroup: string): string {
    const [id, ...rest] = cgroup.split("/");
    // A pea's own cgroup ("<id>-<pea>", or a path of its own) is named as it is.
    if (!isContainerId(id)) return cgroup;
    let placed = this.names.get(id);
    if (placed === undefined) {
      const path = this.recorded(id);
      const name = path ? relative(join("/", this.parent), path) : id;
      placed = name === id ? "" : name;
      this.names.set(id, placed);
    }
    return placed ? join(placed, ...rest) : cgroup;
  }

  procs(id: string): Promise<number[]> {
    return this.inner.procs(this.name(id));
  }
  freeze(id: string): Promise<void> {
    return this.inner.freeze(this.name(id));
  }
  thaw(id: string): Promise<void> {
    return this.inner.thaw(this.name(id));
  }
  oomKills(id: string): Promise<number> {
    return this.inner.oomKills(this.name(id));
  }
  removeParent(): Promise<void> {
    return this.inner.removeParent();
  }
  /** Those under the daemon's parent: a placed one belongs to its parent's owner once this daemon forgets it. */
  ids(): Promise<string[]> {
    return this.inner.ids();
  }
  async remove(id: string): Promise<void> {
    await this.inner.remove(this.name(id));
  }
  setMemoryLimit(id: string, bytes: bigint): Promise<void> {
    return this.inner.setMemoryLimit(this.name(id), bytes);
  }
  memoryLimit(id: string): Promise<bigint> {
    return this.inner.memoryLimit(this.name(id));
  }
  setCpuShares(id: string, shares: bigint): Promise<void> {
    return this.inner.setCpuShares(this.name(id), shares);
  }
  cpuShares(id: string): Promise<bigint> {
    return this.inner.cpuShares(this.name(id));
  }
  setCpuQuota(id: string, quota: bigint, period: bigint): Promise<void> {
    return this.inner.setCpuQuota(this.name(id), quota, period);
  }
  setCpuset(id: string, cpus?: string, mems?: string): Promise<void> {
    return this.inner.setCpuset(this.name(id), cpus, mems);
  }
  memoryStats(id: string): Promise<MemoryStats> {
    return this.inner.memoryStats(this.name(id));
  }
  cpuStats(id: string): Promise<CpuStats> {
    return this.inner.cpuStats(this.name(id));
  }
  pids(id: string): Promise<number> {
    return this.inner.pids(this.name(id));
  }
  detail(id: string): Promise<CgroupDetail> {
    return this.inner.detail(this.name(id));
  }
}
