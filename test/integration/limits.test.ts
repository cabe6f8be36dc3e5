// Limits and statistics on a real daemon: memory with OOM, /dev/shm, cpu
// shares, disk quota (btrfs qgroups on the depot), pids, Info statistics.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { WardenClient } from "../../src/client/client.js";
import { toLong } from "../../src/protocol/messages.js";
import { eventually, RUNTIMES, startDaemon, type TestDaemon } from "./harness.js";

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForState(c: WardenClient, handle: string, state: string, ms: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if ((await c.call("Info", { handle })).state === state) return Date.now() - started;
    if (Date.now() - started > ms) return -1;
    await sleep(25);
  }
}

for (const runtime of RUNTIMES) {
  describe(`memory and OOM on ${runtime}`, () => {
    let daemon: TestDaemon;
    let c: WardenClient;

    before(async () => {
      daemon = await startDaemon({ runtime });
      c = await daemon.client();
    });

    after(() => daemon.stop());

    it("stops a container whose job goes past its memory limit, with the event, within a second", async () => {
      const h = await c.create();
      assert.equal(Number((await c.call("LimitMemory", { handle: h, limit_in_bytes: toLong(32 * MiB) })).limit_in_bytes), 32 * MiB);
      const job = await c.spawn(h, "dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 5");
      const link = c.link(h, job);
      const took = await waitForState(c, h, "stopped", 3000);
      assert.ok(took >= 0 && took < 1000, `stopped ${took} ms after the job started`);
      const info = await c.call("Info", { handle: h });
      assert.deepEqual(info.events, ["out of memory"]);
      assert.notEqual((await link).exit_status, 0);
      await c.destroy(h);
    });

    it("leaves a container active whose job stays under the limit", async () => {
      const h = await c.create();
      await c.call("LimitMemory", { handle: h, limit_in_bytes: toLong(32 * MiB) });
      const run = await c.run(h, "dd if=/dev/zero of=/dev/null bs=16M count=1");
      assert.equal(run.exit_status, 0, run.stderr);
      // No event must come: the OOM watch reads the counter each second, so let more than that pass.
      await sleep(1200);
      const info = await c.call("Info", { handle: h });
      assert.equal(info.state, "active");
      assert.deepEqual(info.events, []);
      await c.destroy(h);
    });
  });
}

