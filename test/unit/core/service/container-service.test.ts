// The service's API beyond creating, stopping, destroying and processes
// (each of which has its own file): lookups, listing by properties,
// properties, events, network rules, limits, metrics and files.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { settle } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("container service: lookups and listing", () => {
  let m: FakeMachine;
  let s: ContainerService;
  beforeEach(() => {
    m = new FakeMachine();
    s = m.service();
  });

  it("answers every call on an unknown handle with CONTAINER_NOT_FOUND", async () => {
    for (const call of [
      () => s.info("x"),
      () => s.metrics("x"),
      () => s.stop("x", { kill: false }),
      () => s.destroy("x"),
      () => s.run("x", { path: "/bin/true" }),
      () => s.process("x", "1"),
      () => s.netIn("x", {}),
      () => s.limitMemory("x"),
      () => s.properties("x"),
      () => s.hold("x"),
      () => s.copyIn("x", { src: "/a", dst: "/b" }),
    ]) {
      await assert.rejects(async () => call(), { code: "CONTAINER_NOT_FOUND", details: { handle: "x" } });
    }
  });

  it("lists the containers whose properties hold every pair of a filter", async () => {
    await s.create({ handle: "a", properties: { app: "web", env: "prod" } });
    await s.create({ handle: "b", properties: { app: "web", env: "dev" } });
    await s.create({ handle: "c" });
    assert.deepEqual(s.list(), ["a", "b", "c"]);
    assert.deepEqual(s.list({ app: "web" }), ["a", "b"]);
    assert.deepEqual(s.list({ app: "web", env: "dev" }), ["b"]);
    assert.deepEqual(s.list({ app: "db" }), []);
    assert.deepEqual(s.list({ toString: "x" }), [], "nothing inherited counts as a property");
  });

  it("gets, sets and removes properties, keeping them in the container's record", async () => {
    const h = await s.create({ properties: { a: "1" } });
    await s.setProperty(h, "b", "2");
    await s.setProperty(h, "a", "changed");
    assert.deepEqual(s.properties(h), { a: "changed", b: "2" });
    assert.equal(s.property(h, "b"), "2");
    await s.removeProperty(h, "a");
    assert.deepEqual(m.state.records.get(m.id())!.properties, { b: "2" });
    assert.throws(() => s.property(h, "a"), { code: "PROPERTY_NOT_FOUND", details: { handle: h, key: "a" } });
    await assert.rejects(s.removeProperty(h, "a"), { code: "PROPERTY_NOT_FOUND" });
    await assert.rejects(s.setProperty(h, "", "x"), { code: "INVALID_REQUEST" });
    assert.deepEqual(s.list({ b: "2" }), [h]);
  });

  it("records an event once, in the record too", async () => {
    const h = await s.create({});
    await s.recordEvent(h, "process-output-exceeded");
    await s.recordEvent(h, "process-output-exceeded");
    assert.deepEqual(s.info(h).events, ["process-output-exceeded"]);
    assert.deepEqual(m.state.records.get(m.id())!.events, ["process-output-exceeded"]);
  });

  it("marks an OOM with an event, stops an active container, and counts each", async () => {
    const h = await s.create({});
    m.limits.oom(m.id());
    await settle();
    assert.deepEqual(s.info(h).events, ["out-of-memory"]);
    assert.equal(s.info(h).state, "stopped");
    m.limits.oom(m.id());
    assert.deepEqual(s.info(h).events, ["out-of-memory"], "an event is recorded once");
  });
});

