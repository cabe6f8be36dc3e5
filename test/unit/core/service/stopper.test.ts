import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { until } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("stopping containers", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    m = new FakeMachine();
    s = m.service();
  });

  it("sends TERM, and KILL to what is left after the stop timeout", async () => {
    const h = await s.create({});
    m.runtime.container(m.id()).others.push({ ignoresTerm: true }, { ignoresTerm: false });
    await s.stop(h, { kill: false });
    assert.deepEqual(m.runtime.signals.map((x) => x.signal), ["TERM", "KILL"]);
    assert.equal(s.info(h).state, "stopped");
  });

  it("does not KILL what TERM ended", async () => {
    const h = await s.create({});
    m.runtime.container(m.id()).others.push({ ignoresTerm: false });
    await s.stop(h, { kill: false });
    assert.deepEqual(m.runtime.signals.map((x) => x.signal), ["TERM"]);
  });

  it("kills at once with kill, and waits for its processes to end", async () => {
    const h = await s.create({});
    const p = await s.run(h, { path: "/bin/sleep" });
    await s.stop(h, { kill: true });
    assert.deepEqual(m.runtime.signals.map((x) => x.signal), ["KILL"]);
    assert.equal(p.running, false, "the process had ended when Stop answered");
    assert.deepEqual((await p.wait()).exit, { kind: "signaled", signal: 9 });
  });

  it("answers at once in the background, and the stop goes on", async () => {
    s = m.service({ stopTimeoutMs: 200 });
    const h = await s.create({});
    m.runtime.container(m.id()).others.push({ ignoresTerm: true });
    await s.stop(h, { kill: false, background: true });
    assert.equal(s.info(h).state, "stopped", "stopped as far as clients are concerned");
    await until(() => m.runtime.signals.length === 1);
    assert.deepEqual(m.runtime.signals.map((x) => x.signal), ["TERM"], "TERM sent, KILL still to come");
    await s.stop(h, { kill: false });
    assert.deepEqual(m.runtime.signals.map((x) => x.signal), ["TERM", "KILL"], "a second Stop waited for the first");
  });

  it("cuts a graceful stop short with a kill", async () => {
    s = m.service({ stopTimeoutMs: 10_000 });
    const h = await s.create({});
    m.runtime.container(m.id()).others.push({ ignoresTerm: true });
    const started = Date.now();
    const graceful = s.stop(h, { kill: false });
    await until(() => m.runtime.signals.length === 1);
    await s.stop(h, { kill: true });
    await graceful;
    assert.deepEqual(m.runtime.signals.map((x) => x.signal), ["TERM", "KILL"]);
    assert.ok(Date.now() - started < 5000, "the kill did not wait out the stop timeout");
  });

  it("treats a Stop of a stopped container as done, and keeps the state rules after it", async () => {
    const h = await s.create({});
    await s.stop(h, { kill: false });
    await s.stop(h, { kill: false });
    assert.equal(m.runtime.signals.length, 1);
    await assert.rejects(s.run(h, { path: "/bin/true" }), { code: "WRONG_STATE", details: { allowed: ["active"], current: "stopped" } });
    await assert.rejects(s.netOut(h, [{ protocol: "all", log: false }]), { code: "WRONG_STATE" });
    assert.equal(await s.limitCpu(h, 100n), 100n, "limits still apply to a stopped container");
  });

  it("stops only the container asked for", async () => {
    const a = await s.create({ handle: "a" });
    await s.create({ handle: "b" });
    const inB = await s.run("b", { path: "/bin/sleep" });
    await s.stop(a, { kill: true });
    assert.equal(inB.running, true, "a process of another container runs on");
    assert.equal(s.info("b").state, "active");
  });
});
