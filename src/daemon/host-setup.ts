// What the daemon prepares on the host before serving, and takes down when
// it stops with no container left: directories, the runtime's private mount
// namespace, a null device of our own, the parent cgroups.
import { access, chmod, constants, mkdir, open, readdir, rm, rmdir, stat } from "node:fs/promises";
import { basename, delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config/schema.js";
import type { ContainerCgroups } from "../linux/cgroups/cgroups.js";
import type { CommandRunner } from "../linux/command.js";
import type { BtrfsDepot } from "../linux/fs/btrfs-quota.js";
import { isStaticElf } from "../rootfs/build.js";
import { RuntimeMountNamespace } from "../linux/runtime/mount-namespace.js";

export class SetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SetupError";
  }
}

export interface HostPaths {
  runtimeStateRoot: string;
  socketDir: string;
  nullDevice: string;
  netnsDir: string;
  usernsDir: string;
}

export function hostPaths(config: Config): HostPaths {
  const server = config.server;
  return {
    runtimeStateRoot: join(server.run_path, server.runtime),
    socketDir: join(server.run_path, "sockets"),
    nullDevice: join(server.container_depot_path, ".null"),
    netnsDir: join(server.run_path, "netns"),
    usernsDir: join(server.run_path, "userns"),
  };
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** An absolute path for a tool, from the config or from PATH (plus the sbin directories). */
export async function findTool(name: string, configured?: string): Promise<string> {
  if (configured) {
    if (await executable(configured)) return configured;
    throw new SetupError(`${configured} is not an executable (configured for ${name})`);
  }
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (dir && (await executable(join(dir, name)))) return join(dir, name);
  }
  throw new SetupError(`${name} not found; install it (apt-get install -y ${name}) or set its path in the config`);
}

/** The shim built with the daemon (npm run build): dist/bin/warden-shim. */
export const BUILT_SHIM = fileURLToPath(new URL("../../bin/warden-shim", import.meta.url));
/** The daemon's command starter built with it: dist/bin/warden-spawn. */
export const BUILT_SPAWN = fileURLToPath(new URL("../../bin/warden-spawn", import.meta.url));
/** What makes a container's user and network namespaces, built with the daemon: dist/bin/warden-netns. */
export const BUILT_NETNS = fileURLToPath(new URL("../../bin/warden-netns", import.meta.url));
/** What brings host mounts into the runtime's mount namespace, built with the daemon: dist/bin/warden-graft. */
export const BUILT_GRAFT = fileURLToPath(new URL("../../bin/warden-graft", import.meta.url));
/** What connects to a container's own loopback, built with the daemon: dist/bin/warden-relay. */
export const BUILT_RELAY = fileURLToPath(new URL("../../bin/warden-relay", import.meta.url));
/** The containers' init built with the daemon: dist/bin/warden-init. */
export const BUILT_INIT = fileURLToPath(new URL("../../bin/warden-init", import.meta.url));

export async function checkTools(
  config: Config,
): Promise<{ runtimePath: string; shimPath: string; initPath: string; initStartsProcesses: boolean; spawnPath: string }> {
  if (process.getuid?.() !== 0) throw new SetupError("linux containers require root privileges");
  const shimPath = config.server.shim_path ?? BUILT_SHIM;
  const initPath = config.server.init_path ?? BUILT_INIT;
  for (const [key, path] of [
    ["server.conmon_path", config.server.conmon_path],
    ["server.init_path", initPath],
    ["server.copy_helper_path", config.server.copy_helper_path],
    ["server.shim_path", shimPath],
    ["warden-spawn", BUILT_SPAWN],
    ["warden-netns", BUILT_NETNS],
    ["warden-graft", BUILT_GRAFT],
    ["warden-relay", BUILT_RELAY],
  ] as const) {
    if (!(await executable(path))) {
      const built = key === "server.shim_path" || key.startsWith("warden-") || (key === "server.init_path" && path === BUILT_INIT);
      throw new SetupError(`${key}: ${path} is not an executable${built ? " (npm run build makes it)" : ""}`);
    }
  }
  // They run in containers of any root filesystem: they must need no library of theirs.
  if (!(await isStaticElf(config.server.copy_helper_path))) {
    throw new SetupError(`server.copy_helper_path: ${config.server.copy_helper_path} is not statically linked (install busybox-static)`);
  }
  if (!(await isStaticElf(initPath))) throw new SetupError(`server.init_path: ${initPath} is not statically linked`);
  for (const tool of ["nsenter", "unshare", "mount", "umount", "mknod", "ip", "tc", "nft", "fallocate"]) await findTool(tool);
  if (config.server.quota.disk_quota_enabled) {
    for (const tool of ["btrfs", "mkfs.btrfs", "truncate"]) await findTool(tool);
  }
  const runtimePath = await findTool(config.server.runtime, config.server.runtime_path);
  try {
    if (!(await stat(config.server.container_rootfs_path)).isDirectory()) throw new Error();
  } catch {
    throw new SetupError(
      `container_rootfs_path does not exist: ${config.server.container_rootfs_path} (make it with bin/warden-rootfs)`,
    );
  }
  // Only ours starts processes; another init (catatonit) leaves them to the runtime's exec.
  return { runtimePath, shimPath, initPath, initStartsProcesses: basename(initPath) === "warden-init", spawnPath: BUILT_SPAWN };
}

