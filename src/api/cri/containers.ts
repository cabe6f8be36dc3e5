// The CRI's containers on the core: each is a pea of its sandbox's
// container (its image's root of its own, joining the sandbox's network,
// IPC, UTS and PID namespaces), whose process is the image's Entrypoint and
// Cmd under the pod's command and args. Created is a record only; Start runs
// the pea; its end is read from the process. The record (what the CRI alone
// knows: metadata, labels, annotations, log path, the command, times, how it
// ended) is one property of the sandbox's container per container, so it is
// kept with the sandbox and survives a restart of the daemon.
import { randomBytes } from "node:crypto";
import { status as grpcStatus } from "@grpc/grpc-js";
import { CoreError } from "../../core/errors.js";
import type { BindMountPropagation } from "../../core/interfaces/filesystem.js";
import type { ImageSummary } from "../../core/interfaces/image-store.js";
import type { PeaLimits, ProcessExit } from "../../core/interfaces/runtime.js";
import type { ProcessSpec } from "../../core/process/spec.js";
import type { ContainerService } from "../../core/service/container-service.js";
import type { ContainerMetrics } from "../../core/service/limits.js";
import type { ProcessRef } from "../../core/service/processes.js";
import { runtime } from "../../protocol/gen/cri.js";
import { CriRequestError } from "./errors.js";
import { matchesLabels } from "./labels.js";
import { findImage } from "./image-service.js";
import { containerSecurity, type ContainerSecurity } from "./security-context.js";
import { i64, nanos, u64 } from "./longs.js";
import { containerMetrics, podMetrics } from "./metrics.js";
import type { AttachedProcess } from "./streaming/remote-command.js";
import type { Sandbox, Sandboxes } from "./sandboxes.js";
import v1 = runtime.v1;

const RECORD_PREFIX = "cri.container.";
const PROPAGATION: Record<number, BindMountPropagation> = {
  [v1.MountPropagation.PROPAGATION_PRIVATE]: "private",
  [v1.MountPropagation.PROPAGATION_HOST_TO_CONTAINER]: "host-to-container",
  [v1.MountPropagation.PROPAGATION_BIDIRECTIONAL]: "bidirectional",
};
/** ExecSync's output per stream, as the API caps it (what came last is kept). */
const EXEC_OUTPUT_LIMIT = 16 * 1024 * 1024;
const POLL_MS = 50;

/** What the CRI alone knows of a container. */
export interface ContainerRecord {
  id: string;
  sandboxId: string;
  metadata: { name: string; attempt: number };
  /** As the client named it, with its annotations. */
  image: { image: string; annotations: Record<string, string>; user_specified_image: string };
  /** The store's name for it and its id. */
  imageName: string;
  imageId: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Absolute, or "" when the pod has no log directory. */
  logPath: string;
  command: string[];
  args: string[];
  env: string[];
  workingDir: string;
  /** For the core: a uid, uid:gid or a name; "" for the image's. */
  user: string;
  tty: boolean;
  stdin: boolean;
  /** The first attached client's end of stdin closes the container's. */
  stdinOnce?: boolean;
  /** As the kubelet gave them (echoed in the status). */
  mounts: Array<{
    container_path: string;
    host_path: string;
    readonly: boolean;
    selinux_relabel: boolean;
    propagation: number;
    recursive_read_only?: boolean;
    /** An image volume: the image as the kubelet named it, with its id (image_ref). */
    image?: { image: string; image_ref: string; user_specified_image: string };
    image_sub_path?: string;
  }>;
  /** The store's names of the image volumes' images, by container path. */
  imageVolumes?: Record<string, string>;
  security: ContainerSecurity;
  /** Host devices it gets: where, and what it may do ("rwm"). */
  devices?: Array<{ container_path: string; host_path: string; permissions: string }>;
  /** Memory (bytes), CPU shares and CPU quota and period (microseconds) of its own, as decimal strings; absent: none. */
  limits?: { memoryBytes?: string; cpuShares?: string; cpuQuota?: string; cpuPeriod?: string; cpusetCpus?: string; cpusetMems?: string };
  createdAt: number;
  /** Who its process runs as, once started. */
  resolvedUser?: { uid: number; gid: number; groups: number[] };
  startedAt?: number;
  finishedAt?: number;
  exitCode?: number;
  reason?: string;
}

