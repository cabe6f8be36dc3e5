// The Runtime of the core on Linux: an OCI bundle of ours, run by crun or
// runc under conmon, with catatonit as PID 1, and jobs exec'd beside it.
//
// Per container, in its depot directory:
//   bundle/config.json   the OCI spec
//   run/                 the init's conmon: pid, conmon.pid, sync, exit, oom
//   jobs/<job id>/       a job's conmon: process.json, script, stdout, stderr, pid, exit
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errors, WardenError } from "../../core/errors.js";
import type {
  ContainerSpec,
  Depot,
  JobMeta,
  JobProcess,
  JobSpec,
  RecoveredJob,
  Runtime,
  StopSignal,
} from "../../core/interfaces.js";
import type { ContainerCgroups } from "../cgroups/cgroups.js";
import { descendants, isAlive, processes, readPidFile, signal } from "../process.js";
import { readHardLimits, type HardLimits } from "../rlimits.js";
import type { IdMap } from "../security/id-map.js";
import type { OciSeccomp } from "../security/seccomp.js";
import { waitFor } from "../wait-for.js";
import { buildBundle, INIT_PATH_IN_CONTAINER } from "./bundle.js";
import { Conmon, ConmonError } from "./conmon.js";
import { ConmonJob } from "./conmon-job.js";
import { jobProcess } from "./job-process.js";
import type { OciRuntimeCli } from "./oci-runtime.js";
import { specJson } from "./oci-spec.js";

export interface LinuxRuntimeOptions {
  depot: Depot;
  oci: OciRuntimeCli;
  conmon: Conmon;
  cgroups: ContainerCgroups;
  cgroupParent: string;
  initPath: string;
  socketDir: string;
  /** A character device 1:3 of our own: runtimes chown a job's stdio, so /dev/null itself must never be passed. */
  nullDevice: string;
  pidsLimit: number;
  copyHelperPath?: string;
  /** The user namespace of containers; none (container root is host root) when absent. */
  idMap?: IdMap;
  idmappedBindMounts?: boolean;
  seccomp?: OciSeccomp;
  /**
   * crun only: the runtime compiles the filter (about 25 ms) for every
   * container. The first container's compiled filter (crun leaves it in its
   * state directory) is handed to the rest ready-made.
   */
  reuseCompiledSeccomp?: boolean;
}

const SUPERVISOR_EXIT_TIMEOUT_MS = 10_000;
const JOB_META = "job.json";

export function containerPaths(dir: string) {
  return { bundle: join(dir, "bundle"), run: join(dir, "run"), jobs: join(dir, "jobs") };
}

export class LinuxRuntime implements Runtime {
  private readonly hardLimits: HardLimits = readHardLimits();
  /** The filter crun compiled from options.seccomp, base64, once a container has been made with it. */
  private compiledSeccomp: string | undefined;

  constructor(private readonly options: LinuxRuntimeOptions) {}

  private paths(id: string) {
    return containerPaths(this.options.depot.path(id));
  }

