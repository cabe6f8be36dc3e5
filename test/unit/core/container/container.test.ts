import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Container } from "../../../../src/core/container/container.js";
import { checkContainerSpec } from "../../../../src/core/container/spec.js";
import { checkProperties, matchesAll } from "../../../../src/core/container/properties.js";

const make = () =>
  new Container({
    id: "000000000v8", handle: "h", path: "/p", uid: 1, rootfs: "/r", bindMounts: [],
    network: { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" },
    graceTime: null, env: [], properties: {}, createdAt: 0,
  });

describe("a container", () => {
  it("is born, then active; a destroying one looks destroyed", () => {
    const c = make();
    assert.equal(c.state, "born");
    assert.equal(c.findable, false);
    c.state = "active";
    c.assertState("active");
    c.destroying = Promise.resolve();
    assert.equal(c.visibleState, "destroyed");
    assert.throws(() => c.assertState("active", "stopped"), { code: "WRONG_STATE", details: { allowed: ["active", "stopped"], current: "destroyed" } });
  });

  it("records each event once", () => {
    const c = make();
    assert.equal(c.addEvent("out-of-memory"), true);
    assert.equal(c.addEvent("out-of-memory"), false);
    assert.deepEqual(c.events, ["out-of-memory"]);
  });

  it("answers its obituary once destroyed", () => {
    const c = make();
    c.state = "active";
    c.obituary = c.info();
    c.state = "destroyed";
    assert.equal(c.info().state, "active");
  });
});

describe("container specs and properties", () => {
  it("match a filter when every pair is there", () => {
    assert.equal(matchesAll({ a: "1", b: "2" }, { a: "1" }), true);
    assert.equal(matchesAll({ a: "1" }, { a: "1", b: "2" }), false);
    assert.equal(matchesAll({ a: "1" }, {}), true);
  });

  it("refuse properties that are not pairs of strings", () => {
    checkProperties({ a: "", "b.c": "x" });
    for (const bad of [{ "": "x" }, { a: 1 }, { a: "\0" }, { ["k".repeat(1025)]: "v" }]) {
      assert.throws(() => checkProperties(bad as never), { code: "INVALID_REQUEST" });
    }
  });

  it("take a grace time of 0 or more seconds, or none", () => {
    checkContainerSpec({ graceTime: 0 });
    checkContainerSpec({ graceTime: null });
    assert.throws(() => checkContainerSpec({ graceTime: Number.NaN }), { code: "INVALID_REQUEST" });
  });
});
