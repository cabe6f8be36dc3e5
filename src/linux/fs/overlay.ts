// The container's root filesystem: an overlay of the read-only base and a
// writable layer in the container's depot directory, mounted inside the
// runtime's private mount namespace (see mount-namespace.ts).
import { dnsResolvConf } from "../network/resolv-conf.js";
import { chmod, lchown, lstat, mkdir, readdir, readFile, rm, stat, statfs, writeFile } from "node:fs/promises";
import { basename, dirname, isAbsolute, join } from "node:path";
import { CoreError, errors } from "../../core/errors.js";
import { isContainerId } from "../../core/container-id.js";
import type { Depot } from "../../core/interfaces/depot.js";
import type { BindMount, Filesystem, FilesystemUsage, ImageMountLayers, RootfsBase, RootfsSpec } from "../../core/interfaces/filesystem.js";
import { CommandError, type CommandRunner } from "../command.js";
import { parseMountInfo } from "../mountinfo.js";
import type { RuntimeMountNamespace } from "../runtime/mount-namespace.js";
import type { IdMap } from "../security/id-map.js";
import { readAccounts, writeContainerFiles } from "./container-files.js";
import { diskUsage } from "./disk-usage.js";
import { directoryView, layerView, OpaqueDirectories } from "./layer-view.js";
import type { ShiftedRootfs } from "./shifted-rootfs.js";
import { PlainVolumes, volumeDir, type Volumes } from "./volumes.js";

export function containerLayout(dir: string) {
  return {
    upper: join(volumeDir(dir), "upper"),
    work: join(volumeDir(dir), "work"),
    rootfs: join(dir, "rootfs"),
  };
}

// overlayfs options are a comma-separated list and lowerdir a colon-separated
// one: a path holding either (or a backslash, the escape) would be read as
// more options. A client must not be able to add options by naming a rootfs.
const UNSAFE_OPTION_CHARS = /[,:\\\n]/;

export function overlayOptionsSafe(path: string): boolean {
  return !UNSAFE_OPTION_CHARS.test(path);
}

// The kernel copies mount options into one page.
const MAX_MOUNT_OPTIONS = 4096;

/**
 * lowerdir lists the top layer first. Layers side by side in one directory
 * (the image store's) are named relative to it, mounted from there: a short
 * option string holds many of them.
 */
export function lowerOption(lowers: readonly string[]): { lowerdir: string; wd: string } {
  const topFirst = [...lowers].reverse();
  const parent = dirname(topFirst[0]);
  if (topFirst.length > 1 && topFirst.every((l) => dirname(l) === parent)) {
    return { lowerdir: topFirst.map((l) => basename(l)).join(":"), wd: parent };
  }
  return { lowerdir: topFirst.join(":"), wd: "/" };
}

const BASE_BYTES = "base-bytes";
/** Where a pea's volumes are grafted, by pea, in the container's directory. */
const PEA_VOLUMES = "pea-volumes";
/** Where the idmapped copies of the layers under a root are, by root ("rootfs", or a pea's id), in the container's directory. */
const IDMAPPED = "idmapped";

export class OverlayFilesystem implements Filesystem {
  private readonly opaque: OpaqueDirectories;
  private readonly sizes = new Map<string, Promise<number>>();

  constructor(
    private readonly depot: Depot,
    private readonly ns: RuntimeMountNamespace,
    /** The container's /etc/resolv.conf, given the host side of its /30. */
    private readonly resolvConf: (hostIp: string) => string,
    private readonly commands: CommandRunner,
    /** Where the writable layer lives: a plain directory, or a btrfs subvolume with a quota. */
    private readonly volumes: Volumes = new PlainVolumes(),
    /** Containers in a user namespace: their bases are shifted copies, their files owned through the map. */
    private readonly userNamespace?: { map: IdMap; bases: ShiftedRootfs },
  ) {
    this.opaque = new OpaqueDirectories(commands);
  }

  async check(spec: { base?: RootfsBase; bindMounts: BindMount[] }): Promise<void> {
    if (spec.base?.kind === "directory") await assertRootfs(spec.base.path);
    else if (spec.base && (spec.base.layers.length === 0 || !spec.base.layers.every((l) => isAbsolute(l) && overlayOptionsSafe(l)))) {
      throw errors.invalid("an image's layers must be absolute paths without ',', ':' or '\\\\'");
    }
    await assertBindMounts(spec);
  }

