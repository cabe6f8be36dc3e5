import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRouteTable } from "../../../../src/linux/network/host-routes.js";

const TABLE = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
w-1j1d9njak8h-0\t0000FE0A\t00000000\t0001\t0\t0\t0\tFCFFFFFF\t0\t0\t0
`;

describe("the host's routes", () => {
  it("reads /proc/net/route's little-endian addresses and masks as networks", () => {
    assert.deepEqual(parseRouteTable(TABLE), ["0.0.0.0/0", "192.0.2.0/24", "10.254.0.0/30"]);
  });

  it("skips what is no route line", () => {
    assert.deepEqual(parseRouteTable("Iface\tDestination\nbroken\n\n"), []);
  });
});
