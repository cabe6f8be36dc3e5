// Disk quotas with btrfs qgroups. XFS and ext4 quotas are compiled out of
// this kernel; btrfs qgroups limit a subvolume's bytes, can be changed at
// any time (a raised limit allows more at once), fail writes with EDQUOT,
// and cost a few milliseconds per container. They count every byte of the
// subvolume (Warden's uid quota left root's files out) and know no soft
// limits and no inode limits: those are reported as not enforced.
//
// The depot must be btrfs. When it is not, a sparse image file is made
// (once) and loop-mounted on it, with quotas enabled. Each container's
// writable layer is a subvolume, whose qgroup holds its limit; usage and
// limit are read from sysfs, so Info costs no process.
import { existsSync } from "node:fs";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errors } from "../../core/errors.js";
import type { DiskLimits, DiskQuota, DiskUsage } from "../../core/interfaces/disk-quota.js";
import type { Logger } from "../../core/interfaces/logger.js";
import { CommandError, type CommandRunner } from "../command.js";
import { readMountInfo, type MountEntry } from "../mountinfo.js";
import { volumeDir, type Volumes } from "./volumes.js";

const QGROUP_ID_FILE = "fs.qgroup";
const STALE_RETRY_MS = [2_000, 10_000, 60_000];

export interface BtrfsDepotOptions {
  depot: string;
  image: string;
  imageSize: number;
  log: Logger;
  commands: CommandRunner;
  /** Where the kernel shows btrfs filesystems (tests give their own). */
  sysfsRoot?: string;
  /** The host's mount table (tests give their own). */
  readMounts?: () => Promise<MountEntry[]>;
}

/** The depot as a btrfs filesystem with quotas on. */
export class BtrfsDepot {
  private mountedByUs = false;
  private uuid = "";

  constructor(private readonly options: BtrfsDepotOptions) {}

  get sysfs(): string {
    return join(this.options.sysfsRoot ?? "/sys/fs/btrfs", this.uuid);
  }

  async ensure(): Promise<void> {
    const { depot, image, imageSize } = this.options;
    const mounts = await (this.options.readMounts ?? readMountInfo)();
    const holder = mounts
      .filter((m) => depot === m.mountPoint || depot.startsWith(m.mountPoint.endsWith("/") ? m.mountPoint : `${m.mountPoint}/`))
      .pop();
    // Our image, mounted by an earlier daemon (one that crashed): ours to unmount at the end.
    if (holder?.mountPoint === depot && (await loopBackingFile(holder.source)) === image) this.mountedByUs = true;
    if (holder?.fsType !== "btrfs") {
      if (holder?.mountPoint === depot) {
        throw errors.internal(`${depot} is a ${holder.fsType} mount; disk quotas need btrfs (or server.quota.disk_quota_enabled: false)`);
      }
      const entries = (await readdir(depot)).filter((e) => !e.startsWith("."));
      if (entries.length > 0) {
        throw errors.internal(
          `${depot} is not empty and not on btrfs: disk quotas would hide what is there; empty it, or set server.quota.disk_quota_enabled: false`,
        );
      }
      if (!existsSync(image)) {
        await this.options.commands.run(["truncate", "-s", String(imageSize), image]);
        await this.options.commands.run(["mkfs.btrfs", "-q", image]);
        this.options.log.info({ image, bytes: imageSize }, "made the depot's btrfs image");
      }
      await this.options.commands.run(["mount", "-o", "loop", image, depot]);
      this.mountedByUs = true;
    }
    await this.options.commands.run(["btrfs", "quota", "enable", depot]);
    const { stdout } = await this.options.commands.run(["btrfs", "filesystem", "show", depot]);
    const uuid = /uuid: ([0-9a-f-]{36})/.exec(stdout)?.[1];
    if (!uuid) throw errors.internal(`cannot read the btrfs uuid of ${depot}`);
    this.uuid = uuid;
    await this.clearStale();
  }

  /** qgroups of deleted subvolumes linger until btrfs has cleaned them; clear those it allows. */
  async clearStale(): Promise<number> {
    const { stdout } = await this.options.commands.run(["btrfs", "qgroup", "show", "--raw", this.options.depot]).catch(() => ({ stdout: "" }));
    let cleared = 0;
    for (const line of stdout.split("\n")) {
      const m = /^(0\/\d+)\s.*<stale>/.exec(line.trim());
      if (!m) continue;
      try {
        await this.options.commands.run(["btrfs", "qgroup", "destroy", m[1], this.options.depot]);
        cleared++;
      } catch {
        // still being cleaned; a later pass gets it
      }
    }
    return cleared;
  }

  /** Unmounts what ensure() mounted (the loop device goes with it). */
  async tearDown(): Promise<void> {
    if (this.mountedByUs) await this.options.commands.run(["umount", this.options.depot]);
    this.mountedByUs = false;
  }
}

