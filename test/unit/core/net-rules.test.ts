import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatIPv4, parseCidr, parseIPv4, parseNetworkSpec } from "../../../src/core/ipv4.js";
import { bandwidthLimit, netOutRule } from "../../../src/core/net-rules.js";
import { poolCidr, SubnetPool } from "../../../src/core/subnet-pool.js";

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

describe("subnet pool", () => {
  it("turns Warden's start address and size (in /30 blocks) into a CIDR", () => {
    assert.deepEqual(poolCidr("10.254.0.0", 256), { network: 0x0afe0000, prefix: 22 });
    assert.deepEqual(poolCidr("10.254.0.0", 64), { network: 0x0afe0000, prefix: 24 });
  });

  it("hands out /30s: host .1, container .2, first in first out", () => {
    const pool = new SubnetPool(parseCidr("10.254.0.0/29")!, 0);
    assert.deepEqual(pool.acquire(), { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" });
    assert.equal(pool.acquire().subnet, "10.254.0.4/30");
    assert.throws(() => pool.acquire(), { message: "Could not acquire network" });
  });

  it("gives a requested address's /30, or Warden's error when taken or foreign", () => {
    const pool = new SubnetPool(parseCidr("10.254.0.0/28")!, 0);
    assert.equal(pool.acquireAddress("10.254.0.6").subnet, "10.254.0.4/30");
    assert.throws(() => pool.acquireAddress("10.254.0.5"), { message: "Could not acquire network: 10.254.0.4" });
    assert.throws(() => pool.acquireAddress("192.168.0.1"), { message: "Could not acquire network: 192.168.0.0" });
    assert.throws(() => pool.acquireAddress("nonsense"), /Invalid network address/);
  });
});

describe("NetOut rules", () => {
  it("needs a network, a port or a port range, in Warden's words", () => {
    assert.throws(() => netOutRule({}), { message: "Please specify network, port, and/or port_range." });
    assert.throws(() => netOutRule({ protocol: "icmp", icmpType: 8 }), { message: "Please specify network, port, and/or port_range." });
  });

  it("takes TCP when no protocol is given", () => {
    assert.deepEqual(netOutRule({ port: 80 }), { protocol: "tcp", log: false, ports: { from: 80, to: 80 } });
  });

  it("prefers port_range to port, and wants its maximum above its minimum", () => {
    assert.deepEqual(netOutRule({ port: 80, portRange: "8000:8080" }).ports, { from: 8000, to: 8080 });
    assert.throws(() => netOutRule({ portRange: "90:80" }), { message: "Port range maximum must be greater than minimum" });
    assert.throws(() => netOutRule({ portRange: "80:80" }), { message: "Port range maximum must be greater than minimum" });
    assert.throws(() => netOutRule({ portRange: "80-90" }), /Invalid port range/);
    assert.throws(() => netOutRule({ port: 70000 }), /not a port/);
    assert.throws(() => netOutRule({ port: 0 }), /not a port/);
  });

  it("refuses ports with ICMP or ALL, and ICMP fields without ICMP", () => {
    assert.throws(() => netOutRule({ port: 80, protocol: "all" }), /TCP and UDP/);
    assert.throws(() => netOutRule({ network: "10.0.0.1", icmpType: 8 }), /ICMP only/);
  });

  it("ignores -1 for ICMP type and code, and a code without a type", () => {
    assert.deepEqual(netOutRule({ network: "10.0.0.1", protocol: "icmp", icmpType: -1, icmpCode: -1 }), {
      protocol: "icmp",
      log: false,
      network: { kind: "address", address: "10.0.0.1" },
    });
    const codeOnly = netOutRule({ network: "10.0.0.1", protocol: "icmp", icmpCode: 3 });
    assert.equal(codeOnly.icmpCode, undefined);
    const both = netOutRule({ network: "10.0.0.1", protocol: "icmp", icmpType: 3, icmpCode: 1 });
    assert.deepEqual([both.icmpType, both.icmpCode], [3, 1]);
    assert.throws(() => netOutRule({ network: "10.0.0.1", protocol: "icmp", icmpType: 300 }), /0-255/);
  });

  it("refuses a network it cannot read", () => {
    assert.throws(() => netOutRule({ network: "10.0.0.0/40" }), /Invalid network/);
  });
});

describe("bandwidth limits", () => {
  it("wants a positive rate and burst within tc's range", () => {
    assert.deepEqual(bandwidthLimit(1000, 100), { rate: 1000, burst: 100 });
    assert.throws(() => bandwidthLimit(0, 100), /rate/);
    assert.throws(() => bandwidthLimit(100, 2 ** 33), /burst/);
  });
});
