import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { ConnectionHolds } from "../../../../src/api/warden/holds.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { settle } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

// Warden's rule: a container is held by every connection open when it
// existed or that named it since; its grace time runs once none is left.
describe("Warden's connection holds", () => {
  let s: ContainerService;
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout"] });
    s = new FakeMachine().service({ graceTime: 1 });
  });
  afterEach(() => mock.timers.reset());

  async function expire(): Promise<void> {
    mock.timers.tick(1000);
    await settle();
  }

  it("holds every container there is when a connection opens, until it closes", async () => {
    const h = await s.create({});
    const conn = new ConnectionHolds(s);
    conn.holdAll();
    await expire();
    assert.deepEqual(s.list(), [h], "held while the connection is open");
    conn.releaseAll();
    await expire();
    assert.deepEqual(s.list(), []);
  });

  it("does not hold a container made after the connection opened, until the connection names it", async () => {
    const conn = new ConnectionHolds(s);
    conn.holdAll();
    await s.create({});
    const named = await s.create({});
    conn.hold(named);
    await expire();
    assert.deepEqual(s.list(), [named], "the unnamed one was reaped, the named one held");
    conn.releaseAll();
  });

  it("holds a container made anew under a handle the connection held before", async () => {
    const conn = new ConnectionHolds(s);
    await s.create({ handle: "again" });
    conn.hold("again");
    await s.destroy("again");
    await s.create({ handle: "again" });
    conn.hold("again");
    await expire();
    assert.deepEqual(s.list(), ["again"]);
    conn.releaseAll();
    await expire();
    assert.deepEqual(s.list(), []);
  });

  it("holds nothing for a handle there is no container of", () => {
    const conn = new ConnectionHolds(s);
    conn.hold("nope");
    conn.releaseAll();
  });
});
