import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FakeDiskQuota, settle } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

// A second service over the same machine and records is the restarted daemon.
describe("recovery after a restart", () => {
  it("takes back a container on the host's network without claiming a /30 or restoring rules for it", async () => {
    const m = new FakeMachine();
    const s = m.service();
    const h = await s.create({ handle: "h", hostNetwork: true, privileged: true });
    const r = m.service();
    assert.deepEqual(await r.recover(), { recovered: 1, removed: 0 });
    assert.equal(r.info(h).network.subnet, "host");
    assert.deepEqual(m.network.restored, []);
    assert.equal(r.info(await r.create({})).network.subnet, "10.254.0.0/30", "the pool's first /30 is free");
  });

  it("takes containers back with their handle, state, network, uid, rules, limits, events, properties and env", async () => {
    const m = new FakeMachine();
    const s = m.service();
    const a = await s.create({ handle: "a", properties: { team: "x" }, env: ["A=1"] });
    const b = await s.create({ handle: "b" });
    await s.netIn(a, { hostPort: 8080, containerPort: 80 });
    await s.netIn(a, {});
    await s.netOut(a, [{ protocol: "tcp", ports: { from: 443, to: 443 }, log: false }]);
    await s.limitMemory(a, 64n * 1024n * 1024n);
    await s.limitCpu(a, 512n);
    await s.limitDisk(a, { byteSoft: 0n, byteHard: 1n << 20n, inodeSoft: 0n, inodeHard: 0n });
    await s.stop(b, { kill: true });
    m.limits.oom(m.id(0));
    await settle();
    const before = s.info(a);
    m.limits.memory.clear();
    m.limits.shares.clear();
    m.quota.set.clear();

    const r = m.service();
    assert.deepEqual(await r.recover(), { recovered: 2, removed: 0 });
    assert.deepEqual(r.list().sort(), ["a", "b"]);
    const after = r.info(a);
    assert.deepEqual(
      [after.network, after.state, after.events, after.properties, after.netIns, after.createdAt],
      [before.network, "stopped", ["out-of-memory"], { team: "x" }, before.netIns, before.createdAt],
    );
    assert.equal(r.info(b).state, "stopped");
    assert.ok(m.network.restored.includes(m.id(0)), "forwards and egress rules applied again");
    assert.equal(await r.limitMemory(a), 64n * 1024n * 1024n, "memory limit applied again");
    assert.equal(await r.limitCpu(a), 512n, "cpu shares applied again");
    assert.equal(m.quota.set.get(m.id(0))!.byteHard, 1n << 20n, "disk limit applied again");
    assert.ok(m.limits.oomWatchers.has(m.id(0)), "watched for OOM again");
    // The pools know what the recovered hold.
    const c = await r.create({});
    assert.ok(![before.network.hostIp, r.info(b).network.hostIp].includes(r.info(c).network.hostIp), "a new network");
    await assert.rejects(r.netIn(c, { hostPort: 8080 }), { code: "HOST_PORT_TAKEN" });
    assert.equal((await r.netIn(c, {})).hostPort, 61002, "the recovered pool port is not handed out again");
    await r.run(a, { path: "/x" }).catch(() => {});
    await r.run(c, { path: "/bin/true" });
    assert.equal(m.runtime.started.at(-1)!.launch.env.includes("A=1"), false, "env belongs to its own container");
  });

  it("finds processes again: running ones end later, ended ones answer at once; numbers are never reused", async () => {
    const m = new FakeMachine();
    const s = m.service();
    const h = await s.create({});
    const running = await s.run(h, { path: "/sleep" });
    const ended = await s.run(h, { path: "/echo", forgetWhenCollected: true });
    const collected = await s.run(h, { path: "/true", forgetWhenCollected: true });
    m.runtime.started[1].write("stdout", "done\n");
    m.runtime.started[1].exit(0);
    m.runtime.started[2].exit(0);
    await collected.collect();
    await settle();

    const r = m.service();
    await r.recover();
    await settle();
    assert.deepEqual(r.info(h).processIds, [running.id]);
    const f = await r.process(h, ended.id).collect();
    assert.deepEqual([f.result.exit, f.stdout.toString()], [{ kind: "exited", code: 0 }, "done\n"]);
    assert.throws(() => r.process(h, ended.id), { code: "PROCESS_NOT_FOUND" }, "it was still to be forgotten once collected");
    const waiting = r.process(h, running.id).collect();
    m.runtime.started[0].write("stdout", "late\n");
    m.runtime.started[0].exit(3);
    const late = await waiting;
    assert.deepEqual([late.result.exit, late.stdout.toString()], [{ kind: "exited", code: 3 }, "late\n"]);
    assert.throws(() => r.process(h, collected.id), { code: "PROCESS_NOT_FOUND" });
    const next = await r.run(h, { path: "/x" });
    assert.ok(Number(next.id) > Number(collected.id), `process ${next.id} after ${collected.id}`);
  });

  it("removes a container without a record, or whose init died, and keeps the rest", async () => {
    const m = new FakeMachine();
    const s = m.service();
    await s.create({ handle: "keep" });
    await s.create({ handle: "dead" });
    const [keepId, deadId] = [...m.depot.dirs];
    m.runtime.deadInits.add(deadId);
    await m.depot.create("00000000zzz");
    const r = m.service({ uidPoolSize: 2 });
    assert.deepEqual(await r.recover(), { recovered: 1, removed: 2 });
    assert.deepEqual(r.list(), ["keep"]);
    assert.ok(m.runtime.destroyed.includes(deadId) && m.runtime.destroyed.includes("00000000zzz"));
    assert.deepEqual([...m.depot.dirs], [keepId]);
    // The dead one's uid and network are free again.
    await r.create({});
  });

  it("finishes off a container whose destroy a killed daemon left half-done, even with its init running", async () => {
    const m = new FakeMachine();
    const s = m.service();
    await s.create({ handle: "keep" });
    await s.create({ handle: "half" });
    const [keepId, halfId] = [...m.depot.dirs];
    m.state.records.set(halfId, { ...m.state.records.get(halfId)!, destroying: true });
    const r = m.service();
    assert.deepEqual(await r.recover(), { recovered: 1, removed: 1 });
    assert.deepEqual(r.list(), ["keep"]);
    assert.ok(m.runtime.destroyed.includes(halfId));
    assert.deepEqual([...m.depot.dirs], [keepId]);
  });

  it("refuses a second record with a handle already recovered", async () => {
    const m = new FakeMachine();
    const s = m.service();
    await s.create({ handle: "twin" });
    await s.create({ handle: "other" });
    const [, second] = [...m.depot.dirs];
    const record = m.state.records.get(second)!;
    m.state.records.set(second, { ...record, handle: "twin" });
    const r = m.service();
    assert.deepEqual(await r.recover(), { recovered: 1, removed: 1 });
    assert.deepEqual(r.list(), ["twin"]);
  });

  it("sweeps runtime state, mounts and network of containers it does not know, keeping the live ones", async () => {
    const m = new FakeMachine();
    const s = m.service();
    await s.create({ handle: "a" });
    const idA = m.id();
    m.runtime.strays.add("0000000stray");
    m.runtime.strays.add(idA);
    m.filesystem.orphanMounts.push("0000000stra2", idA);
    const r = m.service();
    assert.deepEqual(await r.recover(), { recovered: 1, removed: 0 });
    assert.deepEqual([...m.runtime.strays], [idA], "the live container's runtime state stays");
    assert.deepEqual(m.filesystem.orphanMounts, [idA], "the live container's root stays mounted");
  });

  it("starts the grace timer of a recovered container", async () => {
    const m = new FakeMachine();
    const first = m.service();
    await first.create({ graceTime: 0, handle: "brief" });
    // The first daemon stops before its timer fires; the container outlives it.
    await first.shutdown();
    const r = m.service();
    await r.recover();
    assert.equal(r.list().length, 1);
    await new Promise((res) => setTimeout(res, 5));
    await settle();
    assert.deepEqual(r.list(), []);
  });

  it("hands out container ids above the recovered ones, even when the clock went back", async () => {
    const m = new FakeMachine();
    const old = await m.service().create({});
    const r = m.service({}, { clock: () => 1n });
    await r.recover();
    const fresh = await r.create({});
    assert.ok(fresh > old, `${fresh} after ${old}`);
  });

  it("does without disk quotas", async () => {
    const m = new FakeMachine();
    const s = m.service({}, { quota: false });
    const h = await s.create({});
    assert.equal(await s.limitDisk(h, { byteSoft: 0n, byteHard: 10n, inodeSoft: 0n, inodeHard: 0n }), undefined);
    assert.equal(await s.diskLimits(h), undefined);
    assert.equal((await s.metrics(h)).disk, undefined);
    assert.ok(m.quota instanceof FakeDiskQuota);
    assert.equal(m.quota.set.size, 0);
  });
});
