// Starting processes in containers, finding them again by id, and
// forgetting them. Each process is numbered by a counter kept on disk a
// block at a time, so a restarted daemon never gives a number twice; an id
// the client did not choose is that number.
import type { Container, ContainerEvent, ContainerInfo } from "../container/container.js";
import { errors } from "../errors.js";
import type { ContainerCapabilities, PeaLimits, ProcessLaunch, RecoveredProcess, ResolvedUser, Signal, StdinMode, WindowSize } from "../interfaces/runtime.js";
import { parseImageReference } from "../images/reference.js";
import type { ImageMountLayers, RootfsBase } from "../interfaces/filesystem.js";
import type { ImageConfig } from "../interfaces/image-store.js";
import { completeEnv, mergeEnv } from "../process/environment.js";
import { resolveUser } from "../process/users.js";
import { Process, type CollectedOutput, type OutputChunk, type ProcessResult } from "../process/process.js";
import { checkPeaLimits, checkProcessSpec, type OutputPolicy, type ProcessSpec } from "../process/spec.js";
import type { ServiceContext } from "./context.js";
import type { UserLookup } from "./users.js";

const SEQ_COUNTER = "process-seq";

/** What a pea from an image runs: its Entrypoint and Cmd, each replaced when the spec says (entrypoint drops Cmd). */
function commandFromImage(
  over: NonNullable<ProcessSpec["fromImage"]>,
  config: ImageConfig | undefined,
  image: string,
): { path: string; args: string[] } {
  const entrypoint = over.entrypoint?.length ? over.entrypoint : (config?.entrypoint ?? []);
  const cmd = over.cmd?.length ? over.cmd : over.entrypoint?.length ? [] : (config?.cmd ?? []);
  const argv = [...entrypoint, ...cmd];
  if (argv.length === 0) throw errors.invalid(`image ${image} names no command to run, and none was given`);
  return { path: argv[0], args: argv.slice(1) };
}
const SEQ_BLOCK = 1000;

/** What is kept beside a process for a restarted daemon. */
type ProcessMeta = {
  id: string;
  output: OutputPolicy;
  logTag?: string;
  forgetWhenCollected?: boolean;
  stdinStream?: boolean;
  /** A pea's id in its container. */
  pea?: string;
  /** What a process started inside the pea takes from it, for a restarted daemon. */
  peaRun?: PeaRun;
};

type PeaRun = { user: ResolvedUser; env: string[]; dir: string; capabilities?: ContainerCapabilities; ownLimits: boolean; imageVolumes?: number };

function isMeta(value: Record<string, unknown>): value is Record<string, unknown> & ProcessMeta {
  const output = value.output as { kind?: unknown } | undefined;
  return typeof value.id === "string" && !!output && typeof output.kind === "string";
}

/** Who holds a pea's image in the store. */
function peaHolder(c: Container, peaId: string): string {
  return `${c.id}-${peaId}`;
}

/** Who holds the image of a pea's image volume `n`. */
function imageVolumeHolder(c: Container, peaId: string, n: number): string {
  return `${peaHolder(c, peaId)}.v${n}`;
}

/** Every hold a pea has: its root's image and its image volumes'. */
function peaHolders(c: Container, peaId: string, imageVolumes: number): string[] {
  return [peaHolder(c, peaId), ...Array.from({ length: imageVolumes }, (_, n) => imageVolumeHolder(c, peaId, n))];
}

/** A client's hold on one process of a container. */
export class ProcessRef {
  constructor(
    private readonly service: ProcessService,
    readonly container: Container,
    readonly process: Process,
  ) {}

  get id(): string {
    return this.process.id;
  }

  get running(): boolean {
    return this.process.running;
  }

  /** Kept output (none `fromNow`), then live output, then the end. A completed wait forgets a process run to be forgotten so. */
  async *attach(closed?: AbortSignal, fromNow = false): AsyncGenerator<OutputChunk, ProcessResult> {
    const result = yield* this.process.attach(closed, fromNow);
    this.service.collected(this.container, this.process);
    return result;
  }