const notFound = (id: string) => new CriRequestError(`container ${JSON.stringify(id)} not found`, grpcStatus.NOT_FOUND);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exitCode(exit: ProcessExit): number {
  if (exit.kind === "exited") return exit.code;
  if (exit.kind === "signaled") return 128 + exit.signal;
  return 255;
}

/** A container's own memory limit, CPU shares and CPU quota, when the kubelet gives them (0 is "not given"). */
function limitsOf(resources: v1.LinuxContainerResources.$Properties | null | undefined): NonNullable<ContainerRecord["limits"]> {
  const given = {
    memoryBytes: String(resources?.memory_limit_in_bytes ?? 0),
    cpuShares: String(resources?.cpu_shares ?? 0),
    cpuQuota: String(resources?.cpu_quota ?? 0),
    cpuPeriod: String(resources?.cpu_period ?? 0),
  };
  // A negative quota is the API's "no ceiling": none given.
  const numbers = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== "0" && !v.startsWith("-")));
  return {
    ...numbers,
    ...(resources?.cpuset_cpus ? { cpusetCpus: resources.cpuset_cpus } : {}),
    ...(resources?.cpuset_mems ? { cpusetMems: resources.cpuset_mems } : {}),
  };
}

/** The record's limits as the core takes them. */
function peaLimits(limits: ContainerRecord["limits"]): PeaLimits {
  const { cpusetCpus, cpusetMems, ...numbers } = limits ?? {};
  return {
    ...Object.fromEntries(Object.entries(numbers).map(([k, v]) => [k, BigInt(v)])),
    ...(cpusetCpus ? { cpusetCpus } : {}),
    ...(cpusetMems ? { cpusetMems } : {}),
  };
}

/** CPU and memory of one or more cgroups together, as the CRI reports them (zeros for none). */
function usageOf(readings: ContainerMetrics[]): Pick<v1.ContainerStats.$Properties, "cpu" | "memory"> {
  const timestamp = nanos(Date.now());
  const sum = (f: (m: ContainerMetrics) => bigint | undefined) => readings.reduce((n, m) => n + (f(m) ?? 0n), 0n);
  const rss = sum((m) => m.memory.totalRss);
  const usage = rss + sum((m) => m.memory.totalCache) + sum((m) => m.memory.totalSwap);
  const inactiveFile = sum((m) => m.memory.totalInactiveFile);
  return {
    cpu: { timestamp, usage_core_nano_seconds: { value: u64(sum((m) => m.cpu.usage)) } },
    memory: {
      timestamp,
      // What the kubelet evicts on: usage less the file cache it could drop.
      working_set_bytes: { value: u64(usage > inactiveFile ? usage - inactiveFile : 0n) },
      usage_bytes: { value: u64(usage) },
      rss_bytes: { value: u64(rss) },
      page_faults: { value: u64(sum((m) => m.memory.totalPgfault)) },
      major_page_faults: { value: u64(sum((m) => m.memory.totalPgmajfault)) },
    },
  };
}

export interface CriContainersOptions {
  service: ContainerService;
  sandboxes: Sandboxes;
  listImages(): Promise<ImageSummary[]>;
}

export class CriContainers {
  constructor(private readonly options: CriContainersOptions) {}

  private get service(): ContainerService {
    return this.options.service;
  }

  /** Every record, with its sandbox. */
  private all(sandboxId?: string): Array<{ sandbox: Sandbox; record: ContainerRecord }> {
    const sandboxes = sandboxId ? [this.options.sandboxes.find(sandboxId)].filter((s) => s !== undefined) : this.options.sandboxes.all();
    const out: Array<{ sandbox: Sandbox; record: ContainerRecord }> = [];
    for (const sandbox of sandboxes) {
      for (const [key, value] of Object.entries(sandbox.info.properties)) {
        if (key.startsWith(RECORD_PREFIX)) out.push({ sandbox, record: JSON.parse(value) as ContainerRecord });
      }
    }
    return out;
  }

