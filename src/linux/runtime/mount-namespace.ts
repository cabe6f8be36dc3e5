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
import { errors } from "../../core/errors.js";
import type { CommandRunner } from "../command.js";
import type { IdMap } from "../security/id-map.js";
import { mountAt, parseMountInfo, readMountInfo, type MountEntry } from "../mountinfo.js";

export interface GraftOptions {
  /** Read-only through and through, what is mounted under it included. */
  recursiveReadOnly?: boolean;
  /** An idmapped mount: a file of id n on disk is seen as hostId + n. */
  idMap?: IdMap;
}

export class RuntimeMountNamespace {
  readonly pinDir: string;
  readonly pinFile: string;

  constructor(
    runDir: string,
    private readonly commands: CommandRunner,
    /** The host's mount table (tests give their own). */
    private readonly readMounts: () => Promise<MountEntry[]> = readMountInfo,
    /** warden-graft (src/shim/warden-graft.c); absent: host paths are taken as the namespace sees them. */
    private readonly graftPath?: string,
  ) {
    this.pinDir = join(runDir, "ns");
    this.pinFile = join(this.pinDir, "mnt");
  }

  async alive(): Promise<boolean> {
    return mountAt(await this.readMounts(), this.pinFile)?.fsType === "nsfs";
  }

  /**
   * Creates the namespace unless a live, sound one is already pinned (after
   * a daemon restart). `shared` directories are made shared mounts first, so
   * that what is later mounted in them on the host (network namespace pins)
   * reaches the namespace. A pinned namespace that does not receive them (a
   * daemon stopped half-way through setting up) is made anew when
   * `mayRecreate` (no container uses it), and refused otherwise; so is one
   * made before the host mounted something of `seen` (the depot's own
   * filesystem), which it then lacks.
   */
  async ensure(shared: string[] = [], mayRecreate = true, seen: string[] = []): Promise<void> {
    await mkdir(this.pinDir, { recursive: true });
    for (const dir of shared) await this.makeShared(dir);
    let mounts = await this.readMounts();
    const mounted = seen.filter((d) => mountAt(mounts, d));
    if (mountAt(mounts, this.pinFile)?.fsType === "nsfs") {
      if ((await this.receives(shared)) && (await this.sees(mounted))) return;
      if (!mayRecreate) {
        throw new Error(`the runtime mount namespace at ${this.pinFile} does not see ${shared.join(", ")}; stop the containers and restart`);
      }
      await this.commands.run(["umount", this.pinFile]);
      mounts = await this.readMounts();
    }
    // A namespace can only be pinned on a private mount; on hosts where / is
    // shared (systemd) the directory must be made a private mount of its own.
    if (!mountAt(mounts, this.pinDir)) {
      await this.commands.run(["mount", "--bind", this.pinDir, this.pinDir]);
      await this.commands.run(["mount", "--make-private", this.pinDir]);
    }
    await writeFile(this.pinFile, "");
    const unified = mounts.find((m) => m.mountPoint === "/sys/fs/cgroup/unified" && m.fsType === "cgroup2");
    const cgroupRoot = mountAt(mounts, "/sys/fs/cgroup");
    const hybrid = unified !== undefined && cgroupRoot?.fsType === "tmpfs";
    // Every mount becomes a slave: nothing mounted (or unmounted) in here
    // reaches the host, while the host's shared mounts keep reaching in.
    await this.commands.run([
      "unshare",
      `--mount=${this.pinFile}`,
      "--propagation",
      "slave",
      ...(hybrid ? ["umount", "/sys/fs/cgroup/unified"] : ["true"]),
    ]);
    if (!(await this.receives(shared))) throw new Error(`the runtime mount namespace does not see ${shared.join(", ")}`);
  }

  /**
   * A mount of its own at `dir` that propagates nowhere: what is mounted in
   * it later (namespace pins) stays on the host, out of this namespace.
   */
  async makePrivate(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const mount = mountAt(await this.readMounts(), dir);
    if (!mount) await this.commands.run(["mount", "--bind", dir, dir]);
    if (!mount || mount.optional.length > 0) await this.commands.run(["mount", "--make-private", dir]);
  }