export async function setUpHost(
  config: Config,
  paths: HostPaths,
  ns: RuntimeMountNamespace,
  btrfs: BtrfsDepot | undefined,
  commands: CommandRunner,
): Promise<void> {
  const depot = config.server.container_depot_path;
  await mkdir(depot, { recursive: true, mode: 0o700 });
  // Before the runtime namespace exists: it must see the depot's own mount.
  await btrfs?.ensure();
  if (config.security.user_namespace) await assertSearchable(depot);
  await mkdir(config.server.run_path, { recursive: true, mode: 0o700 });
  await mkdir(paths.runtimeStateRoot, { recursive: true, mode: 0o700 });
  await mkdir(paths.socketDir, { recursive: true, mode: 0o700 });
  await ns.ensure([], await depotIsEmpty(config.server.container_depot_path), [depot]);
  // The namespace pins stay on the host: the runtime reaches them through the daemon's root
  // (/proc/<pid>/root), and every mount in its namespace is copied into each new container's.
  for (const dir of [paths.netnsDir, paths.usernsDir]) await ns.makePrivate(dir);
  // Runtimes chown a job's stdio to the job's user; a device of our own,
  // in a directory only root can enter, takes the place of /dev/null.
  await rm(paths.nullDevice, { force: true });
  await commands.run(["mknod", "-m", "0600", paths.nullDevice, "c", "1", "3"]);
  try {
    const handle = await open(paths.nullDevice, "w");
    await handle.close();
  } catch (err) {
    throw new SetupError(
      `cannot use a device node in ${config.server.container_depot_path} (mounted nodev?): ${(err as Error).message}`,
    );
  }
}

// The runtime mounts a container's root as container root, an unprivileged
// host uid: every directory down to the depot must let others pass
// (search, not list). The depot is ours to set; its parents are not.
async function assertSearchable(depot: string): Promise<void> {
  await chmod(depot, 0o711);
  for (let dir = dirname(depot); ; dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new SetupError(
        `${dir} must be searchable by others (chmod o+x) for containers in a user namespace to reach their root filesystems under ${depot}`,
      );
    }
    if (dir === "/") return;
  }
}

async function depotIsEmpty(depot: string): Promise<boolean> {
  return (await readdir(depot)).every((name) => name.startsWith("."));
}

/** Undoes setUpHost; only called when no container is left. */
export async function tearDownHost(
  config: Config,
  paths: HostPaths,
  ns: RuntimeMountNamespace,
  cgroups: ContainerCgroups,
  network: { tearDown(): Promise<void> },
  btrfs: BtrfsDepot | undefined,
): Promise<void> {
  await network.tearDown();
  await ns.teardown();
  await ns.unshare(paths.netnsDir);
  await ns.unshare(paths.usernsDir);
  await rm(paths.nullDevice, { force: true });
  await btrfs?.tearDown();
  await rm(paths.runtimeStateRoot, { recursive: true, force: true });
  await rm(paths.socketDir, { recursive: true, force: true });
  // The run directory itself, once nothing (of ours or anyone's) is left in it.
  await rmdir(config.server.run_path).catch(() => {});
  await cgroups.removeParent();
}