/** The file behind /dev/loopN, if `device` is a loop device. */
async function loopBackingFile(device: string): Promise<string | undefined> {
  const name = /^\/dev\/(loop\d+)$/.exec(device)?.[1];
  if (!name) return undefined;
  return (await readFile(`/sys/block/${name}/loop/backing_file`, "utf8").catch(() => "")).trim() || undefined;
}

export class BtrfsQuota implements DiskQuota, Volumes {
  readonly enforces = { byteSoft: false, byteHard: true, inodeSoft: false, inodeHard: false } as const;

  constructor(
    private readonly depot: BtrfsDepot,
    /** The depot's directory; a container's is <depot>/<id>. */
    private readonly depotPath: string,
    private readonly log: Logger,
    private readonly commands: CommandRunner,
  ) {}

  private containerDir(id: string): string {
    return join(this.depotPath, id);
  }

  async create(containerDir: string): Promise<string> {
    const dir = volumeDir(containerDir);
    // Its qgroup's id is asked for when first needed (usage, removal), not on the way to the answer.
    await this.commands.run(["btrfs", "subvolume", "create", dir]);
    return dir;
  }

  /** The qgroup id of a container's volume (its subvolume's id), asked of btrfs once and kept beside it. */
  private async qgroupId(containerDir: string): Promise<string> {
    const file = join(containerDir, QGROUP_ID_FILE);
    const known = (await readFile(file, "utf8").catch(() => "")).trim();
    if (known) return known;
    const { stdout } = await this.commands.run(["btrfs", "inspect-internal", "rootid", volumeDir(containerDir)]);
    await writeFile(file, stdout.trim());
    return stdout.trim();
  }

  async remove(containerDir: string): Promise<void> {
    this.qgroupDirs.delete(containerDir.split("/").pop()!);
    const dir = volumeDir(containerDir);
    if (!existsSync(dir)) return;
    const qgroup = await this.qgroupId(containerDir).catch(() => "");
    try {
      await this.commands.run(["btrfs", "subvolume", "delete", dir]);
    } catch (err) {
      // Not a subvolume (made before quotas were on): a plain directory.
      if (!(err instanceof CommandError && /Not a Btrfs subvolume|not a subvolume/i.test(err.stderr))) throw err;
      await this.commands.run(["rm", "-rf", dir]);
      return;
    }
    if (/^\d+$/.test(qgroup.trim())) this.destroyQgroupLater(qgroup.trim());
  }

  // btrfs drops a deleted subvolume's data in the background; its qgroup can
  // go only after that.
  private destroyQgroupLater(qgroup: string, attempt = 0): void {
    const timer = setTimeout(async () => {
      try {
        await this.commands.run(["btrfs", "qgroup", "destroy", `0/${qgroup}`, this.depotPath]);
      } catch {
        if (attempt + 1 < STALE_RETRY_MS.length) this.destroyQgroupLater(qgroup, attempt + 1);
        else this.log.debug({ qgroup }, "stale qgroup left for the next start");
      }
    }, STALE_RETRY_MS[attempt]);
    timer.unref();
  }

  private readonly qgroupDirs = new Map<string, string>();

  private async qgroupDir(id: string): Promise<string> {
    let dir = this.qgroupDirs.get(id);
    if (!dir) {
      const qgroup = await this.qgroupId(this.containerDir(id));
      dir = join(this.depot.sysfs, "qgroups", `0_${qgroup}`);
      this.qgroupDirs.set(id, dir);
    }
    return dir;
  }

  private async readSysfs(id: string, name: string): Promise<bigint> {
    return BigInt((await readFile(join(await this.qgroupDir(id), name), "utf8")).trim());
  }

  async limits(id: string): Promise<DiskLimits> {
    const max = await this.readSysfs(id, "max_referenced").catch(() => 0n);
    // No limit reads as 0 or as the largest u64.
    const hard = max >= 2n ** 63n ? 0n : max;
    return { byteSoft: 0n, byteHard: hard, inodeSoft: 0n, inodeHard: 0n };
  }

  async setLimits(id: string, limits: DiskLimits): Promise<void> {
    const volume = volumeDir(this.containerDir(id));
    await this.commands.run(["btrfs", "qgroup", "limit", limits.byteHard === 0n ? "none" : limits.byteHard.toString(), volume]);
  }

  // btrfs accounts written data when it commits (every 30 s by default);
  // until then it is held as a reservation. Both together are what the
  // container has written, as Warden's quota reported at once.
  async usage(id: string): Promise<DiskUsage> {
    const [referenced, reserved] = await Promise.all([
      this.readSysfs(id, "referenced"),
      this.readSysfs(id, "rsv_data").catch(() => 0n),
    ]);
    return { bytesUsed: referenced + reserved };
  }
}
