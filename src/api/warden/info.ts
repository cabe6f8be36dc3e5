// Warden's InfoResponse from what the core knows and measures.
import type Long from "long";
import type { ContainerEvent, ContainerInfo } from "../../core/container/container.js";
import { MEMORY_STATS_FIELDS, type MemoryStats } from "../../core/interfaces/limits.js";
import type { ContainerMetrics } from "../../core/service/limits.js";
import { toLong, type warden } from "../../protocol/messages.js";
import { jobIds } from "./jobs.js";

const EVENT_TEXTS: Record<ContainerEvent, string> = {
  "out-of-memory": "out of memory",
  "process-output-exceeded": "command exceeded maximum output",
};

/** cpuacct.stat's user and system are in USER_HZ ticks. */
const NS_PER_TICK = 10_000_000n;

// memoryStats' fields as InfoResponse.MemoryStat names them (memory.stat's keys).
function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function memoryStat(stats: MemoryStats): Record<string, Long> {
  const out: Record<string, Long> = {};
  for (const field of MEMORY_STATS_FIELDS) {
    const v = stats[field];
    if (v !== undefined) out[snake(field)] = toLong(v);
  }
  return out;
}

export function infoResponse(info: ContainerInfo, metrics?: ContainerMetrics): warden.InfoResponse.$Properties {
  const out: warden.InfoResponse.$Properties = {
    state: info.state,
    events: info.events.map((e) => EVENT_TEXTS[e]),
    host_ip: info.network.hostIp,
    container_ip: info.network.containerIp,
    container_path: info.path,
    job_ids: jobIds(info.processIds).map((id) => toLong(id)),
  };
  if (!metrics) return out;
  out.memory_stat = memoryStat(metrics.memory);
  out.cpu_stat = {
    usage: toLong(metrics.cpu.usage),
    user: toLong(metrics.cpu.user / NS_PER_TICK),
    system: toLong(metrics.cpu.system / NS_PER_TICK),
  };
  if (metrics.disk) {
    out.disk_stat = { bytes_used: toLong(metrics.disk.bytesUsed) };
    if (metrics.disk.inodesUsed !== undefined) out.disk_stat.inodes_used = toLong(metrics.disk.inodesUsed);
  }
  const b = metrics.bandwidth;
  out.bandwidth_stat = { in_rate: toLong(b.inRate), in_burst: toLong(b.inBurst), out_rate: toLong(b.outRate), out_burst: toLong(b.outBurst) };
  return out;
}
