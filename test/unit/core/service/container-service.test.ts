// The service's API for lookups, listing by properties, properties and
// events. Each part behind it has its own file (creator, destroyer, stopper,
// processes, networking, limits, files, oom, grace-reaper, recovery).
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("container service: lookups and listing", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    m = new FakeMachine();
    s = m.service();
  });

  it("answers every call on an unknown handle with CONTAINER_NOT_FOUND", async () => {
    for (const call of [
      () => s.info("x"),
      () => s.metrics("x"),
      () => s.stop("x", { kill: false }),
      () => s.destroy("x"),
      () => s.run("x", { path: "/bin/true" }),
      () => s.process("x", "1"),
      () => s.netIn("x", {}),
      () => s.limitMemory("x"),
      () => s.properties("x"),
      () => s.hold("x"),
      () => s.copyIn("x", { src: "/a", dst: "/b" }),
    ]) {
      await assert.rejects(async () => call(), { code: "CONTAINER_NOT_FOUND", details: { handle: "x" } });
    }
  });

  it("lists the containers whose properties hold every pair of a filter", async () => {
    await s.create({ handle: "a", properties: { app: "web", env: "prod" } });
    await s.create({ handle: "b", properties: { app: "web", env: "dev" } });
    await s.create({ handle: "c" });
    assert.deepEqual(s.list(), ["a", "b", "c"]);
    assert.deepEqual(s.list({ app: "web" }), ["a", "b"]);
    assert.deepEqual(s.list({ app: "web", env: "dev" }), ["b"]);
    assert.deepEqual(s.list({ app: "db" }), []);
    assert.deepEqual(s.list({ toString: "x" }), [], "nothing inherited counts as a property");
  });

  it("gets, sets and removes properties, keeping them in the container's record", async () => {
    const h = await s.create({ properties: { a: "1" } });
    await s.setProperty(h, "b", "2");
    await s.setProperty(h, "a", "changed");
    assert.deepEqual(s.properties(h), { a: "changed", b: "2" });
    assert.equal(s.property(h, "b"), "2");
    await s.removeProperty(h, "a");
    assert.deepEqual(m.state.records.get(m.id())!.properties, { b: "2" });
    assert.throws(() => s.property(h, "a"), { code: "PROPERTY_NOT_FOUND", details: { handle: h, key: "a" } });
    await assert.rejects(s.removeProperty(h, "a"), { code: "PROPERTY_NOT_FOUND" });
    await assert.rejects(s.setProperty(h, "", "x"), { code: "INVALID_REQUEST" });
    assert.deepEqual(s.list({ b: "2" }), [h]);
  });

  it("records an event once, in the record too", async () => {
    const h = await s.create({});
    await s.recordEvent(h, "process-output-exceeded");
    await s.recordEvent(h, "process-output-exceeded");
    assert.deepEqual(s.info(h).events, ["process-output-exceeded"]);
    assert.deepEqual(m.state.records.get(m.id())!.events, ["process-output-exceeded"]);
  });
});
