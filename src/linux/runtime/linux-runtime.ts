// The Runtime of the core on Linux: an OCI bundle of ours, run by crun or
// runc under conmon, with warden-init as PID 1, which starts the container's
// processes, each under a warden-shim of its own (a terminal's, or any in a
// container whose init only reaps, are exec'd by the runtime instead).
//
// Per container, in its depot directory:
//   bundle/config.json    the OCI spec
//   run/                  the init's conmon: pid, conmon.pid, sync, exit, oom;
//                         init.sock, where the init takes processes to start
//   processes/<n>/        a process's shim: process.spec (the init's) or
//                         process.json (the runtime's), meta.json, stdin,
//                         stdout, stderr, pid, shim.pid, exit
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { errors } from "../../core/errors.js";
import type { Depot } from "../../core/interfaces/depot.js";
import type {
  ContainerCapabilities,
  ContainerLaunch,
  PeaLaunch,
  ProcessHandle,
  ProcessLaunch,
  RecoveredProcess,
  ResolvedUser,
  Runtime,
  StopSignal,
} from "../../core/interfaces/runtime.js";
import type { ContainerCgroups } from "../cgroups/cgroups.js";
import type { CgroupPlacement } from "../cgroups/placed-cgroups.js";
import type { CommandRunner } from "../command.js";
import { descendants, isAlive, processes, readPidFile, signal } from "../process.js";
import { readHardLimits, type HardLimits } from "../rlimits.js";
import { heldCapabilities } from "../security/capabilities.js";
import { hostIdOf, type IdMap } from "../security/id-map.js";
import type { OciSeccomp } from "../security/seccomp.js";
import { waitFor } from "../wait-for.js";
import { buildBundle, INIT_PATH_IN_CONTAINER } from "./bundle.js";
import type { Conmon } from "./conmon.js";
import { ContainerUsers } from "./container-users.js";
import { initProcessSpec } from "./init-process-spec.js";
import type { OciRuntimeCli } from "./oci-runtime.js";
import { deviceNode } from "./device-node.js";
import { specJson, type OciSpec } from "./oci-spec.js";
import { DEFAULT_SETS, ociProcess, type CapabilitySets } from "./process-spec.js";
import { peaBundle } from "./pea-bundle.js";
import { volumeDir } from "../fs/volumes.js";
import type { ProcessStarter } from "./shim.js";
import { ShimProcess } from "./shim-process.js";

export interface LinuxRuntimeOptions {
  depot: Depot;
  oci: OciRuntimeCli;
  conmon: Conmon;
  shim: ProcessStarter;
  /** The shim's path, to know its processes again. */
  shimPath: string;
  cgroups: ContainerCgroups;
  cgroupParent: string;
  initPath: string;
  /**
   * The init is warden-init: it starts the container's processes on its
   * socket, faster than the runtime's exec. Another init (catatonit) only reaps.
   */
  initStartsProcesses?: boolean;
  socketDir: string;
  pidsLimit: number;
  copyHelperPath?: string;
  /** The user namespace of containers; none (container root is host root) when absent. */
  idMap?: IdMap;
  /** Where containers' cgroups are when a client named their parent (the same cgroups the runtime is given). */
  placement?: CgroupPlacement;
  idmappedBindMounts?: boolean;
  seccomp?: OciSeccomp;
  /**
   * crun only: the runtime compiles the filter (about 25 ms) for every
   * container. The first container's compiled filter (crun leaves it in its
   * state directory) is handed to the rest ready-made.
   */
  reuseCompiledSeccomp?: boolean;
  /** What root's processes hold; default ROOT_CAPABILITIES. */
  rootCapabilities?: readonly string[];
  commands: CommandRunner;
}

const SUPERVISOR_EXIT_TIMEOUT_MS = 10_000;
const PROCESS_META = "meta.json";
const INIT_SOCKET = "init.sock";

/**
 * A host path as the runtime, in its own mount namespace, reaches it: through
 * this daemon's root. The namespace pins stay out of the runtime's
 * namespace, whose every mount each new container's namespace starts as a copy of.
 */
function hostView(path: string): string {
  return `/proc/${process.pid}/root${path}`;
}
/** sun_path's size, with its terminating NUL. */
const MAX_SOCKET_PATH = 107;

export function containerPaths(dir: string) {
  return { bundle: join(dir, "bundle"), run: join(dir, "run"), processes: join(dir, "processes") };
}

