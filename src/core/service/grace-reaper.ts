// Destroys containers nobody holds once their grace time has passed. Each
// front end decides what holds a container (Warden: a connection that used
// it; Garden: an open request or attached stream) through hold and release;
// touch restarts a running timer.
import type { Container } from "../container/container.js";

interface Entry {
  holds: number;
  timer: NodeJS.Timeout | undefined;
}

export class GraceReaper {
  private readonly entries = new Map<Container, Entry>();
  private stopped = false;

  constructor(private readonly onExpire: (c: Container) => void) {}

  /** Starts looking after a container: unheld, its timer runs from now. */
  track(c: Container): void {
    if (this.entries.has(c)) return;
    this.entries.set(c, { holds: 0, timer: undefined });
    this.arm(c);
  }

  /** Stops looking after it (it is being destroyed). */
  untrack(c: Container): void {
    const entry = this.entries.get(c);
    if (entry?.timer) clearTimeout(entry.timer);
    this.entries.delete(c);
  }

  /** While any hold is kept, no timer runs. Returns its release, which may be called more than once. */
  hold(c: Container): () => void {
    const entry = this.entries.get(c);
    if (!entry) return () => {};
    entry.holds++;
    this.disarm(entry);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.holds--;
      if (entry.holds === 0 && this.entries.get(c) === entry) this.arm(c);
    };
  }

  /** Restarts a running timer: the grace time counts from now. */
  touch(c: Container): void {
    const entry = this.entries.get(c);
    if (!entry?.timer) return;
    this.disarm(entry);
    this.arm(c);
  }

  /** The container's grace time changed: a running timer starts again with it. */
  regraced(c: Container): void {
    const entry = this.entries.get(c);
    if (!entry || entry.holds > 0) return;
    this.disarm(entry);
    this.arm(c);
  }

  isHeld(c: Container): boolean {
    return (this.entries.get(c)?.holds ?? 0) > 0;
  }

  /** No timer runs from now on (the daemon is stopping; containers outlive it). */
  stop(): void {
    this.stopped = true;
    for (const entry of this.entries.values()) this.disarm(entry);
  }

  private disarm(entry: Entry): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  private arm(c: Container): void {
    const entry = this.entries.get(c);
    if (!entry || entry.holds > 0 || entry.timer || c.graceTime === null || this.stopped) return;
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      if (entry.holds > 0 || this.entries.get(c) !== entry) return;
      this.entries.delete(c);
      this.onExpire(c);
    }, c.graceTime * 1000);
    entry.timer.unref?.();
  }
}
