import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("networking", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    m = new FakeMachine();
    s = m.service();
  });

  it("gives each container a /30 from the pool, and a requested one when free", async () => {
    const a = await s.create({});
    const b = await s.create({ network: "10.254.0.9" });
    assert.deepEqual([s.info(a).network.hostIp, s.info(a).network.containerIp], ["10.254.0.1", "10.254.0.2"]);
    assert.equal(s.info(b).network.containerIp, "10.254.0.10");
    await assert.rejects(s.create({ network: "10.254.0.10" }), { code: "NETWORK_UNAVAILABLE", details: { network: "10.254.0.8" } });
  });

  it("forwards a port from the pool, the container port defaulting to it, and gives it back on destroy", async () => {
    const h = await s.create({});
    assert.deepEqual(await s.netIn(h, {}), { hostPort: 61001, containerPort: 61001 });
    assert.deepEqual(await s.netIn(h, { containerPort: 8080 }), { hostPort: 61002, containerPort: 8080 });
    assert.deepEqual(await s.netIn(h, {}), { hostPort: 61003, containerPort: 61003 });
    await assert.rejects(s.netIn(h, {}), { code: "PORT_POOL_EMPTY" });
    await s.destroy(h);
    await s.cleanUps();
    assert.deepEqual(m.network.destroyed[0].known!.netIns.map((r) => r.hostPort), [61001, 61002, 61003]);
    const other = await s.create({});
    assert.equal((await s.netIn(other, {})).hostPort, 61001);
  });

  it("forwards an explicit host port once across containers, taking a pool port named so out of the pool", async () => {
    const a = await s.create({});
    const b = await s.create({});
    assert.deepEqual(await s.netIn(a, { hostPort: 8080, containerPort: 80 }), { hostPort: 8080, containerPort: 80 });
    await assert.rejects(s.netIn(b, { hostPort: 8080 }), { code: "HOST_PORT_TAKEN", details: { port: 8080 } });
    await s.netIn(b, { hostPort: 61002 });
    assert.equal((await s.netIn(b, {})).hostPort, 61001);
    assert.equal((await s.netIn(b, {})).hostPort, 61003);
    await assert.rejects(s.netIn(a, { hostPort: 0 }), { code: "INVALID_REQUEST" });
  });

  it("leaves nothing when the firewall refuses a forward", async () => {
    const h = await s.create({});
    m.network.failNetIn = new Error("nft said no");
    await assert.rejects(s.netIn(h, { hostPort: 9000 }), /nft said no/);
    await assert.rejects(s.netIn(h, {}), /nft said no/);
    m.network.failNetIn = undefined;
    assert.deepEqual(await s.netIn(h, { hostPort: 9000 }), { hostPort: 9000, containerPort: 9000 });
    const ports = [(await s.netIn(h, {})).hostPort, (await s.netIn(h, {})).hostPort, (await s.netIn(h, {})).hostPort];
    assert.deepEqual(ports.sort(), [61001, 61002, 61003]);
  });

  it("applies egress rules to active containers only, all checked before any is applied", async () => {
    const h = await s.create({});
    await s.netOut(h, [{ protocol: "tcp", network: { kind: "cidr", cidr: "10.0.0.0/8" }, ports: { from: 80, to: 80 }, log: false }]);
    await assert.rejects(
      s.netOut(h, [{ protocol: "udp", log: false }, { protocol: "tcp", ports: { from: 9, to: 1 }, log: false }]),
      { code: "INVALID_REQUEST" },
    );
    assert.equal(m.network.netOuts.length, 1, "the good rule of a bad batch was not applied");
    await s.stop(h, { kill: true });
    await assert.rejects(s.netOut(h, [{ protocol: "all", log: false }]), { code: "WRONG_STATE" });
    await s.destroy(h);
    assert.equal(m.network.destroyed[0].known!.netOut, true);
  });

  it("limits bandwidth and reports it, 4294967295 before any limit", async () => {
    const h = await s.create({});
    assert.deepEqual((await s.metrics(h)).bandwidth, { inRate: 4294967295, inBurst: 4294967295, outRate: 4294967295, outBurst: 4294967295 });
    assert.deepEqual(await s.limitBandwidth(h, { rate: 1000, burst: 500 }), { rate: 1000, burst: 500 });
    assert.deepEqual((await s.limits(h)).bandwidth, { inRate: 1000, inBurst: 500, outRate: 1000, outBurst: 500 });
    await assert.rejects(s.limitBandwidth(h, { rate: 0, burst: 1 }), { code: "INVALID_REQUEST" });
  });
});

