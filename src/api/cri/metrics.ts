// The CRI's metrics (ListMetricDescriptors, ListPodSandboxMetrics): what
// the kubelet would otherwise ask cAdvisor, under cAdvisor's names, read from
// each container's own cgroup, its processes, its writable layer and the
// pod's interface. The descriptors are fixed at start, as the API asks; a
// metric carries one value per label key of its descriptor. Values are the
// API's unsigned integers: seconds are whole seconds, as other runtimes send.
import type { FilesystemUsage } from "../../core/interfaces/filesystem.js";
import type { BlockIoStats, CgroupDetail } from "../../core/interfaces/limits.js";
import type { TrafficStats } from "../../core/interfaces/network.js";
import type { ContainerMetrics } from "../../core/service/limits.js";
import { runtime } from "../../protocol/gen/cri.js";
import Long from "long";
import { u64 } from "./longs.js";
import v1 = runtime.v1;

const CONTAINER_LABELS = ["container", "id", "image", "namespace", "pod"];
const LABEL_KEYS = {
  container: CONTAINER_LABELS,
  memoryFailure: [...CONTAINER_LABELS, "failure_type", "scope"],
  fs: [...CONTAINER_LABELS, "device"],
  blkio: [...CONTAINER_LABELS, "device", "major", "minor", "operation"],
  network: ["interface", "namespace", "pod"],
} as const;
type LabelSet = keyof typeof LABEL_KEYS;

const NS = 1_000_000_000n;

/** One container's readings, with what names it. */
export interface ContainerSample {
  id: string;
  name: string;
  image: string;
  pod: { name: string; namespace: string };
  /** Milliseconds since the epoch. */
  startedAt: number;
  usage: { metrics: ContainerMetrics; detail: CgroupDetail; disk: FilesystemUsage };
  /** What the kernel killed in it for memory. */
  oomKills: number;
}

type Reading = { value: bigint; labels?: string[] };
type Definition = { name: string; help: string; labels: LabelSet; gauge: boolean; read: (s: ContainerSample) => bigint | Reading[] };

const seconds = (nanos: bigint) => nanos / NS;

