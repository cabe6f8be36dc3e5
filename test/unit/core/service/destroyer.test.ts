import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { CoreError } from "../../../../src/core/errors.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { settle } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("destroying containers", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    m = new FakeMachine();
    s = m.service();
  });

  it("destroys in any state: killed before the answer, the rest cleaned up after it", async () => {
    const h = await s.create({});
    const id = m.id();
    await s.stop(h, { kill: true });
    await s.destroy(h);
    assert.deepEqual(m.runtime.killed, [id]);
    assert.deepEqual(s.list(), []);
    assert.throws(() => s.info(h), { code: "CONTAINER_NOT_FOUND" });
    assert.equal(m.limits.oomWatchers.size, 0, "no longer watched for OOM");
    await s.cleanUps();
    assert.deepEqual(m.runtime.destroyed, [id]);
    assert.deepEqual(m.filesystem.unmounted, [id]);
    assert.deepEqual(m.filesystem.removed, [id]);
    assert.deepEqual(m.network.destroyed.map((d) => d.id), [id]);
    assert.equal(m.depot.dirs.size, 0);
  });

  it("answers before the clean-up, whose uid and network are handed out only once it is done", async () => {
    const small = new FakeMachine();
    const svc = small.service({ uidPoolSize: 1 });
    const h = await svc.create({});
    let letGo!: () => void;
    const gate = new Promise<void>((r) => (letGo = r));
    const destroyNetwork = small.network.destroy.bind(small.network);
    small.network.destroy = async (...args) => {
      await gate;
      return destroyNetwork(...args);
    };
    await svc.destroy(h);
    assert.deepEqual(svc.list(), []);
    assert.equal(small.depot.dirs.size, 1, "the clean-up is under way");
    await assert.rejects(svc.create({}), { code: "UID_POOL_EMPTY" });
    letGo();
    await svc.cleanUps();
    assert.equal(small.depot.dirs.size, 0);
    await svc.create({});
  });

  it("answers a second Destroy during the first with the same outcome", async () => {
    const h = await s.create({});
    await Promise.all([s.destroy(h), s.destroy(h)]);
    assert.equal(m.runtime.destroyed.length, 1);
  });

  it("gives a wait on a process of a destroyed container the process's end and the container as it was", async () => {
    const h = await s.create({});
    const p = await s.run(h, { path: "/bin/sleep", args: ["100"] });
    const waiting = p.collect();
    await settle();
    await s.destroy(h);
    const { result } = await waiting;
    assert.deepEqual(result.exit, { kind: "signaled", signal: 9 });
    assert.equal(p.containerInfo().state, "active", "its obituary");
    assert.deepEqual(p.containerInfo().processIds, [p.id]);
  });

  it("answers a kill that failed with the error and keeps the container listed; a second Destroy completes it", async () => {
    const h = await s.create({ handle: "stuck" });
    const id = m.id();
    m.runtime.failKillOnce = new CoreError("COMMAND_FAILED", "a command failed", { detail: "no such process" });
    await assert.rejects(s.destroy(h), (err: CoreError) => {
      assert.equal(err.code, "DESTROY_FAILED");
      assert.deepEqual(err.details.failures!.map((f) => [f.step, f.error.code]), [["kill", "COMMAND_FAILED"]]);
      assert.equal(err.detail, "no such process");
      return true;
    });
    assert.deepEqual(s.list(), ["stuck"], "still listed, so it can be destroyed again");
    assert.equal(m.state.records.get(id)?.destroying, true, "its record says a destroy began");
    assert.equal(s.info(h).state, "active");
    await s.destroy(h);
    await s.cleanUps();
    assert.deepEqual(s.list(), []);
    assert.equal(m.depot.dirs.size, 0);
  });

  it("keeps what a failed clean-up could not remove, and its uid, and tries again later", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const small = new FakeMachine();
    const svc = small.service({ uidPoolSize: 1 });
    const h = await svc.create({});
    const id = small.id();
    small.network.failDestroyOnce = new CoreError("COMMAND_FAILED", "a command failed", { detail: "Cannot find device" });
    small.filesystem.failRemoveOnce = new Error("device busy");
    let busy = true;
    small.filesystem.unmount = async () => {
      if (busy) throw new Error("target is busy");
    };
    await svc.destroy(h);
    await svc.cleanUps();
    assert.deepEqual(svc.list(), []);
    assert.equal(small.state.records.get(id)?.destroying, true, "its record stays marked for a restarted daemon");
    assert.equal(small.depot.dirs.size, 1, "its directory is kept until the rest is gone");
    assert.deepEqual(small.filesystem.removed, [], "its writable layer too");
    await assert.rejects(svc.create({}), { code: "UID_POOL_EMPTY" });
    busy = false;
    t.mock.timers.tick(5000);
    await svc.cleanUps();
    assert.equal(small.depot.dirs.size, 1, "the writable layer failed this time: the directory stays");
    t.mock.timers.tick(10_000);
    await svc.cleanUps();
    assert.equal(small.depot.dirs.size, 0);
    assert.deepEqual(small.filesystem.removed, [id]);
    assert.equal(small.network.created.size, 0);
    await svc.create({});
  });

  it("gives the uid, network and ports back once destroyed, and not before", async () => {
    const small = new FakeMachine().service({ uidPoolSize: 1 });
    const h = await small.create({});
    await small.netIn(h, {});
    await assert.rejects(small.create({}), { code: "UID_POOL_EMPTY" });
    await small.destroy(h);
    await small.cleanUps();
    const again = await small.create({});
    assert.equal((await small.netIn(again, {})).hostPort, 61002, "the port goes to the tail of the pool");
  });
});
