// A container as kept on disk, and back. Only what a restarted daemon needs
// to serve it as before; jobs are found from their own directories.
import { Container } from "./container.js";
import type { ContainerRecord, DiskLimits } from "./interfaces.js";

const DISK_KEYS: Array<keyof DiskLimits> = ["byteSoft", "byteHard", "inodeSoft", "inodeHard"];

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
  };
  if (c.bandwidth) record.bandwidth = c.bandwidth;
  if (c.bandwidthStat) record.bandwidthStat = c.bandwidthStat;
  if (c.memoryLimit !== undefined) record.memoryLimit = c.memoryLimit.toString();
  if (c.cpuShares !== undefined) record.cpuShares = c.cpuShares.toString();
  if (c.diskLimits) {
    record.diskLimits = Object.fromEntries(DISK_KEYS.map((k) => [k, c.diskLimits![k].toString()])) as Record<keyof DiskLimits, string>;
  }
  return record;
}

/** Throws on a record that is not whole: recovery then removes the container. */
export function fromRecord(r: ContainerRecord, path: string): Container {
  if (r.version !== 1 || typeof r.id !== "string" || typeof r.handle !== "string" || !Number.isInteger(r.uid)) {
    throw new Error("not a container record");
  }
  if (!r.network?.containerIp || !r.network.hostIp || !r.network.subnet) throw new Error("record without a network");
  const c = new Container(r.id, r.handle, path, r.uid, r.rootfs, r.bindMounts ?? [], r.graceTime ?? null, r.network);
  c.state = r.state === "stopped" ? "stopped" : "active";
  for (const e of r.events ?? []) c.addEvent(e);
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