describe("container service: network", () => {
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

describe("container service: limits and metrics", () => {
  let m: FakeMachine;
  let s: ContainerService;
  let h: string;
  beforeEach(async () => {
    m = new FakeMachine();
    s = m.service();
    h = await s.create({});
  });

  it("sets the memory limit and answers with the kernel's (rounded) value; without one it only reads", async () => {
    assert.equal(await s.limitMemory(h), 9223372036854771712n);
    assert.equal(await s.limitMemory(h, 1000n), 4096n);
    assert.equal(await s.limitMemory(h), 4096n);
  });

  it("says which limit failed, keeping what the kernel said", async () => {
    m.limits.failSetMemory = new Error("Device or resource busy");
    await assert.rejects(s.limitMemory(h, 1n), (err: Error & { code: string; details: { operation: string } }) => {
      assert.equal(err.code, "LIMIT_FAILED");
      assert.equal(err.details.operation, "setting memory limit");
      assert.equal((err.cause as Error).message, "Device or resource busy");
      return true;
    });
  });

  it("sets cpu shares and reads back what the kernel holds", async () => {
    assert.equal(await s.limitCpu(h, 1n), 2n);
    assert.equal(await s.limitCpu(h), 2n);
  });

  it("sets disk limits, answering what the mechanism holds (what it cannot enforce as 0)", async () => {
    const held = await s.limitDisk(h, { byteSoft: 5n, byteHard: 4096n, inodeSoft: 0n, inodeHard: 100n });
    assert.deepEqual(held, { byteSoft: 0n, byteHard: 4096n, inodeSoft: 0n, inodeHard: 0n });
    const view = await s.diskLimits(h);
    assert.equal(view!.enforces.byteHard, true);
    assert.equal(view!.enforces.inodeHard, false);
  });

  it("reports memory, cpu, disk, bandwidth, processes and age", async () => {
    const metrics = await s.metrics(h);
    assert.equal(metrics.memory.rss, 1000n);
    assert.deepEqual(metrics.cpu, { usage: 5n, user: 10_000_000n, system: 20_000_000n });
    assert.deepEqual(metrics.disk, { bytesUsed: 4096n });
    assert.equal(metrics.pids, 3);
    assert.ok(metrics.age >= 0 && metrics.age < 60_000);
    const limits = await s.limits(h);
    assert.deepEqual([limits.memoryBytes, limits.cpuShares, limits.disk!.byteHard], [9223372036854771712n, 1024n, 0n]);
  });
});

describe("container service: files", () => {
  let m: FakeMachine;
  let s: ContainerService;
  let h: string;
  beforeEach(async () => {
    m = new FakeMachine();
    s = m.service();
    h = await s.create({});
  });

  it("copies in as the container user, to active containers only", async () => {
    await s.copyIn(h, { src: "/host/dir/", dst: "/home/vcap/x" });
    assert.deepEqual(m.files.copies[0].user, { name: "vcap", uid: 10000, gid: 10000, groups: [], home: "/home/vcap" });
    await s.stop(h, { kill: true });
    await assert.rejects(s.copyIn(h, { src: "/host/a", dst: "/b" }), { code: "WRONG_STATE" });
  });

  it("copies out of stopped containers too, with the owner asked for", async () => {
    await s.stop(h, { kill: true });
    await s.copyOut(h, { src: "/etc/hosts", dst: "/host/out", owner: "nobody:nogroup" });
    assert.equal(m.files.copies[0].owner, "nobody:nogroup");
  });

  it("wants absolute host paths and named container paths", async () => {
    await assert.rejects(s.copyIn(h, { src: "relative/src", dst: "/dst" }), /src_path must be an absolute path on the host/);
    await assert.rejects(s.copyOut(h, { src: "/src", dst: "relative" }), /dst_path must be an absolute path on the host/);
    await assert.rejects(s.copyIn(h, { src: "/src", dst: "" }), /must not be empty/);
    assert.equal(m.files.copies.length, 0);
  });

  it("streams a tar in and out as root by default, or as the user asked for", async () => {
    await s.streamIn(h, { path: "/srv", tar: Readable.from([Buffer.from("archive")]) });
    assert.deepEqual([m.files.streamed[0].user.name, m.files.streamed[0].path, m.files.streamed[0].data!.toString()], ["root", "/srv", "archive"]);
    const out = await s.streamOut(h, { path: "/etc", user: "vcap" });
    let text = "";
    for await (const chunk of out) text += String(chunk);
    assert.equal(text, "tar of /etc");
    assert.equal(m.files.streamed[1].user.name, "vcap");
    await assert.rejects(s.streamOut(h, { path: "" }), { code: "INVALID_REQUEST" });
  });

  it("looks a user up for files without making anything for them", async () => {
    const box = m.runtime.container(m.id());
    box.passwd += "alice:x:1001:1001::/home/alice:/bin/sh\n";
    await s.streamOut(h, { path: "/etc", user: "alice" });
    assert.deepEqual(m.runtime.resolved, [{ id: m.id(), user: "alice" }]);
    assert.deepEqual(box.dirsMade, []);
    await assert.rejects(s.streamIn(h, { path: "/x", user: "mallory", tar: Readable.from([]) }), { code: "USER_NOT_FOUND" });
  });
});
