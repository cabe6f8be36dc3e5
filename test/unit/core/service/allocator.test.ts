import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Allocator } from "../../../../src/core/service/allocator.js";

const config = {
  uidPoolStart: 100, uidPoolSize: 2,
  networkPool: { network: 0x0afe0000, prefix: 29 }, networkReleaseDelayMs: 0,
  portPoolStart: 61001, portPoolSize: 2,
};

describe("allocator", () => {
  it("takes a uid and a network together, and gives the network back when no uid is left", () => {
    const a = new Allocator(config);
    assert.deepEqual(a.acquire(), { uid: 100, network: { subnet: "10.254.0.0/30", hostIp: "10.254.0.1", containerIp: "10.254.0.2" } });
    a.acquire();
    assert.deepEqual(a.use().networks.inUse, 2);
    assert.throws(() => a.acquire(), { code: "NETWORK_UNAVAILABLE" });
    const b = new Allocator({ ...config, uidPoolSize: 1 });
    b.acquire();
    assert.throws(() => b.acquire(), { code: "UID_POOL_EMPTY" });
    assert.equal(b.use().networks.inUse, 1, "the second network went back");
  });

  it("passes over a /30 the host routes more specifically than the pool, not over the pool's own or wider routes", () => {
    const a = new Allocator({ ...config, uidPoolSize: 4 });
    const leftover = { network: 0x0afe0000, prefix: 30 }; // 10.254.0.0/30, another daemon's
    const wide = [{ network: 0x0a000000, prefix: 8 }, { network: 0x0afe0000, prefix: 29 }, { network: 0, prefix: 0 }];
    assert.equal(a.acquire(undefined, [leftover, ...wide]).network.subnet, "10.254.0.4/30");
    assert.throws(() => a.acquire("10.254.0.2", [leftover]), { code: "NETWORK_UNAVAILABLE" }, "not when asked for by name either");
    assert.throws(() => a.acquire(undefined, [leftover]), { code: "NETWORK_UNAVAILABLE" }, "the pool has nothing else");
    assert.equal(a.acquire(undefined, []).network.subnet, "10.254.0.0/30", "once the route is gone, it is handed out");
  });

  it("forwards a host port once, from the pool or named, and a named pool port leaves the pool", () => {
    const a = new Allocator(config);
    assert.deepEqual(a.acquirePort("c1"), { port: 61001, fromPool: true });
    assert.deepEqual(a.acquirePort("c1", 8080), { port: 8080, fromPool: false });
    assert.throws(() => a.acquirePort("c2", 8080), { code: "HOST_PORT_TAKEN" });
    assert.deepEqual(a.acquirePort("c2", 61002), { port: 61002, fromPool: true });
    assert.throws(() => a.acquirePort("c2"), { code: "PORT_POOL_EMPTY" });
    a.releasePort(61001, true);
    assert.deepEqual(a.acquirePort("c3"), { port: 61001, fromPool: true });
  });

  it("claims what a recovered container holds, taking nothing when part of it is not free", () => {
    const a = new Allocator(config);
    const network = { subnet: "10.254.0.4/30", hostIp: "10.254.0.5", containerIp: "10.254.0.6" };
    const c = { id: "x", uid: 101, network, netIns: [{ hostPort: 61002, containerPort: 80, fromPool: true }] };
    a.claim(c as never);
    assert.deepEqual(a.acquire().uid, 100);
    assert.throws(() => a.acquirePort("y", 61002), { code: "HOST_PORT_TAKEN" });
    const clash = { id: "z", uid: 100, network, netIns: [] };
    assert.throws(() => new Allocator(config).claim({ ...clash, uid: 999 } as never), /uid 999/);
    const half = new Allocator(config);
    half.claim({ id: "q", uid: 100, network, netIns: [] } as never);
    assert.throws(() => half.claim({ id: "r", uid: 101, network, netIns: [] } as never), /network/);
    assert.equal(half.use().uids.inUse, 1, "the second one's uid was given back");
    half.release({ id: "q", uid: 100, network, netIns: [] } as never);
    assert.deepEqual(half.use().uids.inUse, 0);
  });
});
