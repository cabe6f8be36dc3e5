import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkBandwidthLimit, checkNetOutRule, checkPort } from "../../../src/core/net-rules.js";

describe("network rules", () => {
  it("wants a positive rate and burst within tc's range", () => {
    checkBandwidthLimit({ rate: 1000, burst: 100 });
    assert.throws(() => checkBandwidthLimit({ rate: 0, burst: 100 }), { code: "INVALID_REQUEST", message: /rate/ });
    assert.throws(() => checkBandwidthLimit({ rate: 100, burst: 2 ** 33 }), { code: "INVALID_REQUEST", message: /burst/ });
  });

  it("wants ports of 1-65535", () => {
    assert.equal(checkPort(80, "host port"), 80);
    for (const bad of [0, 65536, 1.5, -1]) assert.throws(() => checkPort(bad, "host port"), /host port .* is not a port/);
  });

  it("takes a rule without a destination (everything for its protocol), an equal-ended port range, ICMP with a type", () => {
    checkNetOutRule({ protocol: "all", log: false });
    checkNetOutRule({ protocol: "tcp", ports: { from: 80, to: 80 }, log: true });
    checkNetOutRule({ protocol: "icmp", icmpType: 8, icmpCode: 0, log: false });
  });

  it("refuses inverted ranges, ports without TCP or UDP, ICMP fields elsewhere, a code without a type, unknown protocols", () => {
    for (const rule of [
      { protocol: "tcp", ports: { from: 90, to: 80 }, log: false },
      { protocol: "icmp", ports: { from: 80, to: 80 }, log: false },
      { protocol: "tcp", icmpType: 8, log: false },
      { protocol: "icmp", icmpCode: 1, log: false },
      { protocol: "icmp", icmpType: 256, log: false },
      { protocol: "sctp", log: false },
    ] as const) {
      assert.throws(() => checkNetOutRule(rule as never), { code: "INVALID_REQUEST" }, JSON.stringify(rule));
    }
  });
});
