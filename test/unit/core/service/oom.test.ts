import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { settle } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("out of memory", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    m = new FakeMachine();
    s = m.service();
  });

  it("marks an OOM with an event, stops an active container, and counts each", async () => {
    const h = await s.create({});
    m.limits.oom(m.id());
    await settle();
    assert.deepEqual(s.info(h).events, ["out-of-memory"]);
    assert.equal(s.info(h).state, "stopped");
    m.limits.oom(m.id());
    assert.deepEqual(s.info(h).events, ["out-of-memory"], "an event is recorded once");
  });

  it("stops watching once the container is destroyed, and does nothing for one being destroyed", async () => {
    const h = await s.create({});
    const id = m.id();
    const watcher = m.limits.oomWatchers.get(id)!;
    await s.destroy(h);
    assert.equal(m.limits.oomWatchers.size, 0);
    const saves = m.state.saves;
    watcher();
    await settle();
    assert.equal(m.state.saves, saves, "nothing written for a destroyed container");
  });
});
