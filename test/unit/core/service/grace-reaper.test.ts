import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { Container } from "../../../../src/core/container/container.js";
import { GraceReaper } from "../../../../src/core/service/grace-reaper.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { settle } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

function container(graceTime: number | null): Container {
  return new Container({
    id: "000000000v8",
    handle: "h",
    path: "/depot/000000000v8",
    uid: 10000,
    rootfs: "/rootfs",
    bindMounts: [],
    network: { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" },
    graceTime,
    env: [],
    properties: {},
    createdAt: 0,
  });
}

describe("grace reaper", () => {
  let expired: Container[];
  let reaper: GraceReaper;
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout"] });
    expired = [];
    reaper = new GraceReaper((c) => expired.push(c));
  });
  afterEach(() => mock.timers.reset());

  it("expires a container nobody holds once its grace time has passed, not before", () => {
    const c = container(5);
    reaper.track(c);
    mock.timers.tick(4999);
    assert.deepEqual(expired, []);
    mock.timers.tick(1);
    assert.deepEqual(expired, [c]);
  });

  it("expires at once with grace time 0, and never without a grace time", () => {
    const zero = container(0);
    const never = container(null);
    reaper.track(zero);
    reaper.track(never);
    mock.timers.tick(0);
    assert.deepEqual(expired, [zero]);
    mock.timers.tick(10 ** 9);
    assert.deepEqual(expired, [zero]);
  });

  it("runs no timer while any hold is kept; the last release starts it afresh", () => {
    const c = container(5);
    reaper.track(c);
    mock.timers.tick(4000);
    const first = reaper.hold(c);
    const second = reaper.hold(c);
    assert.equal(reaper.isHeld(c), true);
    mock.timers.tick(10_000);
    first();
    first();
    mock.timers.tick(10_000);
    assert.deepEqual(expired, [], "a release counts once; one hold is still kept");
    second();
    mock.timers.tick(4999);
    assert.deepEqual(expired, [], "the grace time counts from the last release");
    mock.timers.tick(1);
    assert.deepEqual(expired, [c]);
  });

  it("restarts a running timer on touch, and leaves a held one alone", () => {
    const c = container(5);
    reaper.track(c);
    mock.timers.tick(4000);
    reaper.touch(c);
    mock.timers.tick(4000);
    assert.deepEqual(expired, []);
    mock.timers.tick(1000);
    assert.deepEqual(expired, [c]);
    const held = container(5);
    reaper.track(held);
    const release = reaper.hold(held);
    reaper.touch(held);
    mock.timers.tick(10_000);
    assert.deepEqual(expired, [c], "touch starts no timer on a held container");
    release();
  });

  it("takes a new grace time at once", () => {
    const c = container(100);
    reaper.track(c);
    c.graceTime = 1;
    reaper.regraced(c);
    mock.timers.tick(1000);
    assert.deepEqual(expired, [c]);
    const forever = container(1);
    reaper.track(forever);
    forever.graceTime = null;
    reaper.regraced(forever);
    mock.timers.tick(10_000);
    assert.deepEqual(expired, [c], "no grace time: never reaped");
  });

  it("forgets an untracked container, and runs no timer once stopped", () => {
    const gone = container(1);
    reaper.track(gone);
    reaper.untrack(gone);
    const later = container(1);
    reaper.track(later);
    reaper.stop();
    reaper.track(container(1));
    mock.timers.tick(10_000);
    assert.deepEqual(expired, []);
  });
});

describe("grace time of the service", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout"] });
    m = new FakeMachine();
    s = m.service({ graceTime: 10 });
  });
  afterEach(() => mock.timers.reset());

  it("destroys a container nobody holds after its grace time, the daemon's by default", async () => {
    const h = await s.create({});
    mock.timers.tick(9999);
    assert.deepEqual(s.list(), [h]);
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(s.list(), []);
    assert.equal(m.runtime.destroyed.length, 1);
  });

  it("keeps a held container, and destroys it once released", async () => {
    const h = await s.create({ graceTime: 1 });
    const release = s.hold(h);
    mock.timers.tick(5000);
    await settle();
    assert.deepEqual(s.list(), [h]);
    release();
    mock.timers.tick(1000);
    await settle();
    assert.deepEqual(s.list(), []);
  });

  it("sets a container's grace time, keeps it in its record, and refuses a negative one", async () => {
    const h = await s.create({ graceTime: null });
    await s.setGraceTime(h, 2);
    assert.equal(s.info(h).graceTime, 2);
    assert.equal(m.state.records.get(m.id())!.graceTime, 2);
    await assert.rejects(s.setGraceTime(h, -1), { code: "INVALID_REQUEST" });
    mock.timers.tick(2000);
    await settle();
    assert.deepEqual(s.list(), []);
  });

  it("restarts the timer on touch", async () => {
    const h = await s.create({ graceTime: 2 });
    mock.timers.tick(1500);
    s.touch(h);
    mock.timers.tick(1500);
    await settle();
    assert.deepEqual(s.list(), [h]);
    mock.timers.tick(500);
    await settle();
    assert.deepEqual(s.list(), []);
  });

  it("reaps nothing after shutdown: containers outlive the daemon", async () => {
    const h = await s.create({ graceTime: 1 });
    await s.shutdown();
    mock.timers.tick(10_000);
    await settle();
    assert.deepEqual(s.list(), [h]);
  });
});