  async prepare(spec: RootfsSpec): Promise<string> {
    await this.check(spec);
    const dir = this.depot.path(spec.id);
    const layout = containerLayout(dir);
    await this.volumes.create(dir);
    await mkdir(layout.upper, { recursive: true });
    await mkdir(layout.work, { recursive: true });
    await mkdir(layout.rootfs, { recursive: true });
    const { lowers, map } = await this.lowersOf(spec);
    const lower = lowers.length === 1 ? directoryView(lowers[0]) : layerView(lowers, this.opaque);
    if (map) await this.ownUpper(layout.upper, lower.top, map);
    await writeContainerFiles(lower, layout.upper, {
      id: spec.hostname ?? spec.id,
      uid: spec.uid,
      containerIp: spec.containerIp,
      resolvConf: spec.dns ? dnsResolvConf(spec.dns) : this.resolvConf(spec.hostIp),
      idMap: map,
    });
    // The base as the client named it: a shifted copy on the depot's btrfs counts its small files' blocks differently.
    await writeFile(join(dir, BASE_BYTES), String(await this.sizeOf(spec.base.kind === "layers" ? spec.base.layers : [spec.base.path])));
    await this.mountStack(await this.seenThrough(lowers, spec, join(dir, IDMAPPED, "rootfs")), layout.upper, layout.work, layout.rootfs);
    return layout.rootfs;
  }

  /**
   * The base's layers (host paths) and the map its container sees them
   * through. Image layers come from the store already shifted into the
   * daemon's namespace; a directory is shifted here, once. A container with
   * a map of its own takes the base as kept with the host's ids.
   */
  private async lowersOf(spec: { base: RootfsBase; privileged?: boolean; idMap?: IdMap }): Promise<{ lowers: readonly string[]; map?: IdMap }> {
    const own = spec.privileged ? undefined : spec.idMap;
    const shared = spec.privileged || own ? undefined : this.userNamespace;
    const lowers = spec.base.kind === "layers" ? spec.base.layers : [shared ? await shared.bases.lowerFor(spec.base.path) : spec.base.path];
    return { lowers, map: own ?? shared?.map };
  }

  /** The upper directory is the container's "/": its owner and mode are what root sees. */
  private async ownUpper(upper: string, top: string, map: IdMap): Promise<void> {
    await lchown(upper, map.hostId, map.hostId);
    await chmod(upper, (await stat(top)).mode & 0o7777);
  }

