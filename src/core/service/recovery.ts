// Taking back the containers an earlier daemon left (after a clean stop or
// a crash): their records, resources, limits, rules and processes. One
// without a valid record, or whose init is gone, is removed, and the log
// says why. Then what of ours belongs to no container is removed.
import type { Container } from "../container/container.js";
import { fromRecord } from "../container/record.js";
import { decodeContainerId } from "../container-id.js";
import type { ServiceContext } from "./context.js";
import type { LimitsService } from "./limits.js";
import type { NetworkingService } from "./networking.js";
import type { OomHandler } from "./oom.js";
import type { ProcessService } from "./processes.js";
import { isHostNetwork } from "../interfaces/network.js";

/** Containers recovered at once. */
const CONCURRENCY = 8;

const reason = (err: unknown) => String(err instanceof Error ? err.message : err);

export class Recovery {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly limits: LimitsService,
    private readonly networking: NetworkingService,
    private readonly processes: ProcessService,
    private readonly oom: OomHandler,
  ) {}

  async recover(): Promise<{ recovered: number; removed: number }> {
    const { depot } = this.ctx.deps;
    let recovered = 0;
    let removed = 0;
    let highestId = 0n;
    let highestSeq = 0;
    // Side by side: each is mostly waiting on files and tools, and a host
    // with hundreds of containers should not wait on each in turn.
    const recoverOne = async (id: string): Promise<void> => {
      const outcome = await this.recoverContainer(id);
      if (outcome.kind === "removed") {
        removed++;
        return;
      }
      highestSeq = Math.max(highestSeq, outcome.highestSeq);
      const value = decodeContainerId(id) ?? 0n;
      if (value > highestId) highestId = value;
      recovered++;
    };
    const ids = await depot.list();
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(CONCURRENCY, ids.length) }, async () => {
        while (next < ids.length) await recoverOne(ids[next++]);
      }),
    );
    this.ctx.ids.generate(highestId);
    await this.processes.recoverSeq(highestSeq);
    await this.reconcile();
    return { recovered, removed };
  }

  private async recoverContainer(id: string): Promise<{ kind: "removed" } | { kind: "recovered"; highestSeq: number }> {
    const { state, depot, runtime } = this.ctx.deps;
    const log = this.ctx.log.child({ id });
    let c: Container;
    let beingDestroyed = false;
    try {
      const record = await state.load(id);
      if (!record) throw new Error("it has no record (made half-way when a daemon stopped)");
      beingDestroyed = record.destroying === true;
      c = fromRecord(record, depot.path(id));
      if (c.id !== id) throw new Error(`its record is of ${c.id}`);
    } catch (err) {
      log.warn({ err: reason(err) }, "removing a container that cannot be recovered");
      await this.removeLeftover(id);
      return { kind: "removed" };
    }
    let claimed = false;
    try {
      if (beingDestroyed) throw new Error("it was being destroyed when the daemon stopped");
      if (!(await runtime.isRunning(id))) throw new Error("its init is no longer running");
      if (this.ctx.registry.has(c.handle)) throw new Error(`handle ${c.handle} is taken by another recovered container`);
      this.ctx.allocator.claim(c);
      claimed = true;
      // Its handle is its own from here: a second record with the same one is refused above.
      this.ctx.registry.add(c);
      await this.networking.restore(c);
      await this.limits.restore(c);
      const highestSeq = await this.processes.recover(c);
      this.oom.watch(c);
      this.ctx.reaper.track(c);
      log.info({ handle: c.handle, state: c.state, processes: c.processes.size }, "container recovered");
      return { kind: "recovered", highestSeq };
    } catch (err) {
      this.ctx.registry.remove(c);
      this.ctx.reaper.untrack(c);
      c.stopWatchingOom?.();
      for (const p of c.processes.all()) p.detach();
      if (claimed) this.ctx.allocator.release(c);
      log.warn({ handle: c.handle, err: reason(err) }, "removing a container that cannot be recovered");
      await this.removeLeftover(id, c);
      return { kind: "removed" };
    }
  }

  // What a daemon killed half-way through a create or a destroy left:
  // processes first, then mounts, then the network.
  private async reconcile(): Promise<void> {
    const { runtime, filesystem, network } = this.ctx.deps;
    const all = this.ctx.registry.all();
    const liveIds = new Set(all.map((c) => c.id));
    // Containers on the host's network have nothing of the Network's to keep.
    const live = new Map(all.filter((c) => !isHostNetwork(c.network)).map((c) => [c.id, c.network]));
    const sweeps: Array<[string, () => Promise<string[]>]> = [
      ["runtime", () => runtime.removeOrphans(liveIds)],
      ["filesystem", () => filesystem.removeOrphans(liveIds)],
      ["network", () => network.removeOrphans(live)],
    ];
    for (const [what, sweep] of sweeps) {
      const orphans = await sweep();
      if (orphans.length > 0) this.ctx.log.info({ ids: orphans, what }, "removed leftovers of no container");
    }
    // After the sweeps: an image is held only by containers that are still here.
    await this.ctx.deps.images?.reconcile(new Set([...liveIds, ...this.processes.peaHolds()]));
  }

  private async removeLeftover(id: string, c?: Container): Promise<void> {
    const { runtime, filesystem, depot, network } = this.ctx.deps;
    try {
      await runtime.destroy(id);
      if (!c || !isHostNetwork(c.network)) await network.destroy(id, c ? { network: c.network, netIns: c.netIns, netOut: c.netOuts.length > 0 } : undefined);
      await filesystem.remove(id);
      await depot.remove(id);
    } catch (err) {
      this.ctx.log.error({ id, err: String(err) }, "cannot remove a leftover container");
    }
  }
}