/** The cgroup path a container's bundle names (read once per container by a restarted daemon); none without a bundle. */
export function bundleCgroupsPath(dir: string): string | undefined {
  try {
    const spec = JSON.parse(readFileSync(join(containerPaths(dir).bundle, "config.json"), "utf8")) as OciSpec;
    return spec.linux?.cgroupsPath;
  } catch {
    return undefined;
  }
}

/** A pea's own seccomp filter: none, or the profile in a host file (OCI's form, or Docker's, which is the same but for what it may add). */
async function peaSeccomp(seccomp: "unconfined" | { profilePath: string }): Promise<OciSeccomp | null> {
  if (seccomp === "unconfined") return null;
  // (the daemon's own filter, "default", is the caller's)
  let profile: Partial<OciSeccomp>;
  try {
    profile = JSON.parse(await readFile(seccomp.profilePath, "utf8")) as Partial<OciSeccomp>;
  } catch (err) {
    throw errors.invalid(`seccomp profile ${seccomp.profilePath} cannot be read: ${(err as Error).message}`);
  }
  if (typeof profile.defaultAction !== "string") throw errors.invalid(`seccomp profile ${seccomp.profilePath} names no defaultAction`);
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures: Array.isArray(profile.architectures) ? profile.architectures : [],
    syscalls: (Array.isArray(profile.syscalls) ? profile.syscalls : []).map((r) => ({
      names: r.names,
      action: r.action,
      ...(r.errnoRet !== undefined ? { errnoRet: r.errnoRet } : {}),
      ...(r.args ? { args: r.args } : {}),
    })),
  };
}

export class LinuxRuntime implements Runtime {
  private readonly hardLimits: HardLimits = readHardLimits();
  /** The filter crun compiled from options.seccomp, base64, once a container has been made with it. */
  private compiledSeccomp: string | undefined;
  private readonly users: ContainerUsers;

  constructor(private readonly options: LinuxRuntimeOptions) {
    this.users = new ContainerUsers(options.commands, (id) => this.initPid(id));
  }

  private paths(id: string) {
    return containerPaths(this.options.depot.path(id));
  }

  private initPid(id: string): Promise<number | undefined> {
    return readPidFile(join(this.paths(id).run, "pid"));
  }

  async create(launch: ContainerLaunch): Promise<void> {
    const paths = this.paths(launch.id);
    await mkdir(paths.bundle, { recursive: true });
    await mkdir(paths.run, { recursive: true });
    await mkdir(paths.processes, { recursive: true });
    const socketPath = join(paths.run, INIT_SOCKET);
    const initSocket = this.options.initStartsProcesses && socketPath.length <= MAX_SOCKET_PATH ? socketPath : undefined;
    const bundle = buildBundle({
      id: launch.id,
      hostname: launch.hostname,
      rootfsPath: launch.rootfsPath,
      bindMounts: launch.bindMounts,
      cgroupParent: this.options.cgroupParent,
      ...(launch.cgroupParent ? { cgroupsPath: this.placement(launch.cgroupParent).place(launch.id, launch.cgroupParent) } : {}),
      initPath: this.options.initPath,
      namespaces:
        launch.network !== "host" && launch.network.network
          ? { network: hostView(launch.network.network), user: launch.network.user && hostView(launch.network.user) }
          : undefined,
      hostNetwork: launch.network === "host",
      pidsLimit: launch.pidsLimit ?? this.options.pidsLimit,
      ...(launch.sysctls ? { sysctls: launch.sysctls } : {}),
      copyHelperPath: this.options.copyHelperPath,
      // Privileged: no user namespace, and no seccomp filter (root holds every capability the daemon has).
      idMap: launch.privileged ? undefined : (launch.idMap ?? this.options.idMap),
      idmappedBindMounts: this.options.idmappedBindMounts,
      seccomp: launch.privileged ? undefined : this.options.seccomp,
      compiledSeccomp: launch.privileged ? undefined : this.compiledSeccomp,
      initCapabilities: await this.initCapabilities(launch, initSocket !== undefined),
    });
    await writeFile(join(paths.bundle, "config.json"), specJson(bundle));
    try {
      await this.options.conmon.createContainer(
        launch.id,
        paths.bundle,
        paths.run,
        initSocket ? { init: this.options.initPath, path: initSocket } : undefined,
      );
      await this.options.oci.start(launch.id);
    } catch (err) {
      throw errors.commandFailed(err instanceof Error ? err.message : String(err), err);
    }
    if (initSocket) await this.checkInitListens(launch.id, initSocket);
    if (!launch.privileged && this.options.seccomp && this.options.reuseCompiledSeccomp && this.compiledSeccomp === undefined) {
      await this.keepCompiledSeccomp(launch.id);
    }
  }