  /** A mount of its own at `dir`, with shared propagation. */
  private async makeShared(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const mount = mountAt(await this.readMounts(), dir);
    if (!mount) await this.commands.run(["mount", "--bind", dir, dir]);
    if (!mount?.optional.some((o) => o.startsWith("shared:"))) await this.commands.run(["mount", "--make-shared", dir]);
  }

  /** Whether each of `dirs` is a mount point inside the namespace too. */
  private async sees(dirs: string[]): Promise<boolean> {
    if (dirs.length === 0) return true;
    const { stdout } = await this.commands.run(["nsenter", `--mount=${this.pinFile}`, "cat", "/proc/self/mountinfo"]);
    const inside = parseMountInfo(stdout);
    return dirs.every((d) => mountAt(inside, d) !== undefined);
  }

  /** Whether each of `dirs` is, inside the namespace, a slave of the host's mount. */
  private async receives(dirs: string[]): Promise<boolean> {
    if (dirs.length === 0) return true;
    const { stdout } = await this.commands.run(["nsenter", `--mount=${this.pinFile}`, "cat", "/proc/self/mountinfo"]);
    const inside = parseMountInfo(stdout);
    return dirs.every((d) => mountAt(inside, d)?.optional.some((o) => o.startsWith("master:")) ?? false);
  }

  /**
   * The host's mount tree at `hostPath` as it is now (what was mounted
   * under it since this namespace was made included, and its propagation:
   * a copy of a shared mount is its peer), at `target` inside the
   * namespace. Answers the path to bind from inside; without the helper,
   * `hostPath` itself (the namespace's older view).
   */
  async graft(hostPath: string, target: string, options: GraftOptions = {}): Promise<string> {
    if (!this.graftPath && !options.recursiveReadOnly && !options.idMap) return hostPath;
    await this.graftAll([{ source: hostPath, target }], options);
    return target;
  }

  /** Several trees grafted as `graft` does, by one run of the helper. */
  async graftAll(trees: ReadonlyArray<{ source: string; target: string }>, options: GraftOptions = {}): Promise<void> {
    if (!this.graftPath) {
      throw errors.invalid(
        `${options.idMap ? "idmapped mounts (a user namespace of a container's own)" : "recursively read-only mounts"} need warden-graft, which this daemon was not given`,
      );
    }
    if (trees.length === 0) return;
    await this.commands.run([
      this.graftPath,
      ...(options.recursiveReadOnly ? ["--rro"] : []),
      ...(options.idMap ? ["--idmap", `${options.idMap.hostId}:${options.idMap.size}`] : []),
      this.pinFile,
      ...trees.flatMap((t) => [t.source, t.target]),
    ]);
  }

  /**
   * Takes grafted trees away. Each is first cut from its peers (private),
   * else unmounting what is under it would unmount the same on the host.
   */
  async ungraft(...targets: string[]): Promise<void> {
    if (!this.graftPath || targets.length === 0) return;
    const script = 'for t; do mountpoint -q "$t" || continue; mount --make-rprivate "$t" && umount -l "$t" || exit 1; done';
    await this.commands.run(this.wrap(["sh", "-c", script, "sh", ...targets], "/"));
  }

  /** argv that runs `argv` inside the namespace, in directory `wd`. */
  wrap(argv: readonly string[], wd: string): string[] {
    return ["nsenter", `--mount=${this.pinFile}`, `--wd=${wd}`, "--", ...argv];
  }

  /**
   * argv that runs `argv` inside the namespace with its working directory
   * taken there. nsenter's --wd opens the directory before it enters, so a
   * path relative to it would resolve through the host's mounts: overlay
   * refuses such lower directories ("failed to clone lowerpath").
   */
  wrapInside(argv: readonly string[], dir: string): string[] {
    return ["nsenter", `--mount=${this.pinFile}`, "--", "sh", "-c", 'cd -- "$0" && exec "$@"', dir, ...argv];
  }

  async unshare(dir: string): Promise<void> {
    if (mountAt(await this.readMounts(), dir)) await this.commands.run(["umount", dir]);
    await rm(dir, { recursive: true, force: true });
  }

  async teardown(): Promise<void> {
    const mounts = await this.readMounts();
    if (mountAt(mounts, this.pinFile)) await this.commands.run(["umount", this.pinFile]);
    if (mountAt(mounts, this.pinDir)) await this.commands.run(["umount", this.pinDir]);
    await rm(this.pinDir, { recursive: true, force: true });
  }
}
