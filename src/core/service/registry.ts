// The containers by handle, and the handles creates under way have claimed.
import type { Container } from "../container/container.js";
import { errors } from "../errors.js";

export class Registry {
  private readonly byHandle = new Map<string, Container>();
  private readonly reserved = new Set<string>();

  /** The container a client may address by this handle. */
  find(handle: string): Container {
    const c = this.byHandle.get(handle);
    if (!c || !c.findable) throw errors.containerNotFound(handle);
    return c;
  }

  has(handle: string): boolean {
    return this.byHandle.has(handle) || this.reserved.has(handle);
  }

  /** Claims a handle for a create under way; throws when taken. */
  reserve(handle: string): void {
    if (this.has(handle)) throw errors.handleTaken(handle);
    this.reserved.add(handle);
  }

  unreserve(handle: string): void {
    this.reserved.delete(handle);
  }

  add(c: Container): void {
    this.byHandle.set(c.handle, c);
  }

  /** Removes the container if it is this one (not a later one under the same handle). */
  remove(c: Container): void {
    if (this.byHandle.get(c.handle) === c) this.byHandle.delete(c.handle);
  }

  all(): Container[] {
    return [...this.byHandle.values()];
  }

  get size(): number {
    return this.byHandle.size;
  }
}