  private find(id: string): { sandbox: Sandbox; record: ContainerRecord } | undefined {
    return id ? this.all().find((e) => e.record.id === id) : undefined;
  }

  private async save(record: ContainerRecord): Promise<void> {
    await this.service.setProperty(record.sandboxId, RECORD_PREFIX + record.id, JSON.stringify(record));
  }

  /**
   * The images of a container's image volumes (read-only mounts of an image's
   * contents, Kubernetes' ImageVolume), checked as the kubelet expects at
   * create: in the store, read-only, the sub-path a directory or file of it.
   */
  private async imageVolumes(mounts: v1.Mount.$Properties[]): Promise<Map<v1.Mount.$Properties, ImageSummary>> {
    const found = new Map<v1.Mount.$Properties, ImageSummary>();
    for (const mnt of mounts) {
      const text = mnt.image?.image;
      if (!text) continue;
      const at = mnt.container_path ?? "";
      if (!at.startsWith("/")) throw new CriRequestError(`the image volume's path ${JSON.stringify(at)} must be absolute`);
      if (mnt.host_path) throw new CriRequestError(`the mount at ${at} names both a host path and an image`);
      if (!mnt.readonly) throw new CriRequestError(`the image volume at ${at} must be read-only`);
      const image = await this.image(text);
      const sub = mnt.image_sub_path;
      if (sub) {
        if (sub.startsWith("/") || sub.split("/").includes("..")) throw new CriRequestError(`image sub-path ${JSON.stringify(sub)} must be relative, inside the image`);
        const kind = await this.service.images.find(image.name, sub);
        if (kind === undefined) throw new CriRequestError(`image ${text} has no ${JSON.stringify(sub)} to mount at ${at}`, grpcStatus.NOT_FOUND);
        if (kind === "symlink") throw new CriRequestError(`image sub-path ${JSON.stringify(sub)} is a symbolic link in ${text}: name what it points to`);
      }
      found.set(mnt, image);
    }
    return found;
  }

  /** The image in the store by any name the client may use (name, tag, id). */
  private async image(text: string): Promise<ImageSummary> {
    const found = findImage(await this.options.listImages(), text);
    if (!found) throw new CriRequestError(`image ${JSON.stringify(text)} is not in the store: pull it first`, grpcStatus.NOT_FOUND);
    return found;
  }

