import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIPv4, parseCidr, parseIPv4, parseNetworkSpec } from "../../../src/core/ipv4.js";

describe("ipv4", () => {
  it("parses and formats addresses, refusing anything else", () => {
    assert.equal(parseIPv4("10.254.0.1"), 0x0afe0001);
    assert.equal(formatIPv4(0xffffffff), "255.255.255.255");
    for (const bad of ["10.254.0", "10.254.0.256", "a.b.c.d", "1.2.3.4.5", "", " 1.2.3.4"]) assert.equal(parseIPv4(bad), undefined, bad);
  });

  it("masks a CIDR to its network", () => {
    assert.deepEqual(parseCidr("10.254.1.7/22"), { network: 0x0afe0000, prefix: 22 });
    assert.equal(parseCidr("10.0.0.0/33"), undefined);
    assert.equal(parseCidr("10.0.0.0"), undefined);
  });

  it("reads a NetOut network as an address, a CIDR or a range", () => {
    assert.deepEqual(parseNetworkSpec("10.0.0.1"), { kind: "address", address: "10.0.0.1" });
    assert.deepEqual(parseNetworkSpec("10.0.0.9/8"), { kind: "cidr", cidr: "10.0.0.0/8" });
    assert.deepEqual(parseNetworkSpec("10.0.0.1-10.0.0.9"), { kind: "range", start: "10.0.0.1", end: "10.0.0.9" });
    assert.equal(parseNetworkSpec("10.0.0.9-10.0.0.1"), undefined);
    assert.equal(parseNetworkSpec("example.com"), undefined);
  });
});
