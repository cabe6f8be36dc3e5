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

  it("destroys in any state and removes everything it had", async () => {
    const h = await s.create({});
    const id = m.id();
    await s.stop(h, { kill: true });
    await s.destroy(h);
    assert.deepEqual(m.runtime.destroyed, [id]);
    assert.deepEqual(m.filesystem.unmounted, [id]);
    assert.deepEqual(m.filesystem.removed, [id]);
    assert.deepEqual(m.network.destroyed.map((d) => d.id), [id]);
    assert.equal(m.depot.dirs.size, 0);
    assert.deepEqual(s.list(), []);
    assert.throws(() => s.info(h), { code: "CONTAINER_NOT_FOUND" });
    assert.equal(m.limits.oomWatchers.size, 0, "no longer watched for OOM");
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

  it("reports every step that failed, keeps the container and its directory, and a second Destroy completes it", async () => {
    const h = await s.create({ handle: "stuck" });
    const id = m.id();
    m.network.failDestroyOnce = new CoreError("COMMAND_FAILED", "a command failed", { detail: "Cannot find device" });
    m.filesystem.unmount = async () => {
      throw new Error("target is busy");
    };
    await assert.rejects(s.destroy(h), (err: CoreError) => {
      assert.equal(err.code, "DESTROY_FAILED");
      assert.deepEqual(err.details.failures!.map((f) => [f.step, f.error.code]), [["network", "COMMAND_FAILED"], ["unmount", "INTERNAL"]]);
      assert.equal(err.detail, "Cannot find device");
      assert.ok(err.cause instanceof AggregateError);
      return true;
    });
    assert.deepEqual(s.list(), ["stuck"], "still listed, so it can be destroyed again");
    assert.equal(m.state.records.get(id)?.destroying, true, "its record says a destroy began, before any step ran");
    assert.equal(m.depot.dirs.size, 1, "its directory is kept until the rest is gone");
    assert.deepEqual(m.filesystem.removed, [], "its writable layer too");
    assert.equal(s.info(h).state, "active");
    m.filesystem.unmount = async () => {};
    await s.destroy(h);
    assert.deepEqual(s.list(), []);
    assert.equal(m.depot.dirs.size, 0);
    assert.equal(m.network.created.size, 0);
    assert.deepEqual(m.filesystem.removed, [id]);
  });

  it("keeps the depot directory when removing the writable layer fails", async () => {
    const h = await s.create({});
    m.filesystem.failRemoveOnce = new Error("device busy");
    await assert.rejects(s.destroy(h), (err: CoreError) => err.code === "DESTROY_FAILED" && err.details.failures![0].step === "filesystem");
    assert.equal(m.depot.dirs.size, 1);
    await s.destroy(h);
    assert.equal(m.depot.dirs.size, 0);
  });

  it("gives the uid, network and ports back once destroyed, and not before", async () => {
    const small = new FakeMachine().service({ uidPoolSize: 1 });
    const h = await small.create({});
    await small.netIn(h, {});
    await assert.rejects(small.create({}), { code: "UID_POOL_EMPTY" });
    await small.destroy(h);
    const again = await small.create({});
    assert.equal((await small.netIn(again, {})).hostPort, 61002, "the port goes to the tail of the pool");
  });
});