  async create(r: v1.CreateContainerRequest): Promise<string> {
    const sandbox = this.options.sandboxes.get(r.pod_sandbox_id);
    if (sandbox.info.state !== "active") throw new CriRequestError(`pod sandbox ${r.pod_sandbox_id} is not ready`, grpcStatus.FAILED_PRECONDITION);
    const config = r.config;
    if (!config?.metadata?.name) throw new CriRequestError("a container needs its metadata's name");
    const imageText = config.image?.image ?? "";
    if (!imageText) throw new CriRequestError("a container needs an image");
    const name = config.metadata.name;
    const attempt = config.metadata.attempt ?? 0;
    // (name, attempt) is unique in a sandbox for its whole life.
    if (this.all(sandbox.id).some((e) => e.record.metadata.name === name && e.record.metadata.attempt === attempt)) {
      throw new CriRequestError(`a container named ${name} (attempt ${attempt}) is in the sandbox already`, grpcStatus.ALREADY_EXISTS);
    }
    const imageVolumes = await this.imageVolumes(config.mounts ?? []);
    for (const mnt of config.mounts ?? []) {
      // As the kubelet's API says: a recursively read-only mount is read-only and propagates nothing.
      if (mnt.recursive_read_only && (!mnt.readonly || (mnt.propagation ?? 0) !== v1.MountPropagation.PROPAGATION_PRIVATE)) {
        throw new CriRequestError(`the recursively read-only mount at ${mnt.container_path} must be read-only with private propagation`);
      }
    }
    const image = await this.image(imageText);
    const sc = config.linux?.security_context;
    const uid = sc?.run_as_user ? String(sc.run_as_user.value) : "";
    const gid = sc?.run_as_group ? String(sc.run_as_group.value) : "";
    if (gid && !uid && !sc?.run_as_username) throw new CriRequestError("run_as_group needs run_as_user or run_as_username");
    const user = (sc?.run_as_username || uid) + (gid ? `:${gid}` : "");
    const security = containerSecurity(sc, sandbox.record.privileged ?? false, sandbox.record.namespaces);
    const logDir = sandbox.record.logDirectory;
    const record: ContainerRecord = {
      id: randomBytes(32).toString("hex"),
      sandboxId: sandbox.id,
      metadata: { name, attempt },
      image: { image: imageText, annotations: { ...(config.image?.annotations ?? {}) }, user_specified_image: config.image?.user_specified_image ?? "" },
      imageName: image.name,
      imageId: image.id,
      labels: { ...(config.labels ?? {}) },
      annotations: { ...(config.annotations ?? {}) },
      logPath: logDir && config.log_path ? `${logDir.replace(/\/+$/, "")}/${config.log_path}` : "",
      command: [...(config.command ?? [])],
      args: [...(config.args ?? [])],
      env: (config.envs ?? []).map((e) => `${e.key ?? ""}=${e.value ?? ""}`),
      workingDir: config.working_dir ?? "",
      user,
      tty: config.tty ?? false,
      stdin: config.stdin ?? false,
      stdinOnce: config.stdin_once ?? false,
      devices: (config.devices ?? []).map((d) => ({ container_path: d.container_path || d.host_path || "", host_path: d.host_path ?? "", permissions: d.permissions || "rwm" })),
      mounts: (config.mounts ?? []).map((mnt) => {
        const volume = imageVolumes.get(mnt);
        return {
          container_path: mnt.container_path ?? "",
          host_path: mnt.host_path ?? "",
          readonly: mnt.readonly ?? false,
          selinux_relabel: mnt.selinux_relabel ?? false,
          propagation: mnt.propagation ?? v1.MountPropagation.PROPAGATION_PRIVATE,
          ...(mnt.recursive_read_only ? { recursive_read_only: true } : {}),
          ...(volume
            ? {
                image: { image: mnt.image?.image ?? "", image_ref: volume.id, user_specified_image: mnt.image?.user_specified_image ?? "" },
                ...(mnt.image_sub_path ? { image_sub_path: mnt.image_sub_path } : {}),
              }
            : {}),
        };
      }),
      ...(imageVolumes.size
        ? { imageVolumes: Object.fromEntries([...imageVolumes].map(([mnt, image]) => [mnt.container_path ?? "", image.name])) }
        : {}),
      security,
      limits: limitsOf(config.linux?.resources),
      createdAt: Date.now(),
    };
    await this.save(record);
    return record.id;
  }

