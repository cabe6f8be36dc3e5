// The CRI's metrics: descriptors with help and label keys, each metric with
// one label value per key of its descriptor, values from the readings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { containerMetrics, metricDescriptors, podMetrics, type ContainerSample } from "../../../../src/api/cri/metrics.js";

const sample: ContainerSample = {
  id: "c1",
  name: "web",
  image: "nginx:1",
  pod: { name: "p", namespace: "ns" },
  startedAt: 1_700_000_000_500,
  oomKills: 1,
  usage: {
    metrics: { memory: { totalCache: 10n, totalRss: 20n, totalInactiveFile: 100n, pgfault: 5n, totalPgfault: 6n }, cpu: { usage: 3_500_000_000n, user: 2_000_000_000n, system: 1_000_000_000n }, bandwidth: { inRate: 0, inBurst: 0, outRate: 0, outBurst: 0 }, pids: 1, age: 1 },
    detail: {
      memoryUsage: 4096n, memoryMaxUsage: 8192n, memoryFailcnt: 0n, kernelUsage: 7n, memoryLimit: 1n << 26n, swapLimit: 1n << 26n,
      cpuPeriods: 10n, cpuThrottledPeriods: 2n, cpuThrottledNanos: 2_000_000_000n, cpuShares: 512n, cpuPeriod: 100_000n, cpuQuota: 20_000n, pidsLimit: 0n,
      processes: 2, threads: 3, fileDescriptors: 9, sockets: 1,
      blockIo: [{ major: 8, minor: 0, device: "/dev/sda", readBytes: 4096n, writeBytes: 8192n, reads: 1n, writes: 2n }],
    },
    disk: { usedBytes: 8192n, usedInodes: 3n, capacityBytes: 1n << 30n, inodesTotal: 1000n, inodesFree: 900n },
  },
};

const value = (metrics: ReturnType<typeof containerMetrics>, name: string, labels?: string[]) => {
  const m = metrics.find((x) => x.name === name && (!labels || labels.every((l) => x.label_values!.includes(l))));
  return m ? BigInt(m.value!.value!.toString()) : undefined;
};

describe("CRI metrics", () => {
  it("describes every metric once, with help and label keys", () => {
    const descs = metricDescriptors();
    assert.equal(new Set(descs.map((d) => d.name)).size, descs.length);
    for (const d of descs) {
      assert.ok(d.help, d.name!);
      assert.ok(d.label_keys!.length > 0, d.name!);
    }
  });

  it("sends one label value per key of its descriptor, and the readings as values (seconds whole)", () => {
    const keys = new Map(metricDescriptors().map((d) => [d.name, d.label_keys!.length]));
    const metrics = [...containerMetrics(sample), ...podMetrics(sample.pod, { rxBytes: 1n, rxPackets: 1n, rxErrors: 0n, rxDropped: 0n, txBytes: 2n, txPackets: 1n, txErrors: 0n, txDropped: 0n })];
    for (const m of metrics) assert.equal(m.label_values!.length, keys.get(m.name), m.name!);
    assert.equal(value(metrics, "container_cpu_usage_seconds_total"), 3n);
    assert.equal(value(metrics, "container_cpu_cfs_throttled_seconds_total"), 2n);
    assert.equal(value(metrics, "container_memory_working_set_bytes"), 3996n, "usage less inactive file cache");
    assert.equal(value(metrics, "container_memory_failures_total", ["pgfault", "hierarchy"]), 6n);
    assert.equal(value(metrics, "container_oom_events_total"), 1n);
    assert.equal(value(metrics, "container_start_time_seconds"), 1_700_000_000n);
    assert.equal(value(metrics, "container_network_transmit_bytes_total"), 2n);
    assert.deepEqual(metrics.find((m) => m.name === "container_threads")!.label_values, ["web", "c1", "nginx:1", "ns", "p"]);
    // Block I/O, per device, as cAdvisor labels it.
    assert.equal(value(metrics, "container_fs_writes_bytes_total", ["/dev/sda"]), 8192n);
    assert.equal(value(metrics, "container_fs_reads_total", ["/dev/sda"]), 1n);
    assert.equal(value(metrics, "container_blkio_device_usage_total", ["/dev/sda", "8", "0", "Write"]), 8192n);
  });

  it("has no traffic to tell for a pod on the host's network", () => {
    assert.deepEqual(podMetrics(sample.pod, undefined), []);
  });
});
