// When the kernel kills a process of a container for memory: an event, and
// a stop (not a kill) of an active container, as Warden did.
import type { Container } from "../container/container.js";
import type { ServiceContext } from "./context.js";

export class OomHandler {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly stop: (c: Container) => Promise<void>,
  ) {}

  watch(c: Container): void {
    c.stopWatchingOom = this.ctx.deps.limits.watchOom(c.id, () => this.onOom(c));
  }

  private onOom(c: Container): void {
    if (c.state === "destroyed" || c.destroying) return;
    const log = this.ctx.logFor(c);
    this.ctx.deps.metrics?.outOfMemory();
    c.addEvent("out-of-memory");
    this.ctx.persist(c).catch(() => {});
    log.warn({}, "out of memory");
    if (c.state === "active") {
      this.stop(c).catch((err) => log.error({ err: String(err) }, "stop after OOM failed"));
    }
  }
}
