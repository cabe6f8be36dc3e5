// Destroying a container, in two parts. Before the answer: its record is
// marked, every process of it is killed (the runtime ends its init, and
// with it the rest of its pid namespace), and its handle is gone. After the
// answer, the machine's clean-up: the runtime's state and supervisors, the
// network and the root's mount side by side, then the writable layer and the
// depot directory once all of that is done. Nothing is handed out again
// (uid, network, ports) before the clean-up has finished; a step that fails
// keeps them held and the record marked, is logged with every failed step,
// and is tried again a while later (and by a restarted daemon, which removes
// marked records). A kill that fails is the answer's error, and the
// container stays listed so Destroy can be sent again.
import type { Container } from "../container/container.js";
import { toRecord } from "../container/record.js";
import { asCoreError, errors, type StepFailure } from "../errors.js";
import type { ServiceContext } from "./context.js";
import { PhaseTimer, within } from "./phase-timer.js";
import { isHostNetwork } from "../interfaces/network.js";

const PROCESS_END_WAIT_MS = 5000;
/** A failed clean-up is tried again after this, then twice as long each time, up to the last. */
const RETRY_FIRST_MS = 5000;
const RETRY_LAST_MS = 5 * 60_000;

export class Destroyer {
  /** Clean-ups under way, for shutdown to wait on. */
  private readonly cleaning = new Set<Promise<void>>();
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(private readonly ctx: ServiceContext) {}

  destroy(c: Container): Promise<void> {
    if (c.destroying) return c.destroying;
    const log = this.ctx.logFor(c);
    const { reaper, deps } = this.ctx;
    reaper.untrack(c);
    c.obituary = c.info();
    c.stopWatchingOom?.();
    const started = Date.now();
    const work = this.end(c).then(
      () => {
        c.state = "destroyed";
        this.ctx.registry.remove(c);
        log.info({ ms: Date.now() - started }, "container destroyed");
        deps.metrics?.containerDestroyed((Date.now() - started) / 1000);
        this.cleanUp(c, RETRY_FIRST_MS);
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

  /** Resolves once every clean-up under way has finished (one waiting to be tried again is not under way). */
  async cleanUps(): Promise<void> {
    while (this.cleaning.size > 0) await Promise.allSettled([...this.cleaning]);
  }

  /** Lets the clean-ups under way finish; those waiting to be tried again are left to a restarted daemon. */
  async stop(): Promise<void> {
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    await this.cleanUps();
  }

  private async end(c: Container): Promise<void> {
    const log = this.ctx.logFor(c);
    // Written first: a daemon killed from here on may leave a container that still runs on a root
    // filesystem already unmounted. A restart then removes it.
    await this.ctx.deps.state.save({ ...toRecord(c), destroying: true }).catch((err) => log.warn({ err: String(err) }, "cannot mark the record as destroying"));
    try {
      await this.ctx.deps.runtime.kill(c.id);
    } catch (err) {
      throw errors.destroyFailed(c.handle, [{ step: "kill", error: asCoreError(err) }]);
    }
  }

  private cleanUp(c: Container, retryMs: number): void {
    const log = this.ctx.logFor(c);
    const work = this.remove(c).then(
      () => this.ctx.allocator.release(c),
      (err) => {
        const failures = (asCoreError(err).details.failures ?? []).map((f) => `${f.step}: ${f.error.message}${f.error.detail ? ` (${f.error.detail})` : ""}`);
        log.error({ failures, retryInMs: retryMs }, "clean-up after destroy failed; its uid, network and ports stay held");
        this.ctx.deps.metrics?.destroyFailed();
        const timer = setTimeout(() => {
          this.retries.delete(timer);
          this.cleanUp(c, Math.min(retryMs * 2, RETRY_LAST_MS));
        }, retryMs);
        timer.unref();
        this.retries.add(timer);
      },
    );
    this.cleaning.add(work);
    void work.finally(() => this.cleaning.delete(work));
  }

  private async remove(c: Container): Promise<void> {
    const { runtime, filesystem, depot, network } = this.ctx.deps;
    const log = this.ctx.logFor(c);
    const phases = new PhaseTimer();
    const failures: StepFailure[] = [];
    const step = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await phases.time(name, fn);
      } catch (err) {
        failures.push({ step: name, error: asCoreError(err) });
      }
    };
    await Promise.all([
      step("runtime", async () => {
        await runtime.destroy(c.id);
        // Waits on its processes get their output before the files go.
        const processes = c.processes.all();
        await within(Promise.all(processes.map((p) => p.finished)), PROCESS_END_WAIT_MS);
        await within(Promise.all(processes.map((p) => p.idle())), PROCESS_END_WAIT_MS);
      }),
      step("network", async () => {
        if (!isHostNetwork(c.network)) await network.destroy(c.id, { network: c.network, netIns: c.netIns, netOut: c.netOuts.length > 0 });
      }),
      step("unmount", () => filesystem.unmount(c.id)),
    ]);
    // What is left is kept for the next try until the machine has let go of the rest.
    if (failures.length === 0) await step("filesystem", () => filesystem.remove(c.id));
    if (failures.length === 0 && c.image && this.ctx.deps.images) await step("image", () => this.ctx.deps.images!.release(c.id));
    if (failures.length === 0) await step("depot", () => depot.remove(c.id));
    if (failures.length > 0) throw errors.destroyFailed(c.handle, failures);
    for (const p of c.processes.all()) p.detach();
    log.info(phases.summary(), "container cleaned up");
  }
}
