import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { infoResponse } from "../../../../src/api/warden/info.js";
import type { ContainerInfo } from "../../../../src/core/container/container.js";

const info: ContainerInfo = {
  handle: "h", id: "000000000v8", state: "active", events: ["out-of-memory", "process-output-exceeded"],
  network: { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" },
  path: "/depot/000000000v8", rootfs: "/rootfs", processIds: ["3", "web"], properties: {}, graceTime: null, netIns: [], createdAt: 0,
};

describe("Warden's InfoResponse", () => {
  it("has the state, Warden's event texts, addresses, path and the running jobs", () => {
    const out = infoResponse(info);
    assert.deepEqual([out.state, out.events, out.host_ip, out.container_ip, out.container_path], [
      "active", ["out of memory", "command exceeded maximum output"], "10.254.0.1", "10.254.0.2", "/depot/000000000v8",
    ]);
    assert.deepEqual(out.job_ids!.map(Number), [3]);
    assert.equal(out.memory_stat, undefined, "no statistics unless measured");
  });

  it("names memory.stat's fields, gives cpu user and system in USER_HZ ticks, and the disk and bandwidth", () => {
    const out = infoResponse(info, {
      memory: { rss: 10n, totalInactiveAnon: 3n, hierarchicalMemswLimit: 7n },
      cpu: { usage: 5n, user: 60_000_000n, system: 30_000_000n },
      disk: { bytesUsed: 4096n },
      bandwidth: { inRate: 1, inBurst: 2, outRate: 3, outBurst: 4 },
      pids: 2,
      age: 1,
    });
    assert.deepEqual(Object.fromEntries(Object.entries(out.memory_stat!).map(([k, v]) => [k, Number(v)])), {
      rss: 10, total_inactive_anon: 3, hierarchical_memsw_limit: 7,
    });
    assert.deepEqual([Number(out.cpu_stat!.usage), Number(out.cpu_stat!.user), Number(out.cpu_stat!.system)], [5, 6, 3]);
    assert.equal(Number(out.disk_stat!.bytes_used), 4096);
    assert.equal(out.disk_stat!.inodes_used, undefined);
    assert.equal(Number(out.bandwidth_stat!.out_burst), 4);
  });
});
