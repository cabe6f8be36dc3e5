// The depot: one directory per container, named by its id (never by the
// client's handle, so a handle can never reach a path).
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { isContainerId } from "../core/container-id.js";
import type { Depot } from "../core/interfaces/depot.js";

export class DirectoryDepot implements Depot {
  constructor(readonly root: string) {}

  path(id: string): string {
    if (!isContainerId(id)) throw new Error(`not a container id: ${JSON.stringify(id)}`);
    return join(this.root, id);
  }

  async create(id: string): Promise<string> {
    const dir = this.path(id);
    // Search but not list for others: container root, an unprivileged uid in a
    // user namespace, must reach its root filesystem below this directory.
    await mkdir(dir, { mode: 0o711 });
    return dir;
  }

  async remove(id: string): Promise<void> {
    // A job's supervisor may still be closing files: retry as Warden's destroy.sh does.
    await rm(this.path(id), { recursive: true, force: true, maxRetries: 5, retryDelay: 300 });
  }

  async list(): Promise<string[]> {
    const entries = await readdir(this.root, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory() && isContainerId(e.name)).map((e) => e.name);
  }
}
