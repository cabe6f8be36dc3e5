// Capability sets read off /proc and given to containers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GARDEN_CAPABILITIES, gardenCapabilities } from "../../../../src/api/garden/capabilities.js";
import { capabilitiesOf, heldCapabilities, ROOT_CAPABILITIES } from "../../../../src/linux/security/capabilities.js";
import { capabilitySets } from "../../../../src/linux/runtime/process-spec.js";

describe("capabilities", () => {
  it("reads a set as /proc/<pid>/status shows it", () => {
    assert.deepEqual(capabilitiesOf("0000000000000001"), ["CAP_CHOWN"]);
    // Guardian's (Docker's) set, as GATS expects it in /proc/self/status.
    assert.deepEqual(new Set(capabilitiesOf("00000000a80425fb")), new Set(GARDEN_CAPABILITIES));
    assert.deepEqual(new Set(capabilitiesOf("00000000a82425fb")), new Set(gardenCapabilities(true).others));
  });

  it("gives a privileged container what the daemon holds: a root without CAP_SYS_RESOURCE keeps it out", () => {
    const held = heldCapabilities("Name:\twardend\nCapBnd:\t000001fffeffffff\n");
    assert.ok(held.includes("CAP_SYS_ADMIN"));
    assert.ok(!held.includes("CAP_SYS_RESOURCE"));
    assert.deepEqual(heldCapabilities("no such line"), [...ROOT_CAPABILITIES]);
  });

  it("gives root the whole set, other users only bounding and inheritable sets when asked, none by default", () => {
    const garden = { root: GARDEN_CAPABILITIES, others: GARDEN_CAPABILITIES, inheritable: true };
    assert.deepEqual(capabilitySets(garden, 0).effective, [...GARDEN_CAPABILITIES]);
    assert.deepEqual(capabilitySets(garden, 0).inheritable, [...GARDEN_CAPABILITIES]);
    const alice = capabilitySets(garden, 1001);
    assert.deepEqual([alice.effective, alice.permitted, alice.bounding], [[], [], [...GARDEN_CAPABILITIES]]);
    const vcap = capabilitySets({ root: ROOT_CAPABILITIES, others: [], inheritable: false }, 10000);
    assert.deepEqual([vcap.bounding, vcap.inheritable], [[], []]);
  });
});