  /**
   * A runtime that did not pass the socket on (fd 3) leaves an init that
   * only reaps, and a socket nobody accepts on: its processes go through the
   * runtime's exec instead.
   */
  private async checkInitListens(id: string, socket: string): Promise<void> {
    const init = await this.initPid(id);
    const fd3 = init === undefined ? undefined : await readlink(`/proc/${init}/fd/3`).catch(() => undefined);
    if (fd3?.startsWith("socket:")) return;
    await rm(socket, { force: true });
  }

  /**
   * What the init holds. One that starts processes holds every capability
   * any of them may get (it hands each its own sets); a container with sets
   * of its own has an init holding root's (Garden's way); else it holds none.
   */
  private async initCapabilities(launch: ContainerLaunch, startsProcesses: boolean): Promise<readonly string[] | undefined> {
    const held = async () => heldCapabilities(await readFile("/proc/self/status", "utf8"));
    if (startsProcesses) {
      if (launch.capabilities) {
        const root = launch.capabilities.root === "all" ? await held() : launch.capabilities.root;
        return [...new Set([...root, ...launch.capabilities.others])];
      }
      return launch.privileged ? held() : (this.options.rootCapabilities ?? DEFAULT_SETS.root);
    }
    if (!launch.capabilities) return undefined;
    return launch.capabilities.root === "all" ? held() : [...launch.capabilities.root];
  }

  private async keepCompiledSeccomp(id: string): Promise<void> {
    try {
      const bpf = await readFile(join(this.options.oci.options.stateRoot, id, "seccomp.bpf"));
      // A filter is a whole number of 8-byte instructions; anything else is not one.
      if (bpf.length > 0 && bpf.length % 8 === 0) this.compiledSeccomp = bpf.toString("base64");
    } catch {
      // Not there (another crun version): every container compiles its own.
    }
  }

  async kill(id: string): Promise<void> {
    const init = await this.initPid(id);
    if (init === undefined || !(await isAlive(init))) return;
    signal(init, "SIGKILL");
    // A pid namespace's init dies last: once it is a zombie, every process it held is gone.
    await waitFor(this.paths(id).run, async () => !(await isAlive(init)) || undefined, {
      timeoutMs: SUPERVISOR_EXIT_TIMEOUT_MS,
      pollMs: 2,
      what: `the init of ${id} to die`,
    });
  }

  async destroy(id: string): Promise<void> {
    const paths = this.paths(id);
    // Its peas first: their cgroups may sit inside its own.
    for (const name of await this.options.oci.list().catch(() => [] as string[])) {
      if (name.startsWith(`${id}-`)) await this.options.oci.forceDelete(name);
    }
    await this.options.oci.forceDelete(id);
    // Every supervisor sees its process die and records the end; wait for
    // them so none is left writing into a directory we remove next.
    await Promise.all([
      waitSupervisorGone(paths.run, "conmon.pid"),
      ...(await listDirs(paths.processes)).map((dir) => waitSupervisorGone(dir, "shim.pid")),
    ]);
    await rm(join(this.options.socketDir, id), { force: true });
    this.options.placement?.forget(id);
  }

  private placement(parent: string): CgroupPlacement {
    if (!this.options.placement) throw errors.invalid(`this daemon cannot put a container's cgroup under ${parent}`);
    return this.options.placement;
  }

  async signalAll(id: string, sig: StopSignal): Promise<void> {
    const init = await this.initPid(id);
    const cgroups = this.options.cgroups;
    if (sig === "KILL") {
      // Frozen, nothing can fork between reading the list and killing it.
      await cgroups.freeze(id);
      try {
        for (const pid of await cgroups.procs(id)) if (pid !== init) signal(pid, "SIGKILL");
      } finally {
        await cgroups.thaw(id);
      }
      return;
    }
    for (const pid of await cgroups.procs(id)) if (pid !== init) signal(pid, "SIGTERM");
  }

  async processCount(id: string): Promise<number> {
    const init = await this.initPid(id);
    return (await this.options.cgroups.procs(id)).filter((p) => p !== init).length;
  }

  resolveUser(id: string, user: string, workDir?: { path?: string }): Promise<ResolvedUser> {
    return this.users.resolve(id, user, workDir);
  }