describe("limits", () => {
  let daemon: TestDaemon;
  let c: WardenClient;

  before(async () => {
    daemon = await startDaemon({ config: { server: { container_pids_limit: 64 } } });
    c = await daemon.client();
  });

  after(() => daemon.stop());

  it("counts /dev/shm against the memory limit", async () => {
    const h = await c.create();
    await c.call("LimitMemory", { handle: h, limit_in_bytes: toLong(32 * MiB) });
    const run = await c.run(h, "dd if=/dev/zero of=/dev/shm/fill bs=1M count=64; echo rc=$?; ls -l /dev/shm/fill");
    // Either the write fails or the writer is killed; 64 MiB never fit.
    const stored = /\s(\d+)\s+\w+\s+\d+\s+[\d:]+\s+\/dev\/shm\/fill/.exec(run.stdout)?.[1];
    const cutShort = stored !== undefined && Number(stored) < 32 * MiB;
    if (!cutShort) {
      await eventually(async () => (await c.call("Info", { handle: h })).events.includes("out of memory"), `an OOM event: ${run.stdout} ${run.stderr}`, 5000);
    }
    await c.destroy(h);
  });

  it("raises and lowers the memory limit, and reads it back without a value", async () => {
    const h = await c.create();
    for (const bytes of [64 * MiB, 32 * MiB, 128 * MiB]) {
      assert.equal(Number((await c.call("LimitMemory", { handle: h, limit_in_bytes: toLong(bytes) })).limit_in_bytes), bytes);
    }
    assert.equal(Number((await c.call("LimitMemory", { handle: h })).limit_in_bytes), 128 * MiB);
    // The kernel keeps whole pages.
    const rounded = Number((await c.call("LimitMemory", { handle: h, limit_in_bytes: toLong(10 * MiB + 1) })).limit_in_bytes);
    assert.ok(rounded % 4096 === 0 && Math.abs(rounded - (10 * MiB + 1)) < 4096, `${rounded}`);
    await c.destroy(h);
  });

  it("writes cpu shares and reads them back, 1 becoming the kernel's 2", async () => {
    const h = await c.create();
    assert.equal(Number((await c.call("LimitCpu", { handle: h, limit_in_shares: toLong(1) })).limit_in_shares), 2);
    assert.equal(Number((await c.call("LimitCpu", { handle: h, limit_in_shares: toLong(512) })).limit_in_shares), 512);
    assert.equal(Number((await c.call("LimitCpu", { handle: h })).limit_in_shares), 512);
    await c.destroy(h);
  });

  it("reports memory, cpu and disk statistics in Info", async () => {
    const h = await c.create();
    await c.run(h, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; head -c 3000000 /dev/zero > ~/file");
    const info = await c.call("Info", { handle: h });
    assert.ok(Number(info.memory_stat!.hierarchical_memory_limit) > 0);
    assert.ok(Number(info.cpu_stat!.usage) > 0, "cpu used");
    assert.ok(Number(info.cpu_stat!.user) + Number(info.cpu_stat!.system) > 0);
    assert.ok(Number(info.disk_stat!.bytes_used) >= 3_000_000, `disk used: ${info.disk_stat!.bytes_used}`);
    await c.destroy(h);
  });

  it("enforces a disk limit, fails writes past it, allows more once raised", async () => {
    const h = await c.create();
    const limited = await c.call("LimitDisk", { handle: h, byte: toLong(10 * MiB), inode: toLong(500) });
    assert.equal(Number(limited.byte_hard), 10 * MiB);
    assert.equal(Number(limited.block_limit), 10 * 1024);
    assert.equal(Number(limited.inode_hard), 0, "inode limits are not enforced by btrfs qgroups, and say so");
    assert.equal((await c.run(h, "head -c 5000000 /dev/zero > ~/a")).exit_status, 0);
    // (busybox head reports any write error as "I/O error"; dd says what the kernel said.)
    const past = await c.run(h, "dd if=/dev/zero of=~/b bs=1M count=20");
    assert.notEqual(past.exit_status, 0);
    assert.match(past.stderr, /Disk quota exceeded/);
    await c.call("LimitDisk", { handle: h, byte: toLong(50 * MiB) });
    const more = await c.run(h, "rm -f ~/b; head -c 20000000 /dev/zero > ~/b");
    assert.equal(more.exit_status, 0, more.stderr);
    await c.destroy(h);
  });

  it("keeps a fork bomb inside the pids limit, and stays responsive", async () => {
    const h = await c.create();
    const id = (await c.call("Info", { handle: h })).container_path.split("/").pop()!;
    await c.spawn(h, "bomb() { bomb | bomb & }; bomb");
    const pidsFile = join("/sys/fs/cgroup/pids", daemon.cgroupParent, id, "pids.current");
    await eventually(async () => Number(await readFile(pidsFile, "utf8")) >= 60, "the bomb to fill the pids limit");
    // Pings spread over half a second while the bomb goes on: the spacing is the measurement.
    const pings: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = Date.now();
      await c.call("Ping");
      pings.push(Date.now() - t);
      await sleep(100);
    }
    assert.ok(Math.max(...pings) < 500, `ping took ${pings} ms during the bomb`);
    const current = Number(await readFile(pidsFile, "utf8"));
    assert.ok(current <= 64, `${current} processes`);
    const t = Date.now();
    await c.destroy(h);
    assert.ok(Date.now() - t < 10_000, "destroyed");
  });
});

describe("disk quotas off", () => {
  it("answers LimitDisk with nothing and leaves disk_stat out", async () => {
    const daemon = await startDaemon({ config: { server: { quota: { disk_quota_enabled: false } } } });
    try {
      const c = await daemon.client();
      const h = await c.create();
      const r = await c.call("LimitDisk", { handle: h, byte: toLong(MiB) });
      assert.deepEqual(Object.keys(r), []);
      assert.equal((await c.call("Info", { handle: h })).disk_stat, null);
      // A job makes the daemon keep its job-id counter in the depot, which
      // stays a plain directory here: stopping must take that file away too.
      assert.equal((await c.call("Run", { handle: h, script: "true" })).exit_status, 0);
      await c.destroy(h);
    } finally {
      await daemon.stop();
    }
  });
});