const CONTAINER_METRICS: Definition[] = [
  { name: "container_cpu_usage_seconds_total", help: "CPU time used, in seconds", labels: "container", gauge: false, read: (s) => seconds(s.usage.metrics.cpu.usage) },
  { name: "container_cpu_user_seconds_total", help: "CPU time used in user mode, in seconds", labels: "container", gauge: false, read: (s) => seconds(s.usage.metrics.cpu.user) },
  { name: "container_cpu_system_seconds_total", help: "CPU time used in kernel mode, in seconds", labels: "container", gauge: false, read: (s) => seconds(s.usage.metrics.cpu.system) },
  { name: "container_cpu_cfs_periods_total", help: "Enforcement periods that have elapsed", labels: "container", gauge: false, read: (s) => s.usage.detail.cpuPeriods },
  { name: "container_cpu_cfs_throttled_periods_total", help: "Periods in which the container was throttled", labels: "container", gauge: false, read: (s) => s.usage.detail.cpuThrottledPeriods },
  { name: "container_cpu_cfs_throttled_seconds_total", help: "Time the container was throttled, in seconds", labels: "container", gauge: false, read: (s) => seconds(s.usage.detail.cpuThrottledNanos) },
  { name: "container_memory_usage_bytes", help: "Memory in use, cache included, in bytes", labels: "container", gauge: true, read: (s) => s.usage.detail.memoryUsage },
  { name: "container_memory_max_usage_bytes", help: "Most memory ever in use, in bytes", labels: "container", gauge: true, read: (s) => s.usage.detail.memoryMaxUsage },
  { name: "container_memory_working_set_bytes", help: "Memory in use less inactive file cache, in bytes", labels: "container", gauge: true, read: workingSet },
  { name: "container_memory_cache", help: "Page cache, in bytes", labels: "container", gauge: true, read: (s) => s.usage.metrics.memory.totalCache ?? 0n },
  { name: "container_memory_rss", help: "Anonymous memory and swap cache, in bytes", labels: "container", gauge: true, read: (s) => s.usage.metrics.memory.totalRss ?? 0n },
  { name: "container_memory_mapped_file", help: "Memory-mapped files, in bytes", labels: "container", gauge: true, read: (s) => s.usage.metrics.memory.totalMappedFile ?? 0n },
  { name: "container_memory_swap", help: "Swap in use, in bytes", labels: "container", gauge: true, read: (s) => s.usage.metrics.memory.totalSwap ?? 0n },
  { name: "container_memory_kernel_usage", help: "Kernel memory in use, in bytes", labels: "container", gauge: true, read: (s) => s.usage.detail.kernelUsage },
  { name: "container_memory_failcnt", help: "Times the memory limit was hit", labels: "container", gauge: false, read: (s) => s.usage.detail.memoryFailcnt },
  {
    name: "container_memory_failures_total", help: "Page faults, by type and scope", labels: "memoryFailure", gauge: false,
    read: (s) => {
      const m = s.usage.metrics.memory;
      return [
        { value: m.pgfault ?? 0n, labels: ["pgfault", "container"] },
        { value: m.pgmajfault ?? 0n, labels: ["pgmajfault", "container"] },
        { value: m.totalPgfault ?? 0n, labels: ["pgfault", "hierarchy"] },
        { value: m.totalPgmajfault ?? 0n, labels: ["pgmajfault", "hierarchy"] },
      ];
    },
  },
  { name: "container_oom_events_total", help: "Processes the kernel killed for memory", labels: "container", gauge: false, read: (s) => BigInt(s.oomKills) },
  { name: "container_processes", help: "Processes running", labels: "container", gauge: true, read: (s) => BigInt(s.usage.detail.processes) },
  { name: "container_threads", help: "Threads running", labels: "container", gauge: true, read: (s) => BigInt(s.usage.detail.threads) },
  { name: "container_threads_max", help: "Most threads allowed (0: no limit)", labels: "container", gauge: true, read: (s) => s.usage.detail.pidsLimit },
  { name: "container_file_descriptors", help: "Open file descriptors", labels: "container", gauge: true, read: (s) => BigInt(s.usage.detail.fileDescriptors) },
  { name: "container_sockets", help: "Open sockets", labels: "container", gauge: true, read: (s) => BigInt(s.usage.detail.sockets) },
  { name: "container_fs_usage_bytes", help: "Bytes its writable layer takes", labels: "fs", gauge: true, read: (s) => [{ value: s.usage.disk.usedBytes }] },
  { name: "container_fs_limit_bytes", help: "Bytes its filesystem holds", labels: "fs", gauge: true, read: (s) => [{ value: s.usage.disk.capacityBytes }] },
  { name: "container_fs_inodes_total", help: "Inodes its filesystem holds", labels: "fs", gauge: true, read: (s) => [{ value: s.usage.disk.inodesTotal }] },
  { name: "container_fs_inodes_free", help: "Inodes free on its filesystem", labels: "fs", gauge: true, read: (s) => [{ value: s.usage.disk.inodesFree }] },
  { name: "container_spec_cpu_shares", help: "Its CPU shares", labels: "container", gauge: true, read: (s) => s.usage.detail.cpuShares },
  { name: "container_spec_cpu_period", help: "Its CPU period, in microseconds", labels: "container", gauge: true, read: (s) => s.usage.detail.cpuPeriod },
  { name: "container_spec_memory_limit_bytes", help: "Its memory limit, in bytes", labels: "container", gauge: true, read: (s) => s.usage.detail.memoryLimit },
  { name: "container_spec_memory_swap_limit_bytes", help: "Its memory and swap limit, in bytes", labels: "container", gauge: true, read: (s) => s.usage.detail.swapLimit },
  { name: "container_start_time_seconds", help: "When it started, in seconds since the epoch", labels: "container", gauge: true, read: (s) => BigInt(Math.floor(s.startedAt / 1000)) },
  { name: "container_last_seen", help: "When it was last read, in seconds since the epoch", labels: "container", gauge: true, read: () => BigInt(Math.floor(Date.now() / 1000)) },
];

function workingSet(s: ContainerSample): bigint {
  const inactive = s.usage.metrics.memory.totalInactiveFile ?? 0n;
  const usage = s.usage.detail.memoryUsage;
  return usage > inactive ? usage - inactive : 0n;
}

