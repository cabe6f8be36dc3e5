// Where a container's writable layer lives: `<depot>/<id>/fs`, holding the
// overlay's upper and work directories. A plain directory, or a btrfs
// subvolume when disk quotas are on (see btrfs-quota.ts).
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";

export interface Volumes {
  /** Makes the volume of a container; returns its directory. */
  create(containerDir: string): Promise<string>;
  /** Removes it; fine when it is not there. */
  remove(containerDir: string): Promise<void>;
}

export const volumeDir = (containerDir: string) => join(containerDir, "fs");

export class PlainVolumes implements Volumes {
  async create(containerDir: string): Promise<string> {
    const dir = volumeDir(containerDir);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async remove(containerDir: string): Promise<void> {
    await rm(volumeDir(containerDir), { recursive: true, force: true });
  }
}
