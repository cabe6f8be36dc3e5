// Destroying a container. The runtime kills its processes, the network goes
// and the root is unmounted side by side; the writable layer and the depot
// directory go only once all of that is done. Every step that fails is
// reported, not only the first; the container then stays listed with what a
// second Destroy needs (its record, its directory), and that Destroy goes on
// from there: every step is idempotent.
import type { Container } from "../container/container.js";
import { toRecord } from "../container/record.js";
import { asCoreError, errors, type StepFailure } from "../errors.js";
import type { ServiceContext } from "./context.js";
import { PhaseTimer, within } from "./phase-timer.js";

const PROCESS_END_WAIT_MS = 5000;

export class Destroyer {
  constructor(private readonly ctx: ServiceContext) {}

  destroy(c: Container): Promise<void> {
    if (c.destroying) return c.destroying;
    const log = this.ctx.logFor(c);
    const { reaper, deps } = this.ctx;
    reaper.untrack(c);
    c.obituary = c.info();
    c.stopWatchingOom?.();
    const work = this.remove(c).then(
      () => {
        this.ctx.allocator.release(c);
        c.state = "destroyed";
        this.ctx.registry.remove(c);
      },
      (err) => {
        // Left listed so that Destroy can be tried again.
        c.destroying = undefined;
        c.obituary = undefined;
        log.error({ err: err instanceof Error ? err.message : String(err) }, "destroy failed");
        deps.metrics?.destroyFailed();
        throw err;
      },
    );
    c.destroying = work;
    return work;
  }

  private async remove(c: Container): Promise<void> {
    const { runtime, filesystem, depot, network } = this.ctx.deps;
    const log = this.ctx.logFor(c);
    const phases = new PhaseTimer();
    const started = Date.now();
    const failures: StepFailure[] = [];
    const step = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await phases.time(name, fn);
      } catch (err) {
        failures.push({ step: name, error: asCoreError(err) });
      }
    };
    // Written first: its steps run side by side, and a daemon killed among them may leave a container
    // that still runs on a root filesystem already unmounted. A restart then removes it.
    await this.ctx.deps.state.save({ ...toRecord(c), destroying: true }).catch((err) => log.warn({ err: String(err) }, "cannot mark the record as destroying"));
    await Promise.all([
      step("runtime", async () => {
        await runtime.destroy(c.id);
        // Waits on its processes get their output before the files go.
        const processes = c.processes.all();
        await within(Promise.all(processes.map((p) => p.finished)), PROCESS_END_WAIT_MS);
        await within(Promise.all(processes.map((p) => p.idle())), PROCESS_END_WAIT_MS);
      }),
      step("network", () => network.destroy(c.id, { network: c.network, netIns: c.netIns, netOut: c.netOuts.length > 0 })),
      step("unmount", () => filesystem.unmount(c.id)),
    ]);
    // What is left is kept for a second Destroy until the machine has let go of the rest.
    if (failures.length === 0) await step("filesystem", () => filesystem.remove(c.id));
    if (failures.length === 0 && c.image && this.ctx.deps.images) await step("image", () => this.ctx.deps.images!.release(c.id));
    if (failures.length === 0) await step("depot", () => depot.remove(c.id));
    if (failures.length > 0) throw errors.destroyFailed(c.handle, failures);
    for (const p of c.processes.all()) p.detach();
    log.info(phases.summary(), "container destroyed");
    this.ctx.deps.metrics?.containerDestroyed((Date.now() - started) / 1000);
  }
}
