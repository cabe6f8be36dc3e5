import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { netOutRule } from "../../../../src/api/warden/net-out.js";

describe("Warden NetOut rules", () => {
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
