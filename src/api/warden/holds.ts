// Warden's grace time (reference §4.4): a container is held by every
// connection that was open when it existed or that named it since; when the
// last one closes, its grace time starts.
import type { ContainerService } from "../../core/service/container-service.js";

export class ConnectionHolds {
  private readonly releases = new Map<string, () => void>();

  constructor(private readonly service: ContainerService) {}

  /** A new connection holds every container there is. */
  holdAll(): void {
    for (const handle of this.service.list()) this.hold(handle);
  }

  /**
   * Holds the container by this handle; nothing when there is none. The new
   * hold is taken before the old one goes, so a container held already stays
   * held, and one made anew under an old handle is held too.
   */
  hold(handle: string): void {
    let release: () => void;
    try {
      release = this.service.hold(handle);
    } catch {
      return; // no such container: nothing to hold
    }
    this.releases.get(handle)?.();
    this.releases.set(handle, release);
  }

  releaseAll(): void {
    for (const release of this.releases.values()) release();
    this.releases.clear();
  }
}