  /** The end with all kept output; the client leaving (`closed`) ends the wait with an AbortError, the process stays. */
  async collect(closed?: AbortSignal): Promise<CollectedOutput> {
    const output = await untilAborted(this.process.collect(), closed);
    this.service.collected(this.container, this.process);
    return output;
  }

  wait(closed?: AbortSignal): Promise<ProcessResult> {
    return untilAborted(this.process.finished, closed);
  }

  writeStdin(data: Buffer): Promise<void> {
    if (!this.process.hasStdinStream) throw errors.invalid(`process ${this.id} takes no standard input stream`);
    return this.process.writeStdin(data);
  }

  closeStdin(): Promise<void> {
    if (!this.process.hasStdinStream) return Promise.resolve();
    return this.process.closeStdin();
  }

  async signal(signal: Signal): Promise<void> {
    if (this.process.running) await this.process.signal(signal);
  }

  async resize(size: WindowSize): Promise<void> {
    if (this.process.running) await this.process.resize(size);
  }

  /** Its log file is opened again at its path (rotation); only while it runs. */
  async reopenLog(): Promise<void> {
    if (!this.process.running) throw errors.wrongState(["running"], "ended");
    await this.process.reopenLog();
  }

  /** Changes a running pea's own limits (what is given; the rest stay). */
  async updateLimits(limits: PeaLimits): Promise<void> {
    await this.service.updatePeaLimits(this.process, limits);
  }

  /** Who a pea runs as (uid, gid, every group it holds); undefined for a process that is no pea. */
  peaUser(): { uid: number; gid: number; groups: number[] } | undefined {
    const user = this.service.peaUser(this.process);
    return user && { uid: user.uid, gid: user.gid, groups: [...user.groups] };
  }

  /** For a pea with limits of its own: whether the kernel killed in it for memory (known once it ended and its cgroup was read). */
  async outOfMemory(): Promise<boolean> {
    return (await this.service.peaEnd(this.process))?.outOfMemory ?? false;
  }

  /** An ended process leaves the table (its files go once nobody reads them); a running one stays. */
  forget(): void {
    if (!this.process.running && this.container.processes.get(this.id) === this.process) this.service.forget(this.container, this.process);
  }

  /** The container as it is now, or as it was when destroyed. */
  containerInfo(): ContainerInfo {
    return this.container.info();
  }

  /** Records an event on the container (a front end's reading of the process's end); nothing once destroyed. */
  async recordEvent(event: ContainerEvent): Promise<void> {
    await this.service.recordEvent(this.container, event);
  }
}

/** Rejects with an AbortError when `signal` aborts first. */
function untilAborted<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new DOMException("the client went away", "AbortError"));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DOMException("the client went away", "AbortError"));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