  /**
   * The lowers as the overlay takes them: for a container with a map of its
   * own, idmapped copies of them in the runtime's namespace, under `dir`
   * (side by side: named relative to it in the overlay's options).
   */
  private async seenThrough(lowers: readonly string[], spec: { privileged?: boolean; idMap?: IdMap }, dir: string): Promise<readonly string[]> {
    if (spec.privileged || !spec.idMap) return lowers;
    const trees = lowers.map((source, i) => ({ source, target: join(dir, String(i)) }));
    // Made here, not only by the helper: an unmount finds them by name, even after a failure half way.
    for (const t of trees) await mkdir(t.target, { recursive: true });
    try {
      await this.ns.graftAll(trees, { idMap: spec.idMap });
    } catch (err) {
      throw errors.commandFailed(`cannot map the base's ids for the container's user namespace: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    return trees.map((t) => t.target);
  }

  /** Takes away the idmapped copies made under `dir`, once nothing stands on them. */
  private async removeIdmapped(dir: string): Promise<void> {
    const names = await readdir(dir).catch(() => [] as string[]);
    await this.ns.ungraft(...names.map((n) => join(dir, n)));
    await rm(dir, { recursive: true, force: true });
  }

  /** The lowers (image layers or a base) under an upper layer, mounted at `target` in the runtime's namespace. */
  private async mountStack(lowers: readonly string[], upper: string, work: string, target: string): Promise<void> {
    const { lowerdir, wd } = lowerOption(lowers);
    const options = `lowerdir=${lowerdir},upperdir=${upper},workdir=${work}`;
    if (options.length >= MAX_MOUNT_OPTIONS) {
      throw errors.invalid(`the image has too many layers (${lowers.length}) for one overlay mount`);
    }
    try {
      const mount = ["mount", "-t", "overlay", "overlay", "-o", options, target];
      await this.commands.run(wd === "/" ? this.ns.wrap(mount, "/") : this.ns.wrapInside(mount, wd));
    } catch (err) {
      throw errors.commandFailed(err instanceof Error ? err.message : String(err), err);
    }
  }

  async preparePea(spec: {
    containerId: string;
    peaId: string;
    base: RootfsBase;
    privileged?: boolean;
    idMap?: IdMap;
    bindMounts?: BindMount[];
    imageMounts?: readonly ImageMountLayers[];
  }): Promise<{ rootfsPath: string; passwd: string; group: string; bindMounts: BindMount[] }> {
    await this.check({ base: spec.base, bindMounts: [] });
    const dir = this.depot.path(spec.containerId);
    // Its writable layer is in the container's volume: the container's disk limit counts it.
    const own = join(volumeDir(dir), "peas", spec.peaId);
    const rootfs = join(dir, "peas", spec.peaId);
    for (const d of [join(own, "upper"), join(own, "work"), rootfs]) await mkdir(d, { recursive: true });
    const { lowers, map } = await this.lowersOf(spec);
    const lower = lowers.length === 1 ? directoryView(lowers[0]) : layerView(lowers, this.opaque);
    if (map) await this.ownUpper(join(own, "upper"), lower.top, map);
    const accounts = await readAccounts(lower);
    await this.mountStack(await this.seenThrough(lowers, spec, join(dir, IDMAPPED, spec.peaId)), join(own, "upper"), join(own, "work"), rootfs);
    // Volumes as the host has them now: the runtime's namespace holds only what was mounted when it was made.
    const volumes = join(dir, PEA_VOLUMES, spec.peaId);
    const bindMounts: BindMount[] = [];
    for (const [i, m] of (spec.bindMounts ?? []).entries()) {
      const target = join(volumes, String(i));
      await mkdir(target, { recursive: true });
      // In a user namespace of the container's own, a volume is seen through its map, as its base is.
      const idMap = spec.privileged ? undefined : spec.idMap;
      bindMounts.push({ ...m, srcPath: await this.ns.graft(m.srcPath, target, { recursiveReadOnly: m.recursiveReadOnly === true, ...(idMap ? { idMap } : {}) }) });
    }
    for (const [i, m] of (spec.imageMounts ?? []).entries()) {
      const staged = await this.mountImage(m.layers, join(volumes, `image-${i}`), spec, join(dir, IDMAPPED, `${spec.peaId}.v${i}`));
      bindMounts.push({ srcPath: m.subPath ? join(staged, m.subPath) : staged, dstPath: m.dstPath, mode: "ro", propagation: "private" });
    }
    return { rootfsPath: rootfs, ...accounts, bindMounts };
  }

  /**
   * An image's contents, read-only, at `target` in the runtime's namespace:
   * its layers under an overlay with no writable layer, or its one layer as a
   * read-only copy (overlay wants two lowers at least when it has no upper).
   */
  private async mountImage(layers: readonly string[], target: string, spec: { privileged?: boolean; idMap?: IdMap }, idmapped: string): Promise<string> {
    await mkdir(target, { recursive: true });
    const idMap = spec.privileged ? undefined : spec.idMap;
    try {
      if (layers.length === 1) {
        await this.ns.graftAll([{ source: layers[0], target }], { recursiveReadOnly: true, ...(idMap ? { idMap } : {}) });
        return target;
      }
      const { lowerdir, wd } = lowerOption(await this.seenThrough(layers, spec, idmapped));
      const mount = ["mount", "-t", "overlay", "overlay", "-o", `ro,lowerdir=${lowerdir}`, target];
      await this.commands.run(wd === "/" ? this.ns.wrap(mount, "/") : this.ns.wrapInside(mount, wd));
      return target;
    } catch (err) {
      if (err instanceof CoreError) throw err;
      throw errors.commandFailed(`cannot mount the image at ${target}: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }

  async findInBase(base: RootfsBase, path: string): Promise<"directory" | "file" | "symlink" | undefined> {
    const view = base.kind === "layers" ? (base.layers.length === 1 ? directoryView(base.layers[0]) : layerView(base.layers, this.opaque)) : directoryView(base.path);
    // A symbolic link on the way is no directory of the image's: `find` stops there.
    const found = await view.find(path);
    if (!found) return undefined;
    const st = await lstat(found);
    return st.isSymbolicLink() ? "symlink" : st.isDirectory() ? "directory" : "file";
  }

  async peaUsage(containerId: string, peaId: string): Promise<FilesystemUsage> {
    const dir = this.depot.path(containerId);
    const inodes = new Set<string>();
    const bytes = await diskUsage(join(volumeDir(dir), "peas", peaId, "upper"), inodes);
    const fs = await statfs(dir);
    return {
      usedBytes: BigInt(bytes),
      usedInodes: BigInt(inodes.size),
      capacityBytes: BigInt(fs.blocks) * BigInt(fs.bsize),
      inodesTotal: BigInt(fs.files),
      inodesFree: BigInt(fs.ffree),
    };
  }

  private async removePeaVolumes(dir: string, peaId: string): Promise<void> {
    const volumes = join(dir, PEA_VOLUMES, peaId);
    await this.ns.ungraft(...(await readdir(volumes).catch(() => [] as string[])).map((name) => join(volumes, name)));
    await rm(volumes, { recursive: true, force: true });
  }

  async removePea(containerId: string, peaId: string): Promise<void> {
    const dir = this.depot.path(containerId);
    await this.removePeaVolumes(dir, peaId);
    await this.umount(join(dir, "peas", peaId));
    // Its root's idmapped layers, and its image volumes' (`<pea>.v<n>`).
    for (const name of await readdir(join(dir, IDMAPPED)).catch(() => [] as string[])) {
      if (name === peaId || name.startsWith(`${peaId}.`)) await this.removeIdmapped(join(dir, IDMAPPED, name));
    }
    await rm(join(dir, "peas", peaId), { recursive: true, force: true });
    await rm(join(volumeDir(dir), "peas", peaId), { recursive: true, force: true });
  }

  /** Unmounts `target` in the runtime's namespace; nothing mounted there is done too. */
  private async umount(target: string): Promise<void> {
    try {
      await this.commands.run(this.ns.wrap(["umount", target], "/"));
    } catch (err) {
      if (err instanceof CommandError && /not mounted|no mount point|No such file/.test(err.stderr)) return;
      throw err;
    }
  }

  async baseBytes(id: string): Promise<bigint | undefined> {
    try {
      return BigInt((await readFile(join(this.depot.path(id), BASE_BYTES), "utf8")).trim());
    } catch {
      return undefined;
    }
  }

  // A base never changes under its containers: measured once per daemon.
  private sizeOf(lowers: readonly string[]): Promise<number> {
    const key = lowers.join("\0");
    let size = this.sizes.get(key);
    if (!size) {
      const seen = new Set<string>();
      size = lowers.reduce<Promise<number>>(async (sum, l) => (await sum) + (await diskUsage(l, seen)), Promise.resolve(0));
      this.sizes.set(key, size);
    }
    return size;
  }

  async unmount(id: string): Promise<void> {
    const dir = this.depot.path(id);
    // Its peas' volumes and roots first; nothing mounted (a half-made container, or removed before) is done.
    for (const pea of await readdir(join(dir, PEA_VOLUMES)).catch(() => [] as string[])) await this.removePeaVolumes(dir, pea);
    for (const pea of await readdir(join(dir, "peas")).catch(() => [] as string[])) await this.umount(join(dir, "peas", pea));
    await this.umount(containerLayout(dir).rootfs);
    // What the overlays stood on, once they are gone.
    for (const name of await readdir(join(dir, IDMAPPED)).catch(() => [] as string[])) await this.removeIdmapped(join(dir, IDMAPPED, name));
  }

  async remove(id: string): Promise<void> {
    await this.unmount(id);
    await this.volumes.remove(this.depot.path(id));
  }

  async removeOrphans(live: ReadonlySet<string>): Promise<string[]> {
    const { stdout } = await this.commands.run(this.ns.wrap(["cat", "/proc/self/mountinfo"], "/"));
    const prefix = `${this.depot.root.replace(/\/+$/, "")}/`;
    const orphans: string[] = [];
    for (const m of parseMountInfo(stdout)) {
      if (!m.mountPoint.startsWith(prefix)) continue;
      const [id, leaf, ...rest] = m.mountPoint.slice(prefix.length).split("/");
      // Its root, or the idmapped layers under it (a daemon killed between the two leaves only these).
      const ours = (leaf === "rootfs" && rest.length === 0) || leaf === IDMAPPED;
      if (!ours || !isContainerId(id) || live.has(id) || orphans.includes(id)) continue;
      await this.unmount(id);
      orphans.push(id);
    }
    return orphans;
  }
}

async function assertBindMounts(spec: Pick<RootfsSpec, "bindMounts">): Promise<void> {
  for (const m of spec.bindMounts) {
    if (!isAbsolute(m.srcPath) || !isAbsolute(m.dstPath)) {
      throw errors.invalid(`bind mount paths must be absolute: ${m.srcPath} -> ${m.dstPath}`);
    }
    try {
      await stat(m.srcPath);
    } catch {
      throw errors.bindMountSourceMissing(m.srcPath);
    }
  }
}

async function assertRootfs(path: string): Promise<void> {
  if (!isAbsolute(path) || !overlayOptionsSafe(path)) {
    throw errors.invalid(`rootfs ${path} must be an absolute path without ',', ':' or '\\\\'`);
  }
  try {
    // stat follows a symlink to a directory, which is allowed.
    if ((await stat(path)).isDirectory()) return;
  } catch {
    // falls through
  }
  throw errors.rootfsNotFound(path);
}
