import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { CoreError } from "../../../../src/core/errors.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("creating containers", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    m = new FakeMachine();
    s = m.service({ uidPoolSize: 2 });
  });

  it("names a container by its id when no handle is given, and keeps a client's handle apart from the id", async () => {
    const handle = await s.create({});
    assert.equal(handle, "000000000v8");
    const named = await s.create({ handle: "../my app" });
    assert.equal(named, "../my app");
    assert.deepEqual([...m.depot.dirs], ["000000000v8", "000000000v9"]);
    assert.deepEqual(s.list(), [handle, named]);
    const info = s.info(handle);
    assert.equal(info.state, "active");
    assert.equal(info.path, "/depot/000000000v8");
  });

  it("passes over a network the host already routes (a leftover of another daemon)", async () => {
    const first = s.info(await s.create({})).network.subnet;
    m.network.routes = ["0.0.0.0/0", first.replace(/\.\d+\/30$/, ".4/30")];
    const second = s.info(await s.create({})).network.subnet;
    assert.notEqual(second, first.replace(/\.\d+\/30$/, ".4/30"));
    assert.notEqual(second, first);
  });

  it("refuses a handle that is taken, also by a create under way", async () => {
    await s.create({ handle: "a" });
    await assert.rejects(s.create({ handle: "a" }), { code: "HANDLE_TAKEN", details: { handle: "a" } });
    m.runtime.createDelayMs = 20;
    const first = s.create({ handle: "b" });
    await assert.rejects(s.create({ handle: "b" }), { code: "HANDLE_TAKEN" });
    assert.equal(await first, "b");
  });

  it("does not give a container a handle a client chose, even one that is an id of ours", async () => {
    // The first takes id ...v8 and the handle a client chose: the id the next would get.
    const taken = await s.create({ handle: "000000000v9" });
    const next = await s.create({});
    assert.equal(next, "000000000va");
    assert.deepEqual(s.list(), [taken, next]);
  });

  it("passes rootfs, bind mounts and the network to the machine, the default rootfs otherwise", async () => {
    await s.create({ handle: "a", bindMounts: [{ srcPath: "/s", dstPath: "/d", mode: "rw" }] });
    await s.create({ handle: "b", rootfs: "/other" });
    const [a, b] = [...m.runtime.containers.values()].map((c) => c.launch);
    assert.deepEqual(m.filesystem.prepared.get(a.id)!.base, { kind: "directory", path: "/rootfs" });
    assert.deepEqual(a.bindMounts, [{ srcPath: "/s", dstPath: "/d", mode: "rw" }]);
    assert.deepEqual(m.filesystem.prepared.get(b.id)!.base, { kind: "directory", path: "/other" });
    assert.deepEqual(a.network, { network: `/netns/${a.id}`, user: `/userns/${a.id}` }, "what the network made, for the runtime");
    assert.equal(m.filesystem.prepared.get(a.id)!.containerIp, "10.254.0.2");
  });

  it("puts a container on the host's network: no /30 of the pool, no interfaces, the runtime told so; nothing of the Network's to undo or destroy", async () => {
    const handle = await s.create({ handle: "h", hostNetwork: true, privileged: true });
    const info = s.info(handle);
    assert.equal(info.network.subnet, "host");
    assert.equal(info.network.containerIp, "127.0.0.1");
    assert.equal(m.network.created.size, 0);
    assert.equal(m.runtime.container(info.id).launch.network, "host");
    // The pool's first /30 is still there for the next container.
    assert.equal(s.info(await s.create({ handle: "n" })).network.subnet, "10.254.0.0/30");
    await assert.rejects(s.netIn(handle, { hostPort: 8080 }), { code: "INVALID_REQUEST", message: /host's network/ });
    // Its ports are the host's: a connection to one is made on the host's loopback.
    s.connect(handle, 8080).destroy();
    assert.deepEqual(m.network.connections.map((c) => [c.id, c.port, c.hostNetwork]), [[info.id, 8080, true]]);
    assert.throws(() => s.connect(handle, 0), { code: "INVALID_REQUEST" });
    await assert.rejects(s.netOut(handle, [{ protocol: "tcp", log: false }]), /host's network/);
    await s.destroy(handle);
    assert.ok(!m.network.destroyed.some((d) => d.id === info.id), "no network.destroy for it");
  });

  it("refuses what a container on the host's network cannot have of its own", async () => {
    for (const extra of [{ netIn: [{ hostPort: 80 }] }, { network: "10.254.0.9" }, { sysctls: { "net.ipv4.ip_forward": "1" } }, { limits: { bandwidth: { rate: 1000, burst: 1000 } } }]) {
      await assert.rejects(s.create({ hostNetwork: true, ...extra }), { code: "INVALID_REQUEST", message: /host's network has no network of its own/ }, JSON.stringify(Object.keys(extra)));
    }
    assert.deepEqual(s.list(), []);
  });

  it("undoes every step of a failed create, gives back what it took, and returns the error", async () => {
    m.runtime.failCreate = new Error("runtime said no");
    await assert.rejects(s.create({ handle: "a" }), /runtime said no/);
    assert.deepEqual(s.list(), []);
    assert.deepEqual([...m.depot.dirs], []);
    assert.equal(m.filesystem.prepared.size, 0);
    assert.deepEqual(m.runtime.destroyed, ["000000000v8"]);
    assert.deepEqual(m.network.destroyed.map((d) => d.id), ["000000000v8"]);
    assert.equal(m.state.records.size, 0, "nothing was written");
    m.runtime.failCreate = undefined;
    // The uid, the network and the handle are free again: two containers fit a pool of two.
    await s.create({ handle: "a" });
    await s.create({ handle: "b" });
  });

  it("says the uid pool is empty, and reuses uids after destroy", async () => {
    await s.create({ handle: "a" });
    await s.create({ handle: "b" });
    await assert.rejects(s.create({}), { code: "UID_POOL_EMPTY" });
    await s.destroy("a");
    await assert.rejects(s.create({}), { code: "UID_POOL_EMPTY" }, "not before its clean-up is done");
    await s.cleanUps();
    await s.create({ handle: "c" });
  });

  it("refuses a missing rootfs or bind mount source before making or taking anything", async () => {
    m.filesystem.failCheck = new CoreError("ROOTFS_NOT_FOUND", "no", { details: { path: "/nope" } });
    await assert.rejects(s.create({ rootfs: "/nope" }), { code: "ROOTFS_NOT_FOUND" });
    assert.deepEqual([...m.depot.dirs], []);
    assert.equal(m.network.created.size, 0);
    m.filesystem.failCheck = undefined;
    await s.create({ handle: "next" });
    assert.equal(s.info("next").network.hostIp, "10.254.0.1", "the network the failed request did not take goes to the next one");
  });

  it("refuses empty handles, NUL and control characters, NUL in paths, bad grace times, env, properties and DNS settings", async () => {
    for (const spec of [
      { handle: "" },
      { handle: "x\0y" },
      { handle: "line\nbreak" },
      { handle: "del\x7f" },
      { handle: "x".repeat(1025) },
      { rootfs: "/r\0oot" },
      { bindMounts: [{ srcPath: "/a\0", dstPath: "/b", mode: "ro" as const }] },
      { graceTime: -1 },
      { env: ["NOEQUALS"] },
      { properties: { "": "v" } },
      { dns: { servers: ["1.1.1.1 evil"], searches: [], options: [] } },
      { dns: { servers: ["1", "2", "3", "4"], searches: [], options: [] } },
      { dns: { servers: [], searches: ["a\nnameserver 6.6.6.6"], options: [] } },
      { sysctls: { "vm.swappiness": "1" } as Record<string, string> },
      { sysctls: { "kernel.shmmax": "1\n2" } as Record<string, string> },
    ]) {
      await assert.rejects(s.create(spec), { code: "INVALID_REQUEST" }, JSON.stringify(spec));
    }
    assert.deepEqual(s.list(), []);
    assert.equal(m.depot.dirs.size, 0);
    // Other names are names: slashes, dots, spaces and non-ASCII reach no path.
    for (const handle of ["..", "a/b", "ünï cödé"]) {
      assert.equal(await s.create({ handle }), handle);
      assert.match([...m.depot.dirs].at(-1)!, /^[0-9a-v]{11}$/);
      await s.destroy(handle);
    }
  });

  it("applies the limits, forwards and egress rules a spec asks for, then writes the record once", async () => {
    const handle = await s.create({
      handle: "full",
      properties: { app: "web" },
      env: ["A=1"],
      limits: { memoryBytes: 1000n, cpuShares: 100n, bandwidth: { rate: 10, burst: 20 }, disk: { byteSoft: 0n, byteHard: 4096n, inodeSoft: 0n, inodeHard: 0n } },
      netIn: [{ hostPort: 8080, containerPort: 80 }, {}],
      netOut: [{ protocol: "tcp", ports: { from: 443, to: 443 }, log: false }],
    });
    const id = m.id();
    assert.equal(await s.limitMemory(handle), 4096n);
    assert.equal(await s.limitCpu(handle), 100n);
    assert.deepEqual(m.network.limits.get(id), { rate: 10, burst: 20 });
    assert.equal(m.quota.set.get(id)!.byteHard, 4096n);
    assert.deepEqual(m.network.netIns.map((n) => n.rule), [{ hostPort: 8080, containerPort: 80 }, { hostPort: 61001, containerPort: 61001 }]);
    assert.equal(m.network.netOuts.length, 1);
    assert.equal(m.state.saves, 1, "one record, written when the container was whole");
    const record = m.state.records.get(id)!;
    assert.deepEqual([record.properties, record.env, record.memoryLimit], [{ app: "web" }, ["A=1"], "1000"]);
  });

  it("undoes a create whose spec cannot be applied, forwards and pool ports included", async () => {
    m.network.failNetIn = undefined;
    const bad = s.create({ handle: "x", netIn: [{}], netOut: [{ protocol: "icmp", ports: { from: 1, to: 2 }, log: false }] });
    await assert.rejects(bad, { code: "INVALID_REQUEST" });
    assert.deepEqual(s.list(), []);
    assert.equal(m.depot.dirs.size, 0);
    assert.equal(m.network.destroyed[0].known!.netIns.length, 1, "its forward was removed with it");
    await s.create({ handle: "y", netIn: [{}, {}, {}] });
    assert.deepEqual(m.network.netIns.slice(-3).map((n) => n.rule.hostPort).sort(), [61001, 61002, 61003], "the pool port came back");
  });

  it("refuses creates once shut down, after finishing those under way", async () => {
    m.runtime.createDelayMs = 30;
    const creating = s.create({ handle: "late" });
    await new Promise((r) => setImmediate(r));
    await s.shutdown();
    assert.equal(s.containerCount, 1, "the create under way finished before shutdown returned");
    assert.equal(await creating, "late");
    await assert.rejects(s.create({}), { code: "SHUTTING_DOWN" });
  });
});
