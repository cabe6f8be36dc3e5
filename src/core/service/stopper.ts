// Stopping a container: TERM to every process but its init, KILL to what is
// left after the stop timeout (or at once), then a wait for the processes'
// ends. A stopped container keeps its files and can be looked at.
import type { Container } from "../container/container.js";
import type { ServiceContext } from "./context.js";
import { within } from "./phase-timer.js";

const POLL_MS = 20;
const KILL_WAIT_MS = 5000;
const PROCESS_END_WAIT_MS = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Stopper {
  constructor(private readonly ctx: ServiceContext) {}

  stop(c: Container, kill: boolean): Promise<void> {
    const { runtime } = this.ctx.deps;
    if (c.stopping) {
      // A kill while a graceful stop is under way cuts its wait short.
      if (kill) void runtime.signalAll(c.id, "KILL").catch(() => {});
      return c.stopping;
    }
    if (c.state === "stopped") return Promise.resolve();
    c.state = "stopped";
    const started = Date.now();
    c.stopping = this.ctx
      .persist(c)
      .catch(() => {})
      .then(() => this.terminate(c, kill))
      .finally(() => {
        c.stopping = undefined;
        this.ctx.logFor(c).info({ kill, ms: Date.now() - started }, "container stopped");
      });
    return c.stopping;
  }

  private async terminate(c: Container, kill: boolean): Promise<void> {
    const { runtime } = this.ctx.deps;
    const gone = async (deadline: number) => {
      for (;;) {
        if ((await runtime.processCount(c.id)) === 0) return true;
        if (Date.now() >= deadline) return false;
        await sleep(POLL_MS);
      }
    };
    // Peas run in cgroups of their own (under the container's or beside it): their processes are told by name too.
    const running = () => c.processes.all().filter((p) => p.running);
    let done = false;
    if (!kill) {
      await runtime.signalAll(c.id, "TERM");
      await Promise.all(running().map((p) => p.signal("TERM").catch(() => {})));
      done = await gone(Date.now() + this.ctx.config.stopTimeoutMs);
    }
    if (!done) {
      await runtime.signalAll(c.id, "KILL");
      await Promise.all(running().map((p) => p.signal("KILL").catch(() => {})));
      await gone(Date.now() + KILL_WAIT_MS);
    }
    await within(Promise.all(c.processes.all().map((p) => p.finished)), PROCESS_END_WAIT_MS);
  }
}