  async create(spec: ContainerSpec, rootfsPath: string): Promise<void> {
    const paths = this.paths(spec.id);
    await mkdir(paths.bundle, { recursive: true });
    await mkdir(paths.run, { recursive: true });
    await mkdir(paths.jobs, { recursive: true });
    const bundle = buildBundle({
      id: spec.id,
      rootfsPath,
      bindMounts: spec.bindMounts,
      cgroupParent: this.options.cgroupParent,
      initPath: this.options.initPath,
      namespaces: spec.namespaces,
      pidsLimit: this.options.pidsLimit,
      copyHelperPath: this.options.copyHelperPath,
      idMap: this.options.idMap,
      idmappedBindMounts: this.options.idmappedBindMounts,
      seccomp: this.options.seccomp,
      compiledSeccomp: this.compiledSeccomp,
    });
    await writeFile(join(paths.bundle, "config.json"), specJson(bundle));
    try {
      await this.options.conmon.createContainer(spec.id, paths.bundle, paths.run);
      await this.options.oci.start(spec.id);
    } catch (err) {
      throw errors.commandFailed(err instanceof Error ? err.message : String(err));
    }
    if (this.options.seccomp && this.options.reuseCompiledSeccomp && this.compiledSeccomp === undefined) {
      await this.keepCompiledSeccomp(spec.id);
    }
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

  async destroy(id: string): Promise<void> {
    const paths = this.paths(id);
    await this.options.oci.forceDelete(id);
    // Every supervisor sees its process die and records the exit; wait for
    // them so no conmon is left writing into a directory we remove next.
    const supervised = [paths.run, ...(await listDirs(paths.jobs))];
    await Promise.all(supervised.map((dir) => waitSupervisorGone(dir)));
    await rm(join(this.options.socketDir, id), { force: true });
  }

  async signalAll(id: string, sig: StopSignal): Promise<void> {
    const init = await readPidFile(join(this.paths(id).run, "pid"));
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
    const init = await readPidFile(join(this.paths(id).run, "pid"));
    return (await this.options.cgroups.procs(id)).filter((p) => p !== init).length;
  }

  async spawn(id: string, job: JobSpec, meta: JobMeta): Promise<JobProcess> {
    const process = jobProcess(job, this.hardLimits);
    const dir = join(this.paths(id).jobs, String(job.jobId));
    await mkdir(dir);
    await writeFile(join(dir, "process.json"), specJson(process));
    await writeFile(join(dir, "script"), job.script);
    // For a restarted daemon. A daemon's death leaves the page cache be, so no fsync is needed here.
    await writeFile(join(dir, JOB_META), JSON.stringify(meta));
    const out = job.discardOutput ? this.options.nullDevice : join(dir, "stdout");
    const err = job.discardOutput ? this.options.nullDevice : join(dir, "stderr");
    try {
      await this.options.conmon.exec(id, dir, { stdin: join(dir, "script"), stdout: out, stderr: err });
    } catch (e) {
      if (e instanceof WardenError) throw e;
      throw errors.spawnFailed(e instanceof ConmonError ? e.message : String(e));
    }
    return this.attach(id, dir, job.discardOutput);
  }

  private attach(id: string, dir: string, discardOutput: boolean): ConmonJob {
    return new ConmonJob(
      dir,
      {
        stdout: discardOutput ? undefined : join(dir, "stdout"),
        stderr: discardOutput ? undefined : join(dir, "stderr"),
      },
      (pid) => this.killJobTree(id, pid),
    );
  }

  /**
   * Removes what of the runtime's belongs to no live container: entries in
   * the runtime's state, supervisors (conmon) still running for them, their
   * cgroups (killing what is left inside) and conmon's socket links. A daemon
   * killed half-way through a create or a destroy leaves such things.
   */
  async removeOrphans(live: ReadonlySet<string>): Promise<string[]> {
    const removed = new Set<string>();
    const { oci, cgroups, socketDir } = this.options;
    for (const id of await oci.list().catch(() => [] as string[])) {
      if (live.has(id)) continue;
      await oci.forceDelete(id);
      removed.add(id);
    }
    // Ours are the supervisors that drive our runtime with our state root.
    const ourRoot = oci.globalArgs[0];
    for (const { pid, argv } of await processes()) {
      if (!argv[0]?.endsWith("conmon") || !argv.includes(ourRoot)) continue;
      const id = argv[argv.indexOf("-c") + 1];
      if (id === undefined || live.has(id)) continue;
      signal(pid, "SIGKILL");
      removed.add(id);
    }
    for (const id of await cgroups.ids()) {
      if (live.has(id)) continue;
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
    const pid = await readPidFile(join(this.paths(id).run, "pid"));
    if (pid === undefined || !(await isAlive(pid))) return false;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    return cmdline.startsWith(`${INIT_PATH_IN_CONTAINER}\0`);
  }

  async jobs(id: string): Promise<RecoveredJob[]> {
    const found: RecoveredJob[] = [];
    for (const dir of await listDirs(this.paths(id).jobs)) {
      const jobId = Number(dir.split("/").pop());
      if (!Number.isSafeInteger(jobId)) continue;
      let meta: JobMeta;
      try {
        meta = JSON.parse(await readFile(join(dir, JOB_META), "utf8")) as JobMeta;
      } catch {
        // Made but never started (the daemon died in between): nothing to find.
        await rm(dir, { recursive: true, force: true });
        continue;
      }
      found.push({ jobId, meta, process: this.attach(id, dir, meta.discardOutput) });
    }
    return found;
  }

  // A job is not a process group leader in the container (its session is
  // the supervisor's), so its children are found in /proc, with the
  // container frozen so none can fork away meanwhile.
  private async killJobTree(id: string, pid: number): Promise<void> {
    const cgroups = this.options.cgroups;
    await cgroups.freeze(id);
    try {
      const inContainer = new Set(await cgroups.procs(id));
      for (const p of [pid, ...(await descendants(pid))]) if (inContainer.has(p)) signal(p, "SIGKILL");
    } finally {
      await cgroups.thaw(id);
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

/** Resolves once the conmon of `dir` is gone (or never ran); one that hangs on is killed. */
async function waitSupervisorGone(dir: string): Promise<void> {
  const pidFile = join(dir, "conmon.pid");
  const gone = async () => {
    const pid = await readPidFile(pidFile);
    return pid === undefined || !(await isAlive(pid)) ? true : undefined;
  };
  if (await gone()) return;
  try {
    // conmon exits a moment after writing its exit file, which no event announces: poll closely.
    await waitFor(dir, gone, { timeoutMs: SUPERVISOR_EXIT_TIMEOUT_MS, pollMs: 2, what: `the supervisor in ${dir}` });
  } catch {
    const pid = await readPidFile(pidFile);
    if (pid !== undefined) signal(pid, "SIGKILL");
  }
}
