// Cgroups not under the daemon's parent but under one a client named (a
// kubelet's pod cgroup: a pod's sandbox, and its containers' own). Every
// call by the name the daemon knows a cgroup by ("<id>", "<id>/<pea>",
// "<id>-<pea>") goes to where it is: its name relative to the daemon's
// parent ("../../kubepods/pod1/<id>"), which the cgroup files resolve. A
// restarted daemon finds a container's place in its bundle, once; the
// runtime places a pea again from its own bundle.
import { basename, join, relative } from "node:path";
import { isContainerId } from "../../core/container-id.js";
import type { CgroupDetail, CpuStats, MemoryStats } from "../../core/interfaces/limits.js";
import type { ContainerCgroups } from "./cgroups.js";

export interface CgroupPlacement {
  /** Puts the cgroup named `name` (a container's id, a pea's) under `parent` (absolute in the hierarchy); answers its path, for the bundle. */
  place(name: string, parent: string): string;
  /** Takes the place a bundle's cgroups path names: one not under the daemon's parent is remembered. */
  placeAt(path: string): void;
  /** It is gone: its place is forgotten. */
  forget(name: string): void;
}

export class PlacedCgroups implements ContainerCgroups, CgroupPlacement {
  /** By the daemon's name: the cgroup's name relative to the daemon's parent ("" where it is the name itself). */
  private readonly names = new Map<string, string>();

  constructor(
    private readonly inner: ContainerCgroups,
    /** The daemon's parent, as the runtime is given it (relative to the hierarchy's root). */
    private readonly parent: string,
    /** The cgroup path a container's bundle names, when it has one (after a restart). */
    private readonly recorded: (id: string) => string | undefined,
  ) {}

  place(name: string, parent: string): string {
    const path = join("/", parent, name);
    this.remember(name, path);
    return path;
  }

  placeAt(path: string): void {
    this.remember(basename(path), path);
  }

  forget(name: string): void {
    this.names.delete(name);
  }

  private remember(name: string, path: string): void {
    const relativeName = relative(join("/", this.parent), path);
    this.names.set(name, relativeName === name ? "" : relativeName);
  }

  /** A cgroup by the name the daemon knows it, as the hierarchy has it. */
  private name(cgroup: string): string {
    const [first, ...rest] = cgroup.split("/");
    let placed = this.names.get(first);
    // A container's place is in its bundle; a pea's own cgroup not placed is where its name says.
    if (placed === undefined && isContainerId(first)) {
      const path = this.recorded(first);
      if (path) this.placeAt(path);
      placed = this.names.get(first) ?? "";
      this.names.set(first, placed);
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