  /**
   * What the container's processes hold: the container's own sets, "all"
   * read off the daemon; else root gets the default set, or everything the
   * daemon holds in a privileged container, and other users nothing.
   */
  private async capabilitySets(id: string, own: ContainerCapabilities | undefined): Promise<CapabilitySets> {
    if (own) {
      // The daemon gives what it holds, no more (root here may lack some, CAP_SYS_RESOURCE on this kind of VM).
      const held = heldCapabilities(await readFile("/proc/self/status", "utf8"));
      const heldOnly = (list: readonly string[]) => list.filter((c) => held.includes(c));
      const root = own.root === "all" ? held : heldOnly(own.root);
      return { root, others: heldOnly(own.others), inheritable: true };
    }
    const privileged = this.options.idMap !== undefined && !(await this.users.hasUserNamespace(id));
    if (privileged) return { ...DEFAULT_SETS, root: heldCapabilities(await readFile("/proc/self/status", "utf8")) };
    return { ...DEFAULT_SETS, root: this.options.rootCapabilities ?? DEFAULT_SETS.root };
  }

  async startProcess(id: string, launch: ProcessLaunch): Promise<ProcessHandle> {
    // Checked (rlimits against the host's) before anything is made.
    const spec = ociProcess(launch, this.hardLimits, await this.capabilitySets(id, launch.capabilities));
    const initSocket = launch.tty === undefined ? await this.initSocket(id) : undefined;
    // The init's spec, or the runtime's: only the one used is written.
    const file = initSocket ? { name: "process.spec", text: initProcessSpec(spec) } : { name: "process.json", text: specJson(spec) };
    return this.startUnderShim(id, launch, file, { containerId: id, ...(initSocket ? { initSocket } : {}) });
  }

