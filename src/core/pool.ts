// Warden's resource pools: first in, first out, and a released item comes
// back at the tail only after the release delay, so an address or uid is not
// reused while traces of its last owner may linger.

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

interface Slot<T> {
  item: T;
  availableAt: number;
}

export class Pool<T> {
  private readonly free: Slot<T>[] = [];
  private readonly taken = new Set<T>();
  private readonly known: Set<T>;

  constructor(
    items: Iterable<T>,
    private readonly releaseDelayMs = 0,
    private readonly clock: Clock = systemClock,
  ) {
    for (const item of items) this.free.push({ item, availableAt: 0 });
    this.known = new Set(this.free.map((s) => s.item));
  }

  get size(): number {
    return this.known.size;
  }

  /** Items handed out and not yet given back. */
  get inUse(): number {
    return this.taken.size;
  }

  get available(): number {
    const now = this.clock.now();
    return this.free.filter((s) => s.availableAt <= now).length;
  }

  /** Takes the head of the queue, or undefined when nothing is available yet. */
  acquire(): T | undefined {
    const head = this.free[0];
    if (!head || head.availableAt > this.clock.now()) return undefined;
    this.free.shift();
    this.taken.add(head.item);
    return head.item;
  }

  /** Takes a given item; false when it is not in the pool, taken, or still held back. */
  acquireSpecific(item: T): boolean {
    const index = this.free.findIndex((s) => s.item === item);
    if (index < 0 || this.free[index].availableAt > this.clock.now()) return false;
    this.free.splice(index, 1);
    this.taken.add(item);
    return true;
  }

  release(item: T): void {
    if (!this.taken.delete(item)) return;
    this.free.push({ item, availableAt: this.clock.now() + this.releaseDelayMs });
  }

  isTaken(item: T): boolean {
    return this.taken.has(item);
  }

  contains(item: T): boolean {
    return this.known.has(item);
  }
}
