// Making a container: checks first (a bad request costs a stat, not a
// teardown), then the pools, then the machine, each step pushing its undo so
// a failure anywhere leaves nothing behind.
import { Container } from "../container/container.js";
import { toRecord } from "../container/record.js";
import { checkContainerSpec, type ContainerSpec } from "../container/spec.js";
import { errors } from "../errors.js";
import { parseImageReference } from "../images/reference.js";
import type { RootfsBase } from "../interfaces/filesystem.js";
import { idMapsOverlap } from "../interfaces/id-map.js";
import type { Image } from "../interfaces/image-store.js";
import { parseCidr, type Cidr } from "../ipv4.js";
import type { ServiceContext } from "./context.js";
import type { LimitsService } from "./limits.js";
import type { NetworkingService } from "./networking.js";
import type { OomHandler } from "./oom.js";
import { PhaseTimer } from "./phase-timer.js";
import { isHostNetwork } from "../interfaces/network.js";

type Undo = () => Promise<void>;

export class Creator {
  private readonly creating = new Set<Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly limits: LimitsService,
    private readonly networking: NetworkingService,
    private readonly oom: OomHandler,
  ) {}

  create(spec: ContainerSpec): Promise<string> {
    if (this.closed) return Promise.reject(errors.shuttingDown());
    const work = this.make(spec);
    this.creating.add(work);
    const done = () => this.creating.delete(work);
    work.then(done, done);
    return work;
  }

  /** Refuses new creates; resolves once those under way have finished. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.creating]);
  }

  private async make(spec: ContainerSpec): Promise<string> {
    checkContainerSpec(spec);
    const privileged = spec.privileged === true;
    const { config, deps, registry, allocator } = this.ctx;
    const idMap = spec.idMap;
    if (idMap && config.sharedIdMap && idMapsOverlap(idMap, config.sharedIdMap)) {
      const { hostId, size } = config.sharedIdMap;
      throw errors.invalid(`user namespace map 0 ${idMap.hostId} ${idMap.size} overlaps the daemon's host ids ${hostId}-${hostId + size - 1}`);
    }
    // Every container has an account of the pool's uids (Warden's user).
    if (idMap && idMap.size < config.uidPoolStart + config.uidPoolSize) {
      throw errors.invalid(`user namespace map 0 ${idMap.hostId} ${idMap.size} must hold container ids up to ${config.uidPoolStart + config.uidPoolSize - 1} (the container user's)`);
    }
    // A container with a map of its own sees the base kept with the host's ids through idmapped mounts.
    const unshifted = privileged || idMap !== undefined;
    if (spec.handle !== undefined && registry.has(spec.handle)) throw errors.handleTaken(spec.handle);
    const rootfs = spec.rootfs ?? config.defaultRootfs;
    const ref = parseImageReference(rootfs);
    const images = deps.images;
    if (ref.kind !== "directory" && !images) throw errors.invalid(`rootfs ${rootfs} names an image, and this daemon keeps no images`);
    const bindMounts = spec.bindMounts ?? [];
    await deps.filesystem.check({ base: ref.kind === "directory" ? { kind: "directory", path: ref.path } : undefined, bindMounts });
    let id = this.ctx.ids.generate();
    // A client may have named a container as one of our ids: a handle is never taken twice.
    while (spec.handle === undefined && registry.has(id)) id = this.ctx.ids.generate();
    const handle = spec.handle ?? id;
    registry.reserve(handle);
    let uid: number;
    let network;
    try {
      // A /30 the host already routes (another daemon's, or the host's own network) is passed over.
      const routes = ((await deps.network.hostRoutes?.()) ?? []).map(parseCidr).filter((c): c is Cidr => c !== undefined);
      ({ uid, network } = allocator.acquire(spec.network, routes, spec.hostNetwork === true));
    } catch (err) {
      registry.unreserve(handle);
      throw err;
    }
    const log = this.ctx.log.child({ handle, id });
    const phases = new PhaseTimer();
    const started = Date.now();
    const undo: Undo[] = [];
    let c: Container | undefined;
    try {
      const path = await deps.depot.create(id);
      undo.push(() => deps.depot.remove(id));
      undo.push(() => deps.filesystem.remove(id));
      if (ref.kind !== "directory") undo.push(() => images!.release(id));
      const hostNetwork = isHostNetwork(network);
      if (!hostNetwork) undo.push(() => deps.network.destroy(id, { network, netIns: c?.netIns ?? [], netOut: (c?.netOuts.length ?? 0) > 0 }));
      // The root filesystem (with the image it stands on) and the network do not depend on each other.
      let image: Image | undefined;
      const [root, attachment] = await Promise.allSettled([
        (async () => {
          let base: RootfsBase = { kind: "directory", path: rootfs };
          if (ref.kind !== "directory") {
            image = await phases.time("image", () => images!.acquire(ref, id, { credentials: spec.imageCredentials, privileged: unshifted }));
            base = { kind: "layers", layers: image.layers };
          }
          return phases.time("filesystem", () =>
            deps.filesystem.prepare({ id, base, bindMounts, uid, containerIp: network.containerIp, hostIp: network.hostIp, privileged, ...(idMap ? { idMap } : {}), hostname: spec.hostname, ...(spec.dns ? { dns: spec.dns } : {}) }),
          );
        })(),
        hostNetwork ? Promise.resolve(undefined) : phases.time("network", () => deps.network.create(id, network, { privileged, ...(idMap ? { idMap } : {}) })),
      ]);
      if (root.status === "rejected") throw root.reason;
      if (attachment.status === "rejected") throw attachment.reason;
      undo.push(() => deps.runtime.destroy(id));
      await phases.time("runtime", () =>
        deps.runtime.create({ id, handle, rootfsPath: root.value, bindMounts, network: attachment.value ?? "host", privileged, ...(idMap ? { idMap } : {}), ...(spec.cgroupParent ? { cgroupParent: spec.cgroupParent } : {}), capabilities: spec.capabilities, hostname: spec.hostname, pidsLimit: spec.limits?.pids, ...(spec.sysctls ? { sysctls: spec.sysctls } : {}) }),
      );
      c = new Container({
        id,
        handle,
        path,
        uid,
        rootfs,
        image: image && { name: image.name, id: image.id, config: image.config },
        privileged,
        idMap,
        capabilities: spec.capabilities,
        pidsLimit: spec.limits?.pids,
        bindMounts,
        network,
        graceTime: spec.graceTime === undefined ? config.graceTime : spec.graceTime,
        env: spec.env ?? [],
        properties: { ...(spec.properties ?? {}) },
        createdAt: Date.now(),
      });
      await this.applySpec(c, spec);
      c.state = "active";
      await deps.state.save(toRecord(c));
      registry.unreserve(handle);
      registry.add(c);
      this.oom.watch(c);
      this.ctx.reaper.track(c);
      log.info({ ...phases.summary(), uid, rootfs, image: image?.id, network: network.subnet }, "container created");
      deps.metrics?.containerCreated((Date.now() - started) / 1000);
      return handle;
    } catch (err) {
      log.warn({ err: String(err), detail: (err as { detail?: string }).detail }, "create failed; undoing");
      deps.metrics?.createFailed();
      for (const step of undo.reverse()) {
        await step().catch((e) => log.error({ err: String(e) }, "cleanup after failed create failed"));
      }
      for (const rule of c?.netIns ?? []) allocator.releasePort(rule.hostPort, rule.fromPool);
      allocator.releaseContainer(uid, network);
      registry.unreserve(handle);
      throw err;
    }
  }

  // Limits and rules the spec asks for, applied while the container is
  // still being born: nothing is written until it is whole, then once.
  private async applySpec(c: Container, spec: ContainerSpec): Promise<void> {
    const limits = spec.limits;
    if (limits?.memoryBytes !== undefined) await this.limits.limitMemory(c, limits.memoryBytes);
    if (limits?.cpuShares !== undefined) await this.limits.limitCpu(c, limits.cpuShares);
    if (limits?.disk !== undefined) {
      let disk = limits.disk;
      if (limits.diskScope === "total") {
        // The base counts against the limit: what is left of it is the writable layer's.
        const base = (await this.ctx.deps.filesystem.baseBytes(c.id)) ?? 0n;
        const less = (v: bigint) => (v === 0n ? 0n : v > base ? v - base : 1n);
        disk = { ...disk, byteSoft: less(disk.byteSoft), byteHard: less(disk.byteHard) };
      }
      await this.limits.limitDisk(c, disk);
    }
    if (limits?.bandwidth !== undefined) await this.networking.limitBandwidth(c, limits.bandwidth);
    for (const rule of spec.netIn ?? []) await this.networking.netIn(c, rule);
    if (spec.netOut?.length) await this.networking.netOut(c, spec.netOut);
  }
}