  async start(id: string): Promise<void> {
    const found = this.find(id);
    if (!found) throw notFound(id);
    const { record } = found;
    if (record.startedAt !== undefined) throw new CriRequestError(`container ${id} was started already`, grpcStatus.FAILED_PRECONDITION);
    const spec: ProcessSpec = {
      id: record.id,
      path: "",
      image: record.imageName,
      fromImage: { entrypoint: record.command, cmd: record.args },
      env: record.env,
      ...(record.workingDir ? { dir: record.workingDir } : {}),
      ...(record.user ? { user: record.user } : {}),
      ...(record.tty ? { tty: { rows: 24, columns: 80 } } : {}),
      ...(record.stdin ? { stdin: { kind: "stream" as const } } : {}),
      ...(record.logPath ? { logFile: record.logPath } : {}),
      imageMounts: (record.mounts ?? [])
        .filter((mnt) => mnt.image)
        .map((mnt) => ({
          image: record.imageVolumes?.[mnt.container_path] ?? mnt.image!.image_ref,
          dstPath: mnt.container_path,
          ...(mnt.image_sub_path ? { subPath: mnt.image_sub_path } : {}),
        })),
      bindMounts: (record.mounts ?? []).filter((mnt) => !mnt.image).map((mnt) => ({
        srcPath: mnt.host_path,
        dstPath: mnt.container_path,
        mode: mnt.readonly ? ("ro" as const) : ("rw" as const),
        propagation: PROPAGATION[mnt.propagation] ?? "private",
        ...(mnt.recursive_read_only ? { recursiveReadOnly: true } : {}),
      })),
      capabilities: record.security.capabilities,
      ...(record.devices?.length ? { devices: record.devices.map((d) => ({ hostPath: d.host_path, containerPath: d.container_path, permissions: d.permissions })) } : {}),
      peaSecurity: record.security.pea,
      groups: record.security.groups,
      ...(record.security.strictGroups ? { groupsPolicy: "strict" as const } : {}),
      allowPrivilegeGain: record.security.allowPrivilegeGain,
      // A cgroup of its own, limited or not, as every Kubernetes container has: its limits can change.
      // Under the kubelet's pod cgroup when it gave one, so the pod's limits hold it.
      limits: peaLimits(record.limits),
      ...(found.sandbox.record.cgroupParent ? { cgroupParent: found.sandbox.record.cgroupParent } : {}),
    };
    record.startedAt = Date.now();
    try {
      const ref = await this.service.run(record.sandboxId, spec);
      const user = ref.peaUser();
      if (user) record.resolvedUser = user;
      await this.save(record);
      void this.watch(ref, record.id);
    } catch (err) {
      // It could not start: an exited container, as the kubelet expects to see it.
      record.finishedAt = Date.now();
      record.exitCode = 128;
      record.reason = "StartError";
      await this.save(record).catch(() => {});
      throw err;
    }
  }

  // The end is written into the record when seen, so it outlives the process table.
  private async watch(ref: ProcessRef, id: string): Promise<void> {
    const result = await ref.wait().catch(() => undefined);
    const outOfMemory = await ref.outOfMemory().catch(() => false);
    const found = this.find(id);
    if (!result || !found || found.record.finishedAt !== undefined) return;
    this.finish(found.record, result.exit, outOfMemory);
    await this.save(found.record).catch(() => {});
  }

  private finish(record: ContainerRecord, exit: ProcessExit, outOfMemory = false): void {
    record.finishedAt = Date.now();
    record.exitCode = exitCode(exit);
    record.reason = outOfMemory ? "OOMKilled" : record.exitCode === 0 ? "Completed" : "Error";
  }

  /** The process of a started container; undefined once forgotten (its end is in the record then). */
  private process(record: ContainerRecord): ProcessRef | undefined {
    try {
      return this.service.process(record.sandboxId, record.id);
    } catch (err) {
      if (err instanceof CoreError && (err.code === "PROCESS_NOT_FOUND" || err.code === "CONTAINER_NOT_FOUND" || err.code === "WRONG_STATE")) return undefined;
      throw err;
    }
  }

  /** Brings the record up to date with its process (a restarted daemon learns ends so). */
  private async current(record: ContainerRecord): Promise<ContainerRecord> {
    if (record.startedAt === undefined || record.finishedAt !== undefined) return record;
    const ref = this.process(record);
    if (ref?.running) return record;
    if (ref) this.finish(record, (await ref.wait()).exit, await ref.outOfMemory().catch(() => false));
    else this.finish(record, { kind: "lost" });
    await this.save(record).catch(() => {});
    return record;
  }

  private state(record: ContainerRecord): v1.ContainerState {
    if (record.startedAt === undefined) return v1.ContainerState.CONTAINER_CREATED;
    if (record.finishedAt === undefined) return v1.ContainerState.CONTAINER_RUNNING;
    return v1.ContainerState.CONTAINER_EXITED;
  }

