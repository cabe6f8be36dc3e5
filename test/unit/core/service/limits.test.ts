import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("limits and metrics", () => {
  let m: FakeMachine;
  let s: ContainerService;
  let h: string;
  beforeEach(async () => {
    m = new FakeMachine();
    s = m.service();
    h = await s.create({});
  });

  it("sets the memory limit and answers with the kernel's (rounded) value; without one it only reads", async () => {
    assert.equal(await s.limitMemory(h), 9223372036854771712n);
    assert.equal(await s.limitMemory(h, 1000n), 4096n);
    assert.equal(await s.limitMemory(h), 4096n);
  });

  it("says which limit failed, keeping what the kernel said", async () => {
    m.limits.failSetMemory = new Error("Device or resource busy");
    await assert.rejects(s.limitMemory(h, 1n), (err: Error & { code: string; details: { operation: string } }) => {
      assert.equal(err.code, "LIMIT_FAILED");
      assert.equal(err.details.operation, "setting memory limit");
      assert.equal((err.cause as Error).message, "Device or resource busy");
      return true;
    });
  });

  it("sets cpu shares and reads back what the kernel holds", async () => {
    assert.equal(await s.limitCpu(h, 1n), 2n);
    assert.equal(await s.limitCpu(h), 2n);
  });

  it("sets disk limits, answering what the mechanism holds (what it cannot enforce as 0)", async () => {
    const held = await s.limitDisk(h, { byteSoft: 5n, byteHard: 4096n, inodeSoft: 0n, inodeHard: 100n });
    assert.deepEqual(held, { byteSoft: 0n, byteHard: 4096n, inodeSoft: 0n, inodeHard: 0n });
    const view = await s.diskLimits(h);
    assert.equal(view!.enforces.byteHard, true);
    assert.equal(view!.enforces.inodeHard, false);
  });

  it("reports memory, cpu, disk, bandwidth, processes and age", async () => {
    const metrics = await s.metrics(h);
    assert.equal(metrics.memory.rss, 1000n);
    assert.deepEqual(metrics.cpu, { usage: 5n, user: 10_000_000n, system: 20_000_000n });
    assert.deepEqual(metrics.disk, { bytesUsed: 4096n, baseBytes: 4096n }, "what the container wrote, and what its base takes");
    assert.equal(metrics.pids, 3);
    assert.ok(metrics.age >= 0 && metrics.age < 60_000);
    const limits = await s.limits(h);
    assert.deepEqual([limits.memoryBytes, limits.cpuShares, limits.disk!.byteHard], [9223372036854771712n, 1024n, 0n]);
  });
});

