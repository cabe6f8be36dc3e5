// A private mount namespace, pinned to a file, in which container root
// filesystems are mounted and containers are created.
//
// Two reasons. crun 1.8 refuses to create containers on a hybrid cgroup host
// (a cgroup2 mount at /sys/fs/cgroup/unified next to the v1 controllers); in
// this namespace that mount is gone while the host keeps it. And the
// overlays of containers live here only, so the host's mount table is not
// filled with them, yet a restarted daemon finds them again by entering the
// pinned namespace.
import { mkdir, writeFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../command.js";
import { mountAt, readMountInfo } from "../mountinfo.js";

export class RuntimeMountNamespace {
  readonly pinDir: string;
  readonly pinFile: string;

  constructor(runDir: string) {
    this.pinDir = join(runDir, "ns");
    this.pinFile = join(this.pinDir, "mnt");
  }

  async alive(): Promise<boolean> {
    return mountAt(await readMountInfo(), this.pinFile)?.fsType === "nsfs";
  }

  /** Creates the namespace unless a live one is already pinned (after a daemon restart). */
  async ensure(): Promise<void> {
    await mkdir(this.pinDir, { recursive: true });
    const mounts = await readMountInfo();
    if (mountAt(mounts, this.pinFile)?.fsType === "nsfs") return;
    // A namespace can only be pinned on a private mount; on hosts where / is
    // shared (systemd) the directory must be made a private mount of its own.
    if (!mountAt(mounts, this.pinDir)) {
      await run(["mount", "--bind", this.pinDir, this.pinDir]);
      await run(["mount", "--make-private", this.pinDir]);
    }
    await writeFile(this.pinFile, "");
    const unified = mounts.find((m) => m.mountPoint === "/sys/fs/cgroup/unified" && m.fsType === "cgroup2");
    const cgroupRoot = mountAt(mounts, "/sys/fs/cgroup");
    const hybrid = unified !== undefined && cgroupRoot?.fsType === "tmpfs";
    // unshare makes the new namespace recursively private: nothing mounted
    // in it reaches the host, and the umount below stays inside.
    await run(["unshare", `--mount=${this.pinFile}`, ...(hybrid ? ["umount", "/sys/fs/cgroup/unified"] : ["true"])]);
  }

  /** argv that runs `argv` inside the namespace, in directory `wd`. */
  wrap(argv: readonly string[], wd: string): string[] {
    return ["nsenter", `--mount=${this.pinFile}`, `--wd=${wd}`, "--", ...argv];
  }

  async teardown(): Promise<void> {
    const mounts = await readMountInfo();
    if (mountAt(mounts, this.pinFile)) await run(["umount", this.pinFile]);
    if (mountAt(mounts, this.pinDir)) await run(["umount", this.pinDir]);
    await rm(this.pinDir, { recursive: true, force: true });
  }
}