  /** TERM, then KILL once `timeoutSeconds` have passed (0: KILL at once); a stopped container is left as it is. */
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    const found = this.find(id);
    if (!found) return;
    const ref = this.process(found.record);
    if (!ref?.running) return;
    if (timeoutSeconds > 0) {
      await ref.signal("TERM");
      const deadline = Date.now() + timeoutSeconds * 1000;
      while (ref.running && Date.now() < deadline) await sleep(POLL_MS);
    }
    if (ref.running) {
      await ref.signal("KILL");
      await ref.wait();
    }
    await this.current(found.record);
  }

  async remove(id: string): Promise<void> {
    const found = this.find(id);
    if (!found) return;
    await this.stop(id, 0);
    this.process(found.record)?.forget();
    try {
      await this.service.removeProperty(found.record.sandboxId, RECORD_PREFIX + id);
    } catch (err) {
      if (!(err instanceof CoreError && (err.code === "CONTAINER_NOT_FOUND" || err.code === "PROPERTY_NOT_FOUND"))) throw err;
    }
  }

  /** New resources for a container: kept for its start, applied at once while it runs. */
  async updateResources(id: string, resources: v1.LinuxContainerResources.$Properties | null | undefined): Promise<void> {
    const found = this.find(id);
    if (!found) throw notFound(id);
    const record = await this.current(found.record);
    const changed = limitsOf(resources);
    const ref = this.state(record) === v1.ContainerState.CONTAINER_RUNNING ? this.process(record) : undefined;
    if (ref?.running) await ref.updateLimits(peaLimits(changed));
    record.limits = { ...record.limits, ...changed };
    await this.save(record);
  }

  /** The kubelet moved the log away (rotation): the container writes a new one at its path. */
  async reopenLog(id: string): Promise<void> {
    const found = this.find(id);
    if (!found) throw notFound(id);
    const record = await this.current(found.record);
    const ref = this.state(record) === v1.ContainerState.CONTAINER_RUNNING ? this.process(record) : undefined;
    // A container that does not run gets no new file (the API's rule when refusing).
    if (!ref?.running) throw new CriRequestError(`container ${id} is not running`, grpcStatus.FAILED_PRECONDITION);
    if (!record.logPath) throw new CriRequestError(`container ${id} has no log`, grpcStatus.FAILED_PRECONDITION);
    await ref.reopenLog();
  }

  /** The record of a running container, or the API's error. */
  async running(id: string): Promise<ContainerRecord> {
    const found = this.find(id);
    if (!found) throw notFound(id);
    const record = await this.current(found.record);
    if (this.state(record) !== v1.ContainerState.CONTAINER_RUNNING) {
      throw new CriRequestError(`container ${id} is not running`, grpcStatus.FAILED_PRECONDITION);
    }
    return record;
  }

  /**
   * A command run in the container for a streaming client (Exec): started
   * when the client is there, its output from the start, its exit code the
   * end; killed when the client leaves first.
   */
  async exec(id: string, cmd: string[], options: { tty: boolean; stdin: boolean }): Promise<AttachedProcess> {
    if (cmd.length === 0 || !cmd[0]) throw new CriRequestError("no command to run");
    const record = await this.running(id);
    const ref = await this.service.run(record.sandboxId, {
      path: cmd[0],
      args: cmd.slice(1),
      inPea: record.id,
      ...(options.tty ? { tty: { rows: 24, columns: 80 } } : {}),
      ...(options.stdin ? { stdin: { kind: "stream" as const } } : {}),
      output: { kind: "keep-recent", limit: EXEC_OUTPUT_LIMIT },
      forgetWhenCollected: true,
    });
    return {
      output: async function* (closed) {
        const result = yield* ref.attach(closed);
        return exitCode(result.exit);
      },
      writeStdin: (data) => ref.writeStdin(data),
      closeStdin: () => ref.closeStdin(),
      resize: (size) => ref.resize(size),
      abandon: async () => {
        await ref.signal("KILL");
        await ref.wait();
        ref.forget();
      },
    };
  }

  /**
   * The container's own process for a streaming client (Attach): output from
   * now on, stdin when the container takes it (its end closes the
   * container's with stdin_once); the container runs on when the client leaves.
   */
  async attach(id: string): Promise<AttachedProcess> {
    const record = await this.running(id);
    const ref = this.process(record);
    if (!ref?.running) throw new CriRequestError(`container ${id} is not running`, grpcStatus.FAILED_PRECONDITION);
    return {
      output: async function* (closed) {
        yield* ref.attach(closed, true);
        return undefined;
      },
      writeStdin: async (data) => {
        if (record.stdin && ref.running) await ref.writeStdin(data);
      },
      closeStdin: async () => {
        if (record.stdin && record.stdinOnce) await ref.closeStdin();
      },
      resize: async (size) => {
        if (record.tty) await ref.resize(size);
      },
      abandon: async () => {},
    };
  }

  /** Runs a command in the running container and answers its output and exit code; past `timeout` seconds it is killed. */
  async execSync(r: v1.ExecSyncRequest): Promise<v1.ExecSyncResponse.$Properties> {
    const cmd = r.cmd ?? [];
    if (cmd.length === 0 || !cmd[0]) throw new CriRequestError("no command to run");
    const record = await this.running(r.container_id);
    const ref = await this.service.run(record.sandboxId, {
      path: cmd[0],
      args: cmd.slice(1),
      inPea: record.id,
      output: { kind: "keep-recent", limit: EXEC_OUTPUT_LIMIT },
      forgetWhenCollected: true,
    });
    const timeout = Number(r.timeout);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      if (timeout > 0) timer = setTimeout(() => resolve("expired"), timeout * 1000);
    });
    const output = await Promise.race([ref.collect(), expired]).finally(() => clearTimeout(timer));
    if (output === "expired") {
      await ref.signal("KILL");
      await ref.wait();
      ref.forget();
      throw new CriRequestError(`command timed out after ${timeout}s`, grpcStatus.DEADLINE_EXCEEDED);
    }
    return { stdout: output.stdout, stderr: output.stderr, exit_code: exitCode(output.result.exit) };
  }

  async status(id: string): Promise<v1.ContainerStatus.$Properties> {
    const found = this.find(id);
    if (!found) throw notFound(id);
    const record = await this.current(found.record);
    return {
      id: record.id,
      metadata: record.metadata,
      state: this.state(record),
      created_at: nanos(record.createdAt),
      started_at: nanos(record.startedAt ?? 0),
      finished_at: nanos(record.finishedAt ?? 0),
      exit_code: record.exitCode ?? 0,
      image: record.image,
      image_ref: record.imageId,
      image_id: record.imageId,
      reason: record.reason ?? "",
      message: "",
      labels: record.labels,
      annotations: record.annotations,
      mounts: record.mounts ?? [],
      log_path: record.logPath,
      ...(record.resolvedUser ? { user: { linux: { uid: i64(record.resolvedUser.uid), gid: i64(record.resolvedUser.gid), supplemental_groups: record.resolvedUser.groups.map(i64) } } } : {}),
    };
  }

  /** Usage of one container: its pea's cgroup while it runs, zeros before and after (with the time of asking). */
  private async statsOf(record: ContainerRecord): Promise<v1.ContainerStats.$Properties> {
    const running = record.startedAt !== undefined && record.finishedAt === undefined;
    const metrics = running ? await this.service.peaMetrics(record.id).catch(() => undefined) : undefined;
    return {
      attributes: { id: record.id, metadata: record.metadata, labels: record.labels, annotations: record.annotations },
      ...usageOf(metrics ? [metrics] : []),
    };
  }

  /** A ready pod's usage: its own cgroup's and its running containers' together, its traffic, its processes. */
  async podStats(sandboxId: string): Promise<v1.PodSandboxStats.$Properties> {
    const sandbox = this.options.sandboxes.get(sandboxId);
    const timestamp = nanos(Date.now());
    const containers: v1.ContainerStats.$Properties[] = [];
    const readings: ContainerMetrics[] = [];
    const own = sandbox.info.state === "active" ? await this.service.metrics(sandbox.id).catch(() => undefined) : undefined;
    if (own) readings.push(own);
    for (const { record } of this.all(sandbox.id)) {
      const current = await this.current(record);
      if (current.finishedAt !== undefined || current.startedAt === undefined) continue;
      const metrics = await this.service.peaMetrics(current.id).catch(() => undefined);
      if (metrics) readings.push(metrics);
      containers.push(await this.statsOf(current));
    }
    const traffic = sandbox.info.state === "active" ? await this.service.traffic(sandbox.id).catch(() => undefined) : undefined;
    const m = sandbox.record.metadata;
    return {
      attributes: { id: sandbox.id, metadata: m, labels: sandbox.record.labels, annotations: sandbox.record.annotations },
      linux: {
        ...usageOf(readings),
        ...(traffic
          ? {
              network: {
                timestamp,
                default_interface: { name: "eth0", rx_bytes: { value: u64(traffic.rxBytes) }, rx_errors: { value: u64(traffic.rxErrors) }, tx_bytes: { value: u64(traffic.txBytes) }, tx_errors: { value: u64(traffic.txErrors) } },
                interfaces: [],
              },
            }
          : {}),
        process: { timestamp, process_count: { value: u64(readings.reduce((n, r) => n + r.pids, 0)) } },
        containers,
      },
    };
  }

  async listPodStats(filter: v1.PodSandboxStatsFilter.$Properties | null | undefined): Promise<v1.PodSandboxStats.$Properties[]> {
    const out: v1.PodSandboxStats.$Properties[] = [];
    for (const sandbox of this.options.sandboxes.all()) {
      if (filter?.id && sandbox.id !== filter.id) continue;
      if (!matchesLabels(sandbox.record.labels, filter?.label_selector)) continue;
      out.push(await this.podStats(sandbox.id));
    }
    return out;
  }

  async stats(id: string): Promise<v1.ContainerStats.$Properties> {
    const found = this.find(id);
    if (!found) throw notFound(id);
    return this.statsOf(await this.current(found.record));
  }

  async listStats(filter: v1.ContainerStatsFilter.$Properties | null | undefined): Promise<v1.ContainerStats.$Properties[]> {
    const out: v1.ContainerStats.$Properties[] = [];
    for (const { record } of this.all(filter?.pod_sandbox_id || undefined)) {
      if (filter?.id && record.id !== filter.id) continue;
      if (!matchesLabels(record.labels, filter?.label_selector)) continue;
      out.push(await this.statsOf(await this.current(record)));
    }
    return out;
  }

  /** Every ready pod's metrics: its traffic, and its running containers' usage. */
  async podSandboxMetrics(): Promise<v1.PodSandboxMetrics.$Properties[]> {
    const out: v1.PodSandboxMetrics.$Properties[] = [];
    for (const sandbox of this.options.sandboxes.all()) {
      if (sandbox.info.state !== "active") continue;
      const pod = { name: sandbox.record.metadata.name, namespace: sandbox.record.metadata.namespace };
      const traffic = await this.service.traffic(sandbox.id).catch(() => undefined);
      const container_metrics: v1.ContainerMetrics.$Properties[] = [];
      for (const { record } of this.all(sandbox.id)) {
        if (record.startedAt === undefined || record.finishedAt !== undefined) continue;
        const usage = await this.service.peaDetail(record.id).catch(() => undefined);
        if (!usage) continue;
        const sample = { id: record.id, name: record.metadata.name, image: record.image.image, pod, startedAt: record.startedAt, usage, oomKills: usage.oomKills };
        container_metrics.push({ container_id: record.id, metrics: containerMetrics(sample) });
      }
      out.push({ pod_sandbox_id: sandbox.id, metrics: podMetrics(pod, traffic), container_metrics });
    }
    return out;
  }

  async list(filter: v1.ContainerFilter.$Properties | null | undefined): Promise<v1.Container.$Properties[]> {
    const out: v1.Container.$Properties[] = [];
    for (const { record: stored } of this.all(filter?.pod_sandbox_id || undefined)) {
      if (filter?.id && stored.id !== filter.id) continue;
      const record = await this.current(stored);
      const state = this.state(record);
      if (filter?.state && filter.state.state !== state) continue;
      if (!matchesLabels(record.labels, filter?.label_selector)) continue;
      out.push({
        id: record.id,
        pod_sandbox_id: record.sandboxId,
        metadata: record.metadata,
        image: record.image,
        image_ref: record.imageId,
        image_id: record.imageId,
        state,
        created_at: nanos(record.createdAt),
        labels: record.labels,
        annotations: record.annotations,
      });
    }
    return out;
  }
}