const NETWORK_METRICS: Array<{ name: string; help: string; read: (t: TrafficStats) => bigint }> = [
  { name: "container_network_receive_bytes_total", help: "Bytes received", read: (t) => t.rxBytes },
  { name: "container_network_receive_packets_total", help: "Packets received", read: (t) => t.rxPackets },
  { name: "container_network_receive_errors_total", help: "Errors while receiving", read: (t) => t.rxErrors },
  { name: "container_network_receive_packets_dropped_total", help: "Packets dropped while receiving", read: (t) => t.rxDropped },
  { name: "container_network_transmit_bytes_total", help: "Bytes sent", read: (t) => t.txBytes },
  { name: "container_network_transmit_packets_total", help: "Packets sent", read: (t) => t.txPackets },
  { name: "container_network_transmit_errors_total", help: "Errors while sending", read: (t) => t.txErrors },
  { name: "container_network_transmit_packets_dropped_total", help: "Packets dropped while sending", read: (t) => t.txDropped },
];

// Block I/O per device, read from the container's cgroup (cAdvisor's names and labels).
const BLOCK_IO_METRICS: Array<{ name: string; help: string; read: (d: BlockIoStats) => Reading[] }> = [
  {
    name: "container_blkio_device_usage_total",
    help: "Block I/O by device and operation, in bytes",
    read: (d) => [
      { value: d.readBytes, labels: [d.device, String(d.major), String(d.minor), "Read"] },
      { value: d.writeBytes, labels: [d.device, String(d.major), String(d.minor), "Write"] },
    ],
  },
  { name: "container_fs_reads_bytes_total", help: "Bytes read from block devices", read: (d) => [{ value: d.readBytes, labels: [d.device] }] },
  { name: "container_fs_reads_total", help: "Reads from block devices", read: (d) => [{ value: d.reads, labels: [d.device] }] },
  { name: "container_fs_writes_bytes_total", help: "Bytes written to block devices", read: (d) => [{ value: d.writeBytes, labels: [d.device] }] },
  { name: "container_fs_writes_total", help: "Writes to block devices", read: (d) => [{ value: d.writes, labels: [d.device] }] },
];

export function metricDescriptors(): v1.MetricDescriptor.$Properties[] {
  return [
    ...CONTAINER_METRICS.map((d) => ({ name: d.name, help: d.help, label_keys: [...LABEL_KEYS[d.labels]] })),
    ...NETWORK_METRICS.map((d) => ({ name: d.name, help: d.help, label_keys: [...LABEL_KEYS.network] })),
    ...BLOCK_IO_METRICS.map((d) => ({ name: d.name, help: d.help, label_keys: [...LABEL_KEYS[d.name === "container_blkio_device_usage_total" ? "blkio" : "fs"]] })),
  ];
}

function metric(name: string, gauge: boolean, labels: string[], value: bigint): v1.Metric.$Properties {
  // Timestamp 0: read live, not cached.
  return { name, timestamp: Long.ZERO, metric_type: gauge ? v1.MetricType.GAUGE : v1.MetricType.COUNTER, label_values: labels, value: { value: u64(value < 0n ? 0n : value) } };
}

export function containerMetrics(s: ContainerSample): v1.Metric.$Properties[] {
  const base = [s.name, s.id, s.image, s.pod.namespace, s.pod.name];
  const out: v1.Metric.$Properties[] = [];
  for (const d of CONTAINER_METRICS) {
    const read = d.read(s);
    const readings: Reading[] = typeof read === "bigint" ? [{ value: read }] : read;
    const extra = d.labels === "fs" ? ["rootfs"] : [];
    for (const r of readings) out.push(metric(d.name, d.gauge, [...base, ...(r.labels ?? extra)], r.value));
  }
  for (const d of BLOCK_IO_METRICS) {
    for (const device of s.usage.detail.blockIo) for (const r of d.read(device)) out.push(metric(d.name, false, [...base, ...(r.labels ?? [])], r.value));
  }
  return out;
}

/** The pod's traffic through its interface (none on the host's network). */
export function podMetrics(pod: { name: string; namespace: string }, traffic: TrafficStats | undefined): v1.Metric.$Properties[] {
  if (!traffic) return [];
  return NETWORK_METRICS.map((d) => metric(d.name, false, ["eth0", pod.namespace, pod.name], d.read(traffic)));
}
