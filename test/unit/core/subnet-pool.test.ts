import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseCidr } from "../../../src/core/ipv4.js";
import { poolCidr, SubnetPool } from "../../../src/core/subnet-pool.js";

describe("subnet pool", () => {
  it("turns Warden's start address and size (in /30 blocks) into a CIDR", () => {
    assert.deepEqual(poolCidr("10.254.0.0", 256), { network: 0x0afe0000, prefix: 22 });
    assert.deepEqual(poolCidr("10.254.0.0", 64), { network: 0x0afe0000, prefix: 24 });
  });

  it("hands out /30s: host .1, container .2, first in first out", () => {
    const pool = new SubnetPool(parseCidr("10.254.0.0/29")!, 0);
    assert.deepEqual(pool.acquire(), { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" });
    assert.equal(pool.acquire().subnet, "10.254.0.4/30");
    assert.throws(() => pool.acquire(), { code: "NETWORK_UNAVAILABLE", details: {} });
  });

  it("gives a requested address's /30, or says which network is not available", () => {
    const pool = new SubnetPool(parseCidr("10.254.0.0/28")!, 0);
    assert.equal(pool.acquireAddress("10.254.0.6").subnet, "10.254.0.4/30");
    assert.throws(() => pool.acquireAddress("10.254.0.5"), { code: "NETWORK_UNAVAILABLE", details: { network: "10.254.0.4" } });
    assert.throws(() => pool.acquireAddress("192.168.0.1"), { code: "NETWORK_UNAVAILABLE", details: { network: "192.168.0.0" } });
    assert.throws(() => pool.acquireAddress("nonsense"), /Invalid network address/);
  });
});
