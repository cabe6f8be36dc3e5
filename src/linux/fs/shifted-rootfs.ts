// Base root filesystems as a user namespace sees them. A container's root is
// host uid hostId, so a base owned by host root would be nobody's inside it.
// Each base gets one copy whose owners are shifted into the range, made the
// first time a container uses it and shared read-only by every container
// after (the lower layer of their overlays). On btrfs the copy shares the
// base's data (reflink); only the metadata is new.
//
// An idmapped mount of the base would need no copy, but this host has no
// tool that makes one (util-linux 2.38; crun idmaps only bind mounts).
import { createHash } from "node:crypto";
import { chmod, lchown, lstat, mkdir, readdir, realpath, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../core/interfaces/logger.js";
import type { CommandRunner } from "../command.js";
import type { IdMap } from "../security/id-map.js";

export class ShiftedRootfs {
  private readonly making = new Map<string, Promise<string>>();

  constructor(
    /** Where the copies live: a directory of the depot, gone with it. */
    private readonly dir: string,
    private readonly map: IdMap,
    private readonly log: Logger,
    private readonly commands: CommandRunner,
  ) {}

  /** Removes every copy; only when no container is left to use one. */
  async removeAll(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    this.making.clear();
  }

  /** The shifted copy of `base`, made now when there is none. */
  async lowerFor(base: string): Promise<string> {
    const key = await this.keyOf(base);
    const path = join(this.dir, key);
    let pending = this.making.get(key);
    if (!pending) {
      pending = this.make(base, path);
      this.making.set(key, pending);
      // A failed copy is tried again by the next container, not remembered.
      pending.catch(() => this.making.delete(key));
    }
    return pending;
  }

  // The same base under another name (a symlink) is the same copy; a base
  // replaced by a new directory is a new one.
  private async keyOf(base: string): Promise<string> {
    const real = await realpath(base);
    const st = await stat(real);
    const hash = createHash("sha256").update(`${real}\0${st.dev}\0${st.ino}\0${st.ctimeMs}`).digest("hex");
    return `${hash.slice(0, 24)}-${this.map.hostId}-${this.map.size}`;
  }

  private async make(base: string, path: string): Promise<string> {
    try {
      await lstat(path);
      return path; // made by an earlier daemon
    } catch {
      // not there yet
    }
    const started = Date.now();
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temp = `${path}.tmp`;
    await rm(temp, { recursive: true, force: true });
    await this.commands.run(["cp", "-a", "--reflink=auto", "--", base, temp]);
    const entries = await shiftOwners(temp, this.map);
    await rename(temp, path);
    this.log.info({ base, path, entries, ms: Date.now() - started }, "base root filesystem shifted into the user namespace");
    return path;
  }
}

/** Adds hostId to the owner of every entry under root; ids beyond the range become nobody. Returns the count. */
export async function shiftOwners(root: string, map: IdMap): Promise<number> {
  const nobody = Math.min(65534, map.size - 1);
  const shift = (id: number) => map.hostId + (id < map.size ? id : nobody);
  let count = 0;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    count++;
    await lchown(path, shift(st.uid), shift(st.gid));
    // chown clears setuid and setgid bits; the base's modes are kept.
    if (!st.isSymbolicLink() && st.mode & 0o6000) await chmod(path, st.mode & 0o7777);
    if (st.isDirectory()) {
      const names = await readdir(path);
      // Breadth within a directory, bounded, keeps it fast without opening thousands of files at once.
      for (let i = 0; i < names.length; i += 64) {
        await Promise.all(names.slice(i, i + 64).map((name) => visit(join(path, name))));
      }
    }
  };
  await visit(root);
  return count;
}
