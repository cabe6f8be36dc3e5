// A container as kept on disk, and back: only what a restarted daemon needs
// to serve it as before (processes are found from their own directories).
import type { DiskLimits } from "../interfaces/disk-quota.js";
import type { IdMap } from "../interfaces/id-map.js";
import type { ContainerRecord } from "../interfaces/state-store.js";
import type { ContainerCapabilities } from "../interfaces/runtime.js";
import { CONTAINER_EVENTS, Container, type ContainerEvent, type ContainerImage } from "./container.js";

const DISK_KEYS: Array<keyof DiskLimits> = ["byteSoft", "byteHard", "inodeSoft", "inodeHard"];

// Records written before events were codes held Warden's texts.
const LEGACY_EVENTS: Record<string, ContainerEvent> = {
  "out of memory": "out-of-memory",
  "command exceeded maximum output": "process-output-exceeded",
};

export function toRecord(c: Container): ContainerRecord {
  const record: ContainerRecord = {
    version: 1,
    id: c.id,
    handle: c.handle,
    uid: c.uid,
    rootfs: c.rootfs,
    bindMounts: c.bindMounts,
    graceTime: c.graceTime,
    network: c.network,
    state: c.state === "stopped" ? "stopped" : "active",
    events: c.events,
    netIns: c.netIns,
    netOuts: c.netOuts,
    properties: c.properties,
    env: c.env,
    createdAt: c.createdAt,
  };
  if (c.image) record.image = c.image;
  if (c.privileged) record.privileged = true;
  if (c.idMap) record.idMap = c.idMap;
  if (c.capabilities) record.capabilities = c.capabilities;
  if (c.pidsLimit !== undefined) record.pidsLimit = c.pidsLimit;
  if (c.bandwidth) record.bandwidth = c.bandwidth;
  if (c.bandwidthStat) record.bandwidthStat = c.bandwidthStat;
  if (c.memoryLimit !== undefined) record.memoryLimit = c.memoryLimit.toString();
  if (c.cpuShares !== undefined) record.cpuShares = c.cpuShares.toString();
  if (c.diskLimits) {
    record.diskLimits = Object.fromEntries(DISK_KEYS.map((k) => [k, c.diskLimits![k].toString()])) as Record<keyof DiskLimits, string>;
  }
  return record;
}

function stringMap(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === "string")) as Record<string, string>;
}

function capabilitiesOf(value: unknown): ContainerCapabilities | undefined {
  const v = value as { root?: unknown; others?: unknown } | undefined;
  if (!v || !Array.isArray(v.others)) return undefined;
  const names = (list: unknown[]) => list.filter((n): n is string => typeof n === "string");
  return { root: v.root === "all" ? "all" : Array.isArray(v.root) ? names(v.root) : [], others: names(v.others) };
}

function imageOf(value: ContainerRecord["image"]): ContainerImage | undefined {
  if (!value || typeof value.name !== "string" || typeof value.id !== "string" || !value.config) return undefined;
  const c = value.config;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((e): e is string => typeof e === "string") : undefined);
  return {
    name: value.name,
    id: value.id,
    config: {
      env: strings(c.env) ?? [],
      workingDir: typeof c.workingDir === "string" ? c.workingDir : undefined,
      user: typeof c.user === "string" ? c.user : undefined,
      entrypoint: strings(c.entrypoint),
      cmd: strings(c.cmd),
    },
  };
}

function idMapOf(value: unknown): IdMap | undefined {
  const v = value as Partial<IdMap> | undefined;
  return v && Number.isSafeInteger(v.hostId) && Number.isSafeInteger(v.size) ? { hostId: v.hostId!, size: v.size! } : undefined;
}

/** Throws on a record that is not whole: recovery then removes the container. */
export function fromRecord(r: ContainerRecord, path: string): Container {
  if (r.version !== 1 || typeof r.id !== "string" || typeof r.handle !== "string" || !Number.isInteger(r.uid)) {
    throw new Error("not a container record");
  }
  if (!r.network?.containerIp || !r.network.hostIp || !r.network.subnet) throw new Error("record without a network");
  const c = new Container({
    id: r.id,
    handle: r.handle,
    path,
    uid: r.uid,
    rootfs: r.rootfs,
    image: imageOf(r.image),
    privileged: r.privileged === true,
    idMap: idMapOf(r.idMap),
    capabilities: capabilitiesOf(r.capabilities),
    pidsLimit: typeof r.pidsLimit === "number" ? r.pidsLimit : undefined,
    bindMounts: r.bindMounts ?? [],
    network: r.network,
    graceTime: r.graceTime ?? null,
    env: Array.isArray(r.env) ? r.env.filter((e) => typeof e === "string") : [],
    properties: stringMap(r.properties),
    createdAt: typeof r.createdAt === "number" ? r.createdAt : Date.now(),
  });
  c.state = r.state === "stopped" ? "stopped" : "active";
  for (const e of r.events ?? []) {
    const event = LEGACY_EVENTS[e] ?? e;
    if ((CONTAINER_EVENTS as readonly string[]).includes(event)) c.addEvent(event as ContainerEvent);
  }
  c.netIns.push(...(r.netIns ?? []));
  c.netOuts.push(...(r.netOuts ?? []));
  c.bandwidth = r.bandwidth;
  c.bandwidthStat = r.bandwidthStat;
  if (r.memoryLimit !== undefined) c.memoryLimit = BigInt(r.memoryLimit);
  if (r.cpuShares !== undefined) c.cpuShares = BigInt(r.cpuShares);
  if (r.diskLimits) {
    c.diskLimits = Object.fromEntries(DISK_KEYS.map((k) => [k, BigInt(r.diskLimits![k])])) as unknown as DiskLimits;
  }
  return c;
}