export class ProcessService {
  private lastSeq = 0;
  private seqReserved = 0;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly users: UserLookup,
  ) {}

  /** How peas started by this daemon ended, once what they left is gone. */
  private readonly peaEnds = new WeakMap<Process, Promise<{ outOfMemory: boolean }>>();

  async updatePeaLimits(process: Process, limits: PeaLimits): Promise<void> {
    const pea = this.peas.get(process);
    if (!pea || !process.running) throw errors.wrongState(["running"], "ended");
    if (!pea.ownLimits) throw errors.invalid(`pea ${process.id} shares its container's limits: it has none of its own to change`);
    checkPeaLimits(limits);
    const cgroup = this.ctx.deps.runtime.peaCgroup(pea.container.id, pea.peaId, true);
    const { limits: cgroups } = this.ctx.deps;
    if (limits.memoryBytes !== undefined) await cgroups.setMemoryLimit(cgroup, limits.memoryBytes);
    if (limits.cpuShares !== undefined) await cgroups.setCpuShares(cgroup, limits.cpuShares);
    if (limits.cpuQuota !== undefined) await cgroups.setCpuQuota(cgroup, limits.cpuQuota, limits.cpuPeriod || 100_000n);
    if (limits.cpusetCpus !== undefined || limits.cpusetMems !== undefined) await cgroups.setCpuset(cgroup, limits.cpusetCpus, limits.cpusetMems);
    this.ctx.logFor(pea.container).info({ process: process.id, pea: pea.peaId, limits: Object.fromEntries(Object.entries(limits).map(([k, v]) => [k, String(v)])) }, "pea limits changed");
  }

  peaUser(process: Process): ResolvedUser | undefined {
    return this.peas.get(process)?.user;
  }

  /** A pea's end (undefined for a process that is no pea of this daemon's). */
  peaEnd(process: Process): Promise<{ outOfMemory: boolean }> | undefined {
    return this.peaEnds.get(process);
  }

  /** Peas running: for their metrics, and for processes started in them (as their user, with their environment). */
  private readonly peas = new Map<
    Process,
    { container: Container; peaId: string; ownLimits: boolean; user: ResolvedUser; env: string[]; dir: string; capabilities?: ContainerCapabilities; imageVolumes: number }
  >();

  async run(c: Container, spec: ProcessSpec): Promise<ProcessRef> {
    checkProcessSpec(spec);
    if (spec.id !== undefined && c.processes.isRunning(spec.id)) throw errors.processIdTaken(spec.id);
    if (spec.image !== undefined) return this.runPea(c, spec);
    if (spec.inPea !== undefined) return this.runInPea(c, spec, spec.inPea);
    // What the image says (User, WorkingDir, Env) is the default under what the process asks for.
    const image = c.image?.config;
    const dir = spec.dir || image?.workingDir;
    const user = await this.users.resolveForProcess(c, spec.user ?? image?.user ?? "root", dir);
    // Resolving may have waited on the container: it must still take processes.
    c.assertState("active");
    if (spec.id !== undefined && c.processes.isRunning(spec.id)) throw errors.processIdTaken(spec.id);
    let seq = await this.nextSeq();
    // A client may have chosen the number a later process gets as its id.
    while (spec.id === undefined && c.processes.isRunning(String(seq))) seq = await this.nextSeq();
    const launch = this.launchOf(c, spec, seq, user, { env: mergeEnv(image?.env ?? [], c.env, spec.env ?? []), dir: dir || user.home });
    const handle = await this.ctx.deps.runtime.startProcess(c.id, launch);
    const { meta } = launch;
    const id = meta.id;
    const process = this.adopt(c, seq, meta, handle, false);
    const log = this.ctx.logFor(c);
    log.debug({ process: id, path: spec.path, user: user.name }, "process started");
    void process.finished.then((result) => log.debug({ process: id, exit: result.exit }, "process ended"));
    return new ProcessRef(this, c, process);
  }

  /**
   * A pea: the process on a root of its own (a directory or an image),
   * sharing the container's namespaces but the mount one. It runs as root in
   * "/" unless told otherwise, its user found in its own root's accounts;
   * what it made goes when it ends.
   */
  private async runPea(c: Container, spec: ProcessSpec): Promise<ProcessRef> {
    const { deps } = this.ctx;
    const ref = parseImageReference(spec.image!);
    if ((spec.peaSecurity?.pidNamespace === "host" || spec.peaSecurity?.ipcNamespace === "host") && !c.privileged) {
      throw errors.invalid("only a container without a user namespace may have peas in the host's PID or IPC namespace");
    }
    if (ref.kind !== "directory" && !deps.images) throw errors.invalid(`image ${spec.image} names an image, and this daemon keeps no images`);
    let seq = await this.nextSeq();
    while (spec.id === undefined && c.processes.isRunning(String(seq))) seq = await this.nextSeq();
    const id = spec.id ?? String(seq);
    const peaId = `p${seq}`;
    const holder = peaHolder(c, peaId);
    const undo: Array<() => Promise<void>> = [];
    // A container with a user namespace of its own sees images kept with the host's ids, through its map.
    const unshifted = c.privileged || c.idMap !== undefined;
    try {
      let base: RootfsBase = { kind: "directory", path: ref.kind === "directory" ? ref.path : "" };
      let config: ImageConfig | undefined;
      if (ref.kind !== "directory") {
        undo.push(() => deps.images!.release(holder));
        const image = await deps.images!.acquire(ref, holder, { credentials: spec.imageCredentials, privileged: unshifted });
        base = { kind: "layers", layers: image.layers };
        config = image.config;
      }
      if (spec.fromImage) spec = { ...spec, ...commandFromImage(spec.fromImage, config, spec.image!) };
      const imageMounts: ImageMountLayers[] = [];
      for (const [n, m] of (spec.imageMounts ?? []).entries()) {
        const mounted = parseImageReference(m.image);
        if (mounted.kind === "directory" || !deps.images) throw errors.invalid(`image mount at ${m.dstPath}: ${m.image} names no image of the store`);
        const volumeHolder = imageVolumeHolder(c, peaId, n);
        undo.push(() => deps.images!.release(volumeHolder));
        const image = await deps.images.acquire(mounted, volumeHolder, { credentials: spec.imageCredentials, privileged: unshifted });
        imageMounts.push({ layers: image.layers, dstPath: m.dstPath, ...(m.subPath ? { subPath: m.subPath } : {}) });
      }
      await deps.filesystem.check({ base, bindMounts: spec.bindMounts ?? [] });
      for (const m of spec.bindMounts ?? []) {
        if (m.recursiveReadOnly && (m.mode !== "ro" || (m.propagation ?? "private") !== "private")) {
          throw errors.invalid(`the recursively read-only mount at ${m.dstPath} must be read-only and propagate nothing`);
        }
      }
      // Mounts made inside reach the host: only root of the host may do that.
      if (spec.bindMounts?.some((m) => m.propagation === "bidirectional") && !(c.privileged && spec.peaSecurity?.privileged)) {
        throw errors.invalid("a bind mount propagating both ways needs a privileged pea in a privileged container");
      }
      undo.push(() => deps.filesystem.removePea(c.id, peaId));
      const root = await deps.filesystem.preparePea({
        containerId: c.id,
        peaId,
        base,
        privileged: c.privileged,
        ...(c.idMap ? { idMap: c.idMap } : {}),
        bindMounts: spec.bindMounts ?? [],
        ...(imageMounts.length ? { imageMounts } : {}),
      });
      const image = spec.fromImage ? config : undefined;
      const user = resolveUser(spec.user || image?.user || "root", root.passwd, root.group);
      c.assertState("active");
      if (spec.id !== undefined && c.processes.isRunning(spec.id)) throw errors.processIdTaken(spec.id);
      const launch = this.launchOf(c, spec, seq, user, { env: mergeEnv(image?.env ?? [], c.env, spec.env ?? []), dir: spec.dir || image?.workingDir || "/", pea: peaId });
      const { meta } = launch;
      const imageVolumes = imageMounts.length;
      meta.peaRun = { user: launch.user, env: launch.env, dir: launch.dir, capabilities: launch.capabilities, ownLimits: spec.limits !== undefined, ...(imageVolumes ? { imageVolumes } : {}) };
      undo.push(() => deps.runtime.removePea(c.id, peaId));
      const handle = await deps.runtime.startPea(c.id, launch, {
        id: peaId,
        rootfsPath: root.rootfsPath,
        limits: spec.limits,
        ...(spec.cgroupParent ? { cgroupParent: spec.cgroupParent } : {}),
        ...(root.bindMounts.length ? { bindMounts: root.bindMounts } : {}),
        ...(spec.devices?.length ? { devices: spec.devices } : {}),
        ...(spec.peaSecurity ? { security: spec.peaSecurity } : {}),
      });
      const process = this.adopt(c, seq, meta, handle, false);
      this.peas.set(process, { container: c, peaId, ownLimits: spec.limits !== undefined, user: launch.user, env: launch.env, dir: launch.dir, capabilities: launch.capabilities, imageVolumes });
      const log = this.ctx.logFor(c);
      log.debug({ process: id, pea: peaId, image: spec.image }, "pea started");
      const cgroup = deps.runtime.peaCgroup(c.id, peaId, spec.limits !== undefined);
      this.peaEnds.set(
        process,
        process.finished.then(async () => {
          this.peas.delete(process);
          // Read before its cgroup goes: whether the kernel killed in it for memory.
          const outOfMemory = spec.limits !== undefined && (await deps.limits.oomKills(cgroup).catch(() => 0)) > 0;
          // What the pea made goes with it, the container stays.
          await this.removePea(c, peaId, imageVolumes);
          return { outOfMemory };
        }),
      );
      return new ProcessRef(this, c, process);
    } catch (err) {
      for (const step of undo.reverse()) await step().catch(() => {});
      throw err;
    }
  }

  /** A process in a running pea: on its root, as its user, its environment under the spec's. */
  private async runInPea(c: Container, spec: ProcessSpec, peaProcessId: string): Promise<ProcessRef> {
    const pea = [...this.peas].find(([p, info]) => info.container === c && p.id === peaProcessId && p.running)?.[1];
    if (!pea) {
      if (!c.processes.get(peaProcessId)) throw errors.processNotFound(peaProcessId);
      throw errors.wrongState(["running"], "ended");
    }
    if (spec.user) throw errors.invalid("a process in a pea runs as the pea's user");
    const user = pea.user;
    let seq = await this.nextSeq();
    while (spec.id === undefined && c.processes.isRunning(String(seq))) seq = await this.nextSeq();
    const launch = this.launchOf(c, { capabilities: pea.capabilities, ...spec }, seq, user, { env: mergeEnv(pea.env, spec.env ?? []), dir: spec.dir || pea.dir });
    const handle = await this.ctx.deps.runtime.execInPea(c.id, pea.peaId, launch);
    const process = this.adopt(c, seq, launch.meta, handle, false);
    this.ctx.logFor(c).debug({ process: process.id, pea: pea.peaId, path: spec.path }, "process started in a pea");
    return new ProcessRef(this, c, process);
  }

  /** What the runtime is asked to start, and what is kept of it for a restarted daemon. */
  private launchOf(
    c: Container,
    spec: ProcessSpec,
    seq: number,
    user: ResolvedUser,
    where: { env: string[]; dir: string; pea?: string },
  ): ProcessLaunch & { meta: ProcessMeta } {
    const output = spec.output ?? { kind: "keep-recent", limit: this.ctx.config.outputLimit };
    if (spec.groupsPolicy === "strict") user = { ...user, groups: user.groups.includes(user.gid) ? [user.gid] : [] };
    if (spec.groups?.length) user = { ...user, groups: [...new Set([...user.groups, ...spec.groups])] };
    const stdin: StdinMode = spec.stdin ?? { kind: "none" };
    const meta: ProcessMeta = {
      id: spec.id ?? String(seq),
      output,
      logTag: spec.logTag,
      forgetWhenCollected: spec.forgetWhenCollected,
      stdinStream: stdin.kind === "stream",
      ...(where.pea ? { pea: where.pea } : {}),
    };
    return {
      seq,
      path: spec.path,
      args: spec.args ?? [],
      env: completeEnv(where.env, user),
      dir: where.dir,
      user,
      rlimits: spec.rlimits ?? {},
      tty: spec.tty,
      stdin,
      discardOutput: output.kind === "discard",
      meta,
      capabilities: spec.capabilities ?? c.capabilities,
      ...(spec.logFile ? { logFile: spec.logFile } : {}),
      ...(spec.allowPrivilegeGain ? { allowPrivilegeGain: true } : {}),
    };
  }

  /** The pea a process id names, in any container: Garden asks for a pea's metrics by it. */
  pea(processId: string): { container: Container; cgroup: string; peaId: string } | undefined {
    for (const [process, pea] of this.peas) {
      if (process.id === processId && process.running) {
        return { container: pea.container, peaId: pea.peaId, cgroup: this.ctx.deps.runtime.peaCgroup(pea.container.id, pea.peaId, pea.ownLimits) };
      }
    }
    return undefined;
  }

  /** A process of the container by id. */
  find(c: Container, id: string): ProcessRef {
    const process = c.processes.get(id);
    if (!process) throw errors.processNotFound(id);
    return new ProcessRef(this, c, process);
  }

  private adopt(
    c: Container,
    seq: number,
    meta: ProcessMeta,
    handle: RecoveredProcess["handle"],
    recovered: boolean,
  ): Process {
    const sink = this.ctx.deps.processLog;
    const process = new Process(meta.id, seq, handle, {
      output: meta.output,
      log: meta.logTag !== undefined && sink ? sink.open(meta.logTag) : undefined,
      logFromNow: recovered,
      logger: this.ctx.logFor(c),
      forgetWhenCollected: meta.forgetWhenCollected,
      stdinStream: meta.stdinStream,
    });
    for (const dropped of c.processes.add(process)) this.forget(c, dropped);
    return process;
  }

  /** Takes back the processes a recovered container has; returns the highest number among them. */
  async recover(c: Container): Promise<number> {
    let highest = 0;
    for (const found of await this.ctx.deps.runtime.processes(c.id)) {
      if (!isMeta(found.meta)) {
        await found.handle.remove();
        continue;
      }
      const process = this.adopt(c, found.seq, found.meta, found.handle, true);
      const peaId = found.meta.pea;
      if (peaId) {
        // A running pea takes processes again (ExecSync after a restart); what it made goes when it ends, as for one started here.
        const run = found.meta.peaRun;
        const imageVolumes = run?.imageVolumes ?? 0;
        if (run && process.running) {
          this.peas.set(process, { container: c, peaId, ownLimits: run.ownLimits, user: run.user, env: run.env, dir: run.dir, capabilities: run.capabilities, imageVolumes });
        }
        void process.finished.then(async () => {
          this.peas.delete(process);
          await this.removePea(c, peaId, imageVolumes);
        });
      }
      highest = Math.max(highest, found.seq);
    }
    return highest;
  }

  /**
   * Removes what a pea made (its runtime state and cgroup, root and volumes,
   * its hold on an image), each step tried whatever the one before did; safe
   * for what is gone already.
   */
  private async removePea(c: Container, peaId: string, imageVolumes: number): Promise<void> {
    const { deps } = this.ctx;
    const steps = [
      () => deps.runtime.removePea(c.id, peaId),
      () => deps.filesystem.removePea(c.id, peaId),
      ...peaHolders(c, peaId, imageVolumes).map((holder) => async () => deps.images?.release(holder)),
    ];
    for (const step of steps) await step().catch((err) => this.ctx.logFor(c).warn({ err: String(err), pea: peaId }, "cannot remove what a pea left"));
  }

  /** The image holds of the peas running now (a restarted daemon keeps them). */
  peaHolds(): string[] {
    return [...this.peas.values()].flatMap((p) => peaHolders(p.container, p.peaId, p.imageVolumes));
  }

  /** Numbers from here on are above `seq` (the highest a recovered process has). */
  async recoverSeq(highest: number): Promise<void> {
    const saved = await this.ctx.deps.state.loadCounter(SEQ_COUNTER);
    this.lastSeq = Math.max(this.lastSeq, highest, saved);
  }

  /** A wait on a process was answered: one run to be forgotten so is gone now. */
  collected(c: Container, process: Process): void {
    if (process.forgetWhenCollected) this.forget(c, process);
  }

  /** The process leaves the table now; its files go once nobody reads them. */
  forget(c: Container, process: Process): void {
    c.processes.delete(process);
    void process
      .idle()
      .then(() => process.remove())
      .catch((err) => this.ctx.logFor(c).warn({ process: process.id, err: String(err) }, "cannot remove a process's files"));
  }

  async recordEvent(c: Container, event: ContainerEvent): Promise<void> {
    if (c.state === "destroyed" || c.destroying) return;
    if (c.addEvent(event)) await this.ctx.persist(c);
  }

  private async nextSeq(): Promise<number> {
    const seq = ++this.lastSeq;
    if (seq > this.seqReserved) {
      this.seqReserved = seq + SEQ_BLOCK;
      await this.ctx.deps.state.saveCounter(SEQ_COUNTER, this.seqReserved);
    }
    return seq;
  }

  stats(): { running: number; ended: number } {
    let running = 0;
    let ended = 0;
    for (const c of this.ctx.registry.all()) {
      for (const p of c.processes.all()) {
        if (p.running) running++;
        else ended++;
      }
    }
    return { running, ended };
  }
}