  /** A process under a shim of its own, in its directory: its spec, its standard input, what a restarted daemon needs. */
  private async startUnderShim(
    id: string,
    launch: ProcessLaunch,
    spec: { name: string; text: string | Buffer },
    where: { containerId: string; initSocket?: string; bundleInDir?: boolean; pea?: string },
    onFailure?: () => Promise<void>,
  ): Promise<ShimProcess> {
    const dir = join(this.paths(id).processes, String(launch.seq));
    await mkdir(dir);
    try {
      await writeFile(join(dir, spec.name), spec.text);
      if (launch.stdin.kind === "data") await writeFile(join(dir, "stdin"), launch.stdin.data);
      // For a restarted daemon. A daemon's death leaves the page cache be, so no fsync is needed here.
      await writeFile(join(dir, PROCESS_META), JSON.stringify(launch.meta));
      const stdin = launch.stdin.kind === "data" ? "file" : launch.stdin.kind === "stream" ? "pipe" : "none";
      const { bundleInDir, pea: _pea, ...shim } = where;
      await this.options.shim.start(
        {
          ...shim,
          ...(bundleInDir ? { bundle: dir } : {}),
          ...(launch.logFile ? { logFile: launch.logFile } : {}),
          dir,
          stdin,
          tty: launch.tty,
          discardOutput: launch.discardOutput,
          owner: await this.hostOwner(id, launch),
        },
        launch.path,
      );
    } catch (err) {
      await onFailure?.().catch(() => {});
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    const handle = this.attach(id, dir, launch.discardOutput, launch.tty !== undefined, launch.logFile, where.pea);
    if (launch.stdin.kind === "stream") await handle.attachStdin();
    return handle;
  }

  /** The socket of a container's init that starts processes; none for an init that only reaps (one made before, or catatonit). */
  private async initSocket(id: string): Promise<string | undefined> {
    if (!this.options.initStartsProcesses) return undefined;
    const path = join(this.paths(id).run, INIT_SOCKET);
    return (await stat(path).catch(() => undefined))?.isSocket() ? path : undefined;
  }

  /** The host ids of the process's user: through the container's map when it has a user namespace. */
  private async hostOwner(id: string, launch: ProcessLaunch): Promise<{ uid: number; gid: number }> {
    const map = await this.users.idMapOf(id);
    return { uid: hostIdOf(map, launch.user.uid), gid: hostIdOf(map, launch.user.gid) };
  }

  /** A pea's container name in the runtime: its container's id, then its own. */
  private peaName(id: string, peaId: string): string {
    return `${id}-${peaId}`;
  }

  peaCgroup(id: string, peaId: string, ownLimits: boolean): string {
    // Sharing the container's limits: a cgroup under the container's. Limits of its own: one beside
    // it (or under the parent it was started with: the cgroups know where).
    return ownLimits ? this.peaName(id, peaId) : `${id}/${peaId}`;
  }

  async startPea(id: string, launch: ProcessLaunch, pea: PeaLaunch): Promise<ProcessHandle> {
    const paths = this.paths(id);
    const init = await this.initPid(id);
    if (init === undefined) throw errors.commandFailed(`the container ${id} has no running init`);
    const container = JSON.parse(await readFile(join(paths.bundle, "config.json"), "utf8")) as OciSpec;
    const process = ociProcess(launch, this.hardLimits, await this.capabilitySets(id, launch.capabilities));
    const spec = peaBundle(container, {
      process,
      rootfsPath: pea.rootfsPath,
      initPid: init,
      cgroupsPath:
        pea.limits !== undefined && pea.cgroupParent
          ? this.placement(pea.cgroupParent).place(this.peaName(id, pea.id), pea.cgroupParent)
          : join("/", this.options.cgroupParent, this.peaCgroup(id, pea.id, pea.limits !== undefined)),
      limits: pea.limits,
      etc: join(volumeDir(this.options.depot.path(id)), "upper", "etc"),
      ...(pea.bindMounts ? { bindMounts: pea.bindMounts } : {}),
      ...(pea.devices?.length ? { devices: await Promise.all(pea.devices.map(deviceNode)) } : {}),
      ...(pea.security ? { security: pea.security } : {}),
      ...(pea.security?.seccomp === "default"
        ? { seccomp: this.options.seccomp ?? null }
        : pea.security?.seccomp
          ? { seccomp: await peaSeccomp(pea.security.seccomp) }
          : {}),
    });
    const name = this.peaName(id, pea.id);
    return this.startUnderShim(id, launch, { name: "config.json", text: specJson(spec) }, { containerId: name, bundleInDir: true, pea: pea.id }, () =>
      this.options.oci.forceDelete(name),
    );
  }

  async execInPea(id: string, peaId: string, launch: ProcessLaunch): Promise<ProcessHandle> {
    const spec = ociProcess(launch, this.hardLimits, await this.capabilitySets(id, launch.capabilities));
    // The pea is a container of the runtime's: the process joins it through the runtime's exec.
    return this.startUnderShim(id, launch, { name: "process.json", text: specJson(spec) }, { containerId: this.peaName(id, peaId), pea: peaId });
  }

  async removePea(id: string, peaId: string): Promise<void> {
    await this.options.oci.forceDelete(this.peaName(id, peaId));
    await this.options.cgroups.remove(this.peaCgroup(id, peaId, true)).catch(() => {});
    this.options.placement?.forget(this.peaName(id, peaId));
  }

  /** A process's handle; a pea's (or one started in a pea) is killed within the pea's cgroup, not the container's. */
  private attach(id: string, dir: string, discardOutput: boolean, tty: boolean, logFile?: string, pea?: string): ShimProcess {
    return new ShimProcess({
      dir,
      ...(logFile ? { logFile } : {}),
      outputs: {
        stdout: discardOutput ? undefined : join(dir, "stdout"),
        stderr: discardOutput || tty ? undefined : join(dir, "stderr"),
      },
      // A pea's cgroup is under the container's, or beside it with limits of its own.
      killTree: (pid) => this.killProcessTree(pea ? [this.peaCgroup(id, pea, false), this.peaCgroup(id, pea, true)] : [id], pid),
      commands: this.options.commands,
    });
  }

  async processes(id: string): Promise<RecoveredProcess[]> {
    const found: RecoveredProcess[] = [];
    for (const dir of await listDirs(this.paths(id).processes)) {
      const seq = Number(dir.split("/").pop());
      if (!Number.isSafeInteger(seq)) continue;
      let meta: Record<string, unknown>;
      try {
        meta = JSON.parse(await readFile(join(dir, PROCESS_META), "utf8")) as Record<string, unknown>;
      } catch {
        // Made but never started (the daemon died in between): nothing to find.
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      let tty = false;
      try {
        tty = (JSON.parse(await readFile(join(dir, "process.json"), "utf8")) as { terminal?: boolean }).terminal === true;
      } catch {
        // A pea keeps its process in its bundle; a spec that cannot be read: no terminal.
        tty = await readFile(join(dir, "config.json"), "utf8").then((t) => (JSON.parse(t) as OciSpec).process?.terminal === true, () => false);
      }
      const discard = (meta.output as { kind?: string } | undefined)?.kind === "discard";
      const pea = typeof meta.pea === "string" ? meta.pea : undefined;
      // A pea's own process keeps its bundle: where its cgroup is, for a restarted daemon.
      if (pea) await this.recoverPlacement(id, pea, dir);
      found.push({ seq, meta, handle: this.attach(id, dir, discard, tty, undefined, pea) });
    }
    return found;
  }

  private async recoverPlacement(id: string, peaId: string, dir: string): Promise<void> {
    const spec = await readFile(join(dir, "config.json"), "utf8").then((t) => JSON.parse(t) as OciSpec, () => undefined);
    const path = spec?.linux?.cgroupsPath;
    // A cgroup of its own (one under its container's shares the container's place).
    if (path && basename(path) === this.peaName(id, peaId)) this.options.placement?.placeAt(path);
  }

  /**
   * Removes what of the runtime's belongs to no live container: entries in
   * the runtime's state, supervisors still running for them (conmon, shims),
   * their cgroups (killing what is left inside) and conmon's socket links. A
   * daemon killed half-way through a create or a destroy leaves such things.
   */
  async removeOrphans(live: ReadonlySet<string>): Promise<string[]> {
    const removed = new Set<string>();
    const { oci, cgroups, socketDir } = this.options;
    // A pea's names begin with its container's id.
    const alive = (name: string) => live.has(name.split("-")[0]);
    for (const id of await oci.list().catch(() => [] as string[])) {
      if (alive(id)) continue;
      await oci.forceDelete(id);
      removed.add(id);
    }
    // Ours are the supervisors that drive our runtime with our state root.
    const ourRoot = oci.globalArgs[0];
    for (const { pid, argv } of await processes()) {
      const conmon = argv[0]?.endsWith("conmon") ? argv[argv.indexOf("-c") + 1] : undefined;
      const shim = argv[0] === this.options.shimPath ? argv[argv.indexOf("--container") + 1] : undefined;
      const id = conmon ?? shim;
      if (id === undefined || alive(id) || !argv.includes(ourRoot)) continue;
      signal(pid, "SIGKILL");
      removed.add(id);
    }
    for (const id of await cgroups.ids()) {
      if (alive(id)) continue;
      await cgroups.remove(id);
      removed.add(id);
    }
    for (const name of await readdir(socketDir).catch(() => [] as string[])) {
      if (!live.has(name)) await rm(join(socketDir, name), { force: true, recursive: true });
    }
    return [...removed];
  }

  /** The init's pid file names a live process that is our init, not a pid reused since (after a reboot, say). */
  async isRunning(id: string): Promise<boolean> {
    const pid = await this.initPid(id);
    if (pid === undefined || !(await isAlive(pid))) return false;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    return cmdline.startsWith(`${INIT_PATH_IN_CONTAINER}\0`);
  }

  // A process is not a process group leader in the container (its session
  // is the runtime's), so its children are found in /proc, with the
  // container frozen so none can fork away meanwhile.
  /** Kills a process and what it started, only what is in the given cgroups (those that exist), frozen meanwhile. */
  private async killProcessTree(scopes: string[], pid: number): Promise<void> {
    const cgroups = this.options.cgroups;
    const frozen: string[] = [];
    try {
      const inScope = new Set<number>();
      for (const scope of scopes) {
        const procs = await cgroups.procs(scope).catch(() => undefined);
        if (!procs) continue;
        await cgroups.freeze(scope);
        frozen.push(scope);
        for (const p of await cgroups.procs(scope)) inScope.add(p);
      }
      for (const p of [pid, ...(await descendants(pid))]) if (inScope.has(p)) signal(p, "SIGKILL");
    } finally {
      for (const scope of frozen) await cgroups.thaw(scope).catch(() => {});
    }
  }
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** Resolves once the supervisor of `dir` is gone (or never ran); one that hangs on is killed. */
async function waitSupervisorGone(dir: string, pidName: string): Promise<void> {
  const pidFile = join(dir, pidName);
  const gone = async () => {
    const pid = await readPidFile(pidFile);
    return pid === undefined || !(await isAlive(pid)) ? true : undefined;
  };
  if (await gone()) return;
  try {
    // A supervisor exits a moment after writing its exit file, which no event announces: poll closely.
    await waitFor(dir, gone, { timeoutMs: SUPERVISOR_EXIT_TIMEOUT_MS, pollMs: 2, what: `the supervisor in ${dir}` });
  } catch {
    const pid = await readPidFile(pidFile);
    if (pid !== undefined) signal(pid, "SIGKILL");
  }
}
