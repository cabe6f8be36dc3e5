import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ContainerIdGenerator, decodeContainerId, encodeContainerId, isContainerId } from "../../../src/core/container-id.js";

describe("container ids", () => {
  it("are 11 base-32 digits of bits 54..0, most significant first", () => {
    assert.equal(encodeContainerId(0n), "00000000000");
    assert.equal(encodeContainerId(31n), "0000000000v");
    assert.equal(encodeContainerId(32n), "00000000010");
    assert.equal(encodeContainerId(2n ** 55n - 1n), "vvvvvvvvvvv");
  });

  it("decode back to their value", () => {
    const v = 1_700_000_000_123_456n;
    assert.equal(decodeContainerId(encodeContainerId(v)), v);
    assert.equal(decodeContainerId("17l4t3ofu7b") !== undefined, true);
  });

  it("start at the current time in microseconds and count up by one", () => {
    const ids = new ContainerIdGenerator(() => 1_000_000n);
    const a = ids.generate();
    const b = ids.generate();
    assert.equal(decodeContainerId(a), 1_000_000n);
    assert.equal(decodeContainerId(b), 1_000_001n);
  });

  it("never go below a floor of ids already in use", () => {
    const ids = new ContainerIdGenerator(() => 5n);
    assert.equal(decodeContainerId(ids.generate(100n)), 101n);
  });

  it("are recognised, and handles or paths are not", () => {
    assert.equal(isContainerId("17l4t3ofu7b"), true);
    assert.equal(isContainerId("../../etc/x"), false);
    assert.equal(isContainerId("17L4T3OFU7B"), false);
    assert.equal(isContainerId("17l4t3ofu7"), false);
  });
});
