import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { WardenError } from "../../../src/core/errors.js";
import { ContainerManager, type ManagerConfig, type SpawnOptions } from "../../../src/core/container-manager.js";
import { ContainerIdGenerator } from "../../../src/core/container-id.js";
import { WSH_DEFAULT_RLIMITS } from "../../../src/core/job-environment.js";
import {
  FakeDepot,
  FakeDiskQuota,
  FakeFilesystem,
  FakeLimits,
  FakeLogSink,
  FakeNetwork,
  FakeRuntime,
  FakeStateStore,
  FakeCopier,
  nullLogger,
  settle,
} from "../../fakes/fakes.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const baseConfig: ManagerConfig = {
  defaultRootfs: "/rootfs",
  graceTime: null,
  jobOutputLimit: 100,
  containerRlimits: { nofile: 4096n },
  stopTimeoutMs: 50,
  lang: "en_US.UTF-8",
  uidPoolStart: 10000,
  uidPoolSize: 2,
  containerUser: "vcap",
  networkPool: { network: 0x0afe0000, prefix: 28 },
  networkReleaseDelayMs: 0,
  portPoolStart: 61001,
  portPoolSize: 3,
};

const job = (script = "true", more: Partial<SpawnOptions> = {}): SpawnOptions => ({
  script,
  privileged: false,
  rlimits: {},
  discardOutput: false,
  ...more,
});

let runtime: FakeRuntime;
let network: FakeNetwork;
let limits: FakeLimits;
let quota: FakeDiskQuota;
let state: FakeStateStore;
let copier: FakeCopier;
let fs: FakeFilesystem;
let depot: FakeDepot;
let logSink: FakeLogSink;

function manager(config: Partial<ManagerConfig> = {}) {
  runtime = new FakeRuntime();
  network = new FakeNetwork();
  limits = new FakeLimits();
  quota = new FakeDiskQuota();
  state = new FakeStateStore();
  copier = new FakeCopier();
  fs = new FakeFilesystem();
  depot = new FakeDepot();
  logSink = new FakeLogSink();
  return new ContainerManager(
    { ...baseConfig, ...config },
    {
      runtime,
      network,
      limits,
      copier,
      diskQuota: quota,
      filesystem: fs,
      depot,
      state,
      logSink,
      logger: nullLogger,
      ids: new ContainerIdGenerator(() => 1000n),
    },
  );
}

describe("container manager: create, list, info", () => {
  let m: ContainerManager;
  beforeEach(() => (m = manager()));

  it("names a container by its id when no handle is given", async () => {
    const handle = await m.create({ bindMounts: [] });
    assert.equal(handle, "000000000v8");
    assert.deepEqual(m.list(), [handle]);
    const info = await m.info(handle);
    assert.equal(info.state, "active");
    assert.equal(info.containerPath, "/depot/000000000v8");
    assert.deepEqual(info.jobIds, []);
  });

  it("keeps a client's handle apart from the id that names paths", async () => {
    const handle = await m.create({ handle: "../my app", bindMounts: [] });
    assert.equal(handle, "../my app");
    assert.deepEqual([...depot.dirs], ["000000000v8"]);
  });

  it("refuses a handle that is taken, with Warden's text", async () => {
    await m.create({ handle: "a", bindMounts: [] });
    await assert.rejects(m.create({ handle: "a", bindMounts: [] }), { message: "container with handle: a already exists." });
  });

  it("passes rootfs and bind mounts to the machine, and uses the default rootfs otherwise", async () => {
    await m.create({ handle: "a", bindMounts: [{ srcPath: "/s", dstPath: "/d", mode: "rw" }] });
    await m.create({ handle: "b", rootfs: "/other", bindMounts: [] });
    const specs = [...runtime.containers.values()].map((c) => c.spec);
    assert.equal(specs[0].rootfs, "/rootfs");
    assert.deepEqual(specs[0].bindMounts, [{ srcPath: "/s", dstPath: "/d", mode: "rw" }]);
    assert.equal(specs[1].rootfs, "/other");
  });

  it("undoes every step of a failed create and returns its error", async () => {
    runtime.failCreate = new Error("runtime said no");
    await assert.rejects(m.create({ handle: "a", bindMounts: [] }), /runtime said no/);
    assert.deepEqual(m.list(), []);
    assert.deepEqual([...depot.dirs], []);
    assert.equal(fs.prepared.size, 0);
    assert.deepEqual(runtime.destroyed, ["000000000v8"]);
    // the uid came back and the handle is free again
    runtime.failCreate = undefined;
    await m.create({ handle: "a", bindMounts: [] });
    await m.create({ handle: "b", bindMounts: [] });
  });

  it("says the uid pool is empty in Warden's words, and reuses uids after destroy", async () => {
    await m.create({ handle: "a", bindMounts: [] });
    await m.create({ handle: "b", bindMounts: [] });
    await assert.rejects(m.create({ bindMounts: [] }), { message: "Warden::Pool::Uid::NoUidAvailable" });
    await m.destroy("a");
    await m.create({ handle: "c", bindMounts: [] });
  });

  it("answers unknown handles with 'unknown handle'", async () => {
    for (const call of [
      () => m.info("x"),
      () => m.stop("x", { kill: false, background: false }),
      () => m.destroy("x"),
      () => m.spawn("x", job()),
      () => m.link("x", 1),
      async () => m.stream("x", 1),
    ]) {
      await assert.rejects(call(), { message: "unknown handle" });
    }
  });

  it("refuses a missing rootfs or bind mount source before making or taking anything", async () => {
    fs.failCheck = new WardenError("ROOTFS_NOT_FOUND", "rootfs /nope not found");
    await assert.rejects(m.create({ rootfs: "/nope", bindMounts: [] }), { message: "rootfs /nope not found" });
    assert.deepEqual([...depot.dirs], []);
    assert.equal(network.created.size, 0);
    fs.failCheck = undefined;
    // The uid and network the failed request did not take go to the next one.
    await m.create({ handle: "next", bindMounts: [] });
    assert.equal((await m.info("next")).hostIp, "10.254.0.1");
  });

  it("refuses an empty handle", async () => {
    await assert.rejects(m.create({ handle: "", bindMounts: [] }), /must not be empty/);
  });

  it("refuses handles holding NUL or control characters, and paths holding NUL, and makes nothing", async () => {
    for (const handle of ["x\0y", "line\nbreak", "tab\there", "del\x7f"]) {
      await assert.rejects(m.create({ handle, bindMounts: [] }), {
        code: "INVALID_REQUEST",
        message: "handle must not contain NUL or control characters",
      });
    }
    await assert.rejects(m.create({ rootfs: "/r\0oot", bindMounts: [] }), /NUL byte/);
    await assert.rejects(m.create({ bindMounts: [{ srcPath: "/a\0", dstPath: "/b", mode: "ro" }] }), /NUL byte/);
    assert.deepEqual(m.list(), []);
    // Other names are names: slashes, dots, spaces and non-ASCII reach no path.
    for (const handle of ["..", "a/b", "ünï cödé"]) {
      assert.equal(await m.create({ handle, bindMounts: [] }), handle);
      assert.match([...depot.dirs].at(-1)!, /^[0-9a-v]{11}$/);
      await m.destroy(handle);
    }
  });
});

describe("container manager: stop and destroy", () => {
  let m: ContainerManager;
  beforeEach(() => (m = manager()));

  it("sends TERM, and KILL to what is left after the stop timeout", async () => {
    const h = await m.create({ bindMounts: [] });
    const id = [...runtime.containers.keys()][0];
    runtime.containers.get(id)!.processes.push({ ignoresTerm: true }, { ignoresTerm: false });
    await m.stop(h, { kill: false, background: false });
    assert.deepEqual(runtime.signals.map((s) => s.signal), ["TERM", "KILL"]);
    assert.equal((await m.info(h)).state, "stopped");
  });

  it("does not KILL what TERM ended", async () => {
    const h = await m.create({ bindMounts: [] });
    runtime.containers.get([...runtime.containers.keys()][0])!.processes.push({ ignoresTerm: false });
    await m.stop(h, { kill: false, background: false });
    assert.deepEqual(runtime.signals.map((s) => s.signal), ["TERM"]);
  });

  it("kills at once with kill", async () => {
    const h = await m.create({ bindMounts: [] });
    await m.stop(h, { kill: true, background: false });
    assert.deepEqual(runtime.signals.map((s) => s.signal), ["KILL"]);
  });

  it("answers at once with background, and the stop goes on", async () => {
    m = manager({ stopTimeoutMs: 200 });
    const h = await m.create({ bindMounts: [] });
    runtime.containers.get([...runtime.containers.keys()][0])!.processes.push({ ignoresTerm: true });
    const started = Date.now();
    await m.stop(h, { kill: false, background: true });
    assert.ok(Date.now() - started < 150);
    assert.equal((await m.info(h)).state, "stopped");
    await sleep(300);
    assert.deepEqual(runtime.signals.map((s) => s.signal), ["TERM", "KILL"]);
  });

  it("treats Stop of a stopped container as done", async () => {
    const h = await m.create({ bindMounts: [] });
    await m.stop(h, { kill: false, background: false });
    await m.stop(h, { kill: false, background: false });
    assert.equal(runtime.signals.length, 1);
  });

  it("applies Warden's state rules after Stop", async () => {
    const h = await m.create({ bindMounts: [] });
    await m.stop(h, { kill: true, background: false });
    await assert.rejects(m.spawn(h, job()), {
      message: "Container state must be one of 'active', current state is 'stopped'",
    });
    await assert.rejects(m.run(h, job()), /current state is 'stopped'/);
    assert.equal((await m.info(h)).state, "stopped");
  });

  it("destroys in any state and removes everything it had", async () => {
    const h = await m.create({ bindMounts: [] });
    const id = [...depot.dirs][0];
    await m.stop(h, { kill: true, background: false });
    await m.destroy(h);
    assert.deepEqual(runtime.destroyed, [id]);
    assert.deepEqual(fs.removed, [id]);
    assert.equal(depot.dirs.size, 0);
    assert.deepEqual(m.list(), []);
    await assert.rejects(m.info(h), { message: "unknown handle" });
  });

  it("answers a second Destroy during the first with the same outcome", async () => {
    const h = await m.create({ bindMounts: [] });
    await Promise.all([m.destroy(h), m.destroy(h)]);
    assert.equal(runtime.destroyed.length, 1);
  });

  it("gives a Link waiting on a job of a destroyed container the job's end and the obituary", async () => {
    const h = await m.create({ bindMounts: [] });
    const jobId = await m.spawn(h, job("sleep 100"));
    const link = m.link(h, jobId);
    await settle();
    await m.destroy(h);
    const result = await link;
    assert.equal(result.exitStatus, 137);
    assert.equal(result.info.state, "active");
  });
});

describe("container manager: jobs", () => {
  let m: ContainerManager;
  let h: string;
  beforeEach(async () => {
    m = manager();
    h = await m.create({ bindMounts: [] });
  });

  it("runs jobs as the container user with HOME, USER, PATH and LANG only", async () => {
    await m.spawn(h, job());
    const spec = runtime.spawned[0].spec;
    assert.deepEqual(spec.user, { name: "vcap", uid: 10000, gid: 10000, home: "/home/vcap" });
    assert.deepEqual(spec.env, ["HOME=/home/vcap", "USER=vcap", "PATH=/bin:/usr/bin", "LANG=en_US.UTF-8"]);
    assert.equal(spec.script, "true");
  });

  it("runs privileged jobs as root", async () => {
    await m.spawn(h, job("id", { privileged: true }));
    const spec = runtime.spawned[0].spec;
    assert.equal(spec.user.uid, 0);
    assert.equal(spec.privileged, true);
    assert.ok(spec.env.includes("PATH=/sbin:/bin:/usr/sbin:/usr/bin"));
  });

  it("merges rlimits: wsh defaults, then the server's, then the request's, without keeping the request's", async () => {
    await m.spawn(h, job("x", { rlimits: { nofile: 100n, core: 5n } }));
    await m.spawn(h, job());
    const [first, second] = runtime.spawned.map((j) => j.spec.rlimits);
    assert.equal(first.nofile, 100n);
    assert.equal(first.core, 5n);
    assert.equal(first.stack, WSH_DEFAULT_RLIMITS.stack);
    assert.equal(second.nofile, 4096n);
    assert.equal(second.core, 0n);
  });

  it("numbers jobs across containers", async () => {
    const other = await m.create({ bindMounts: [] });
    assert.deepEqual([await m.spawn(h, job()), await m.spawn(other, job()), await m.spawn(h, job())], [1, 2, 3]);
  });

  it("links: output and exit status once the job ends, then the job is gone", async () => {
    const id = await m.spawn(h, job());
    const p = runtime.spawned[0];
    assert.deepEqual((await m.info(h)).jobIds, [id]);
    const link = m.link(h, id);
    p.write("stdout", "out");
    p.write("stderr", "err");
    p.exit(3);
    const result = await link;
    assert.equal(result.exitStatus, 3);
    assert.equal(result.stdout.toString(), "out");
    assert.equal(result.stderr.toString(), "err");
    assert.deepEqual(result.info.jobIds, []);
    await assert.rejects(m.link(h, id), { message: "no such job" });
    await settle();
    assert.equal(p.removed, true);
  });

  it("gives every concurrent Link the result", async () => {
    const id = await m.spawn(h, job());
    const links = [m.link(h, id), m.link(h, id), m.link(h, id)];
    runtime.spawned[0].write("stdout", "x");
    runtime.spawned[0].exit(0);
    for (const r of await Promise.all(links)) assert.equal(r.stdout.toString(), "x");
  });

  it("lists only jobs that still run in job_ids", async () => {
    const a = await m.spawn(h, job());
    const b = await m.spawn(h, job());
    runtime.spawned[0].exit(0);
    await settle();
    assert.deepEqual((await m.info(h)).jobIds, [b]);
    assert.notEqual(a, b);
  });

  it("answers an unknown job with 'no such job'", async () => {
    await assert.rejects(m.link(h, 42), { message: "no such job" });
    assert.throws(() => m.stream(h, 42), { message: "no such job" });
  });

  it("kills a job past the output limit: status 255, output cut at the limit, an event on Link", async () => {
    const id = await m.spawn(h, job());
    const p = runtime.spawned[0];
    p.write("stdout", "a".repeat(60));
    p.write("stderr", "b".repeat(60));
    const result = await m.link(h, id);
    assert.equal(p.killed, true);
    assert.equal(result.exitStatus, 255);
    assert.equal(result.stdout.length + result.stderr.length, 100);
    assert.deepEqual((await m.info(h)).events, ["command exceeded maximum output"]);
  });

  it("keeps nothing and caps nothing with discard_output", async () => {
    const id = await m.spawn(h, job("x", { discardOutput: true }));
    const p = runtime.spawned[0];
    assert.equal(p.spec.discardOutput, true);
    p.write("stdout", "a".repeat(500));
    await settle();
    assert.equal(p.killed, false);
    p.exit(0);
    const result = await m.link(h, id);
    assert.equal(result.stdout.length, 0);
    assert.equal(result.exitStatus, 0);
    assert.deepEqual((await m.info(h)).events, []);
  });

  it("streams output as it comes, then the exit status, then forgets the job", async () => {
    const id = await m.spawn(h, job());
    const p = runtime.spawned[0];
    p.write("stdout", "one");
    const stream = m.stream(h, id);
    const first = await stream.next();
    assert.deepEqual(first.value, { name: "stdout", data: Buffer.from("one") });
    const second = stream.next();
    p.write("stderr", "two");
    assert.deepEqual((await second).value, { name: "stderr", data: Buffer.from("two") });
    p.exit(9);
    const end = await stream.next();
    assert.equal(end.done, true);
    assert.equal((end.value as { exitStatus: number }).exitStatus, 9);
    assert.throws(() => m.stream(h, id), { message: "no such job" });
  });

  it("replays the whole output to each new Stream", async () => {
    const id = await m.spawn(h, job());
    runtime.spawned[0].write("stdout", "abc");
    const s1 = m.stream(h, id);
    assert.deepEqual((await s1.next()).value, { name: "stdout", data: Buffer.from("abc") });
    await s1.return(undefined as never);
    const s2 = m.stream(h, id);
    assert.deepEqual((await s2.next()).value, { name: "stdout", data: Buffer.from("abc") });
  });

  it("sends output lines of a job with a log_tag to the log sink", async () => {
    await m.spawn(h, job("x", { logTag: "app" }));
    const p = runtime.spawned[0];
    p.write("stdout", "line 1\nline");
    p.write("stderr", "oops\n");
    p.write("stdout", " 2\npartial");
    p.exit(0);
    await settle(30);
    const lines = (stream: string) => logSink.lines.filter((l) => l.stream === stream).map((l) => `${l.tag} ${l.line}`);
    assert.deepEqual(lines("stdout"), ["warden.app line 1", "warden.app line 2", "warden.app partial"]);
    assert.deepEqual(lines("stderr"), ["warden.app oops"]);
    assert.equal(logSink.closed, 1);
  });

  it("reports a runtime that cannot spawn as the request's error", async () => {
    runtime.failSpawn = new Error("no exec for you");
    await assert.rejects(m.spawn(h, job()), /no exec for you/);
  });
});

describe("container manager: grace time", () => {
  it("destroys a container no connection references once its grace time is up", async () => {
    const m = manager();
    const conn = m.connectionOpened();
    const h = await m.create({ graceTime: 0.05, bindMounts: [] }, conn);
    await sleep(100);
    assert.deepEqual(m.list(), [h]);
    m.connectionClosed(conn);
    await sleep(120);
    assert.deepEqual(m.list(), []);
    assert.equal(runtime.destroyed.length, 1);
  });

  it("lets a new connection cancel the timer", async () => {
    const m = manager();
    const conn = m.connectionOpened();
    const h = await m.create({ graceTime: 0.1, bindMounts: [] }, conn);
    m.connectionClosed(conn);
    await sleep(30);
    const second = m.connectionOpened();
    await sleep(150);
    assert.deepEqual(m.list(), [h]);
    m.connectionClosed(second);
    await sleep(150);
    assert.deepEqual(m.list(), []);
  });

  it("destroys at once with grace time 0, and never with no grace time", async () => {
    const m = manager({ graceTime: null });
    const conn = m.connectionOpened();
    await m.create({ handle: "zero", graceTime: 0, bindMounts: [] }, conn);
    await m.create({ handle: "never", bindMounts: [] }, conn);
    m.connectionClosed(conn);
    await sleep(50);
    assert.deepEqual(m.list(), ["never"]);
  });

  it("starts the timer of a container whose creating client left before the create finished", async () => {
    const m = manager();
    runtime.createDelayMs = 50;
    const conn = m.connectionOpened();
    const creating = m.create({ graceTime: 0.05, bindMounts: [] }, conn);
    m.connectionClosed(conn);
    await creating;
    await sleep(150);
    assert.deepEqual(m.list(), []);
  });

  it("keeps a container referenced by a request on its handle", async () => {
    const m = manager();
    const a = m.connectionOpened();
    const h = await m.create({ graceTime: 0.05, bindMounts: [] }, a);
    const b = m.connectionOpened();
    m.connectionClosed(a);
    await m.info(h, b);
    await sleep(100);
    assert.deepEqual(m.list(), [h]);
  });
});

describe("container manager: shutdown", () => {
  it("refuses new containers and waits for creates under way", async () => {
    const m = manager();
    runtime.createDelayMs = 100;
    const creating = m.create({ handle: "late", bindMounts: [] });
    await sleep(10);
    await m.shutdown();
    assert.equal(m.containerCount, 1, "the create under way finished before shutdown returned");
    assert.equal(await creating, "late");
    await assert.rejects(m.create({ bindMounts: [] }), { message: "server is shutting down" });
  });
});

describe("container manager: networking", () => {
  let m: ContainerManager;
  beforeEach(() => (m = manager()));

  it("gives each container a /30 from the pool and reports its addresses", async () => {
    const a = await m.create({ bindMounts: [] });
    const b = await m.create({ bindMounts: [] });
    const ia = await m.info(a);
    const ib = await m.info(b);
    assert.deepEqual([ia.hostIp, ia.containerIp], ["10.254.0.1", "10.254.0.2"]);
    assert.deepEqual([ib.hostIp, ib.containerIp], ["10.254.0.5", "10.254.0.6"]);
    assert.deepEqual(runtime.containers.get([...runtime.containers.keys()][0])!.spec.namespaces, {
      network: "/netns/000000000v8",
      user: "/userns/000000000v8",
    });
  });

  it("takes a requested network, and refuses it while taken", async () => {
    const h = await m.create({ network: "10.254.0.9", bindMounts: [] });
    assert.equal((await m.info(h)).containerIp, "10.254.0.10");
    await assert.rejects(m.create({ network: "10.254.0.10", bindMounts: [] }), { message: "Could not acquire network: 10.254.0.8" });
  });

  it("gives the network back when a create fails, and tears it down", async () => {
    network.failCreate = new Error("no veth for you");
    await assert.rejects(m.create({ network: "10.254.0.1", bindMounts: [] }), /no veth/);
    assert.deepEqual(network.destroyed.map((d) => d.id), ["000000000v8"]);
    network.failCreate = undefined;
    await m.create({ network: "10.254.0.1", bindMounts: [] });
  });

  it("forwards a port from the pool, the container port defaulting to it, and gives it back on destroy", async () => {
    const h = await m.create({ bindMounts: [] });
    assert.deepEqual(await m.netIn(h, {}), { hostPort: 61001, containerPort: 61001 });
    assert.deepEqual(await m.netIn(h, { containerPort: 8080 }), { hostPort: 61002, containerPort: 8080 });
    assert.deepEqual(await m.netIn(h, {}), { hostPort: 61003, containerPort: 61003 });
    await assert.rejects(m.netIn(h, {}), { message: "Warden::Pool::Port::NoPortAvailable" });
    await m.destroy(h);
    const known = network.destroyed[0].known!;
    assert.deepEqual(known.netIns.map((r) => r.hostPort), [61001, 61002, 61003]);
    const other = await m.create({ bindMounts: [] });
    assert.equal((await m.netIn(other, {})).hostPort, 61001);
  });

  it("forwards an explicit host port once across containers", async () => {
    const a = await m.create({ bindMounts: [] });
    const b = await m.create({ bindMounts: [] });
    assert.deepEqual(await m.netIn(a, { hostPort: 8080, containerPort: 80 }), { hostPort: 8080, containerPort: 80 });
    await assert.rejects(m.netIn(b, { hostPort: 8080 }), { message: "host port 8080 is already forwarded" });
    // a pool port named explicitly is taken out of the pool
    await m.netIn(b, { hostPort: 61002 });
    assert.equal((await m.netIn(b, {})).hostPort, 61001);
    assert.equal((await m.netIn(b, {})).hostPort, 61003);
    await assert.rejects(m.netIn(a, { hostPort: 0 }), /not a port/);
  });

  it("leaves nothing when the firewall refuses a NetIn", async () => {
    const h = await m.create({ bindMounts: [] });
    network.failNetIn = new Error("nft said no");
    await assert.rejects(m.netIn(h, { hostPort: 9000 }), /nft said no/);
    await assert.rejects(m.netIn(h, {}), /nft said no/);
    network.failNetIn = undefined;
    assert.deepEqual(await m.netIn(h, { hostPort: 9000 }), { hostPort: 9000, containerPort: 9000 });
    // the pool port taken for the failed NetIn came back (at the tail): all three are there
    const ports = [(await m.netIn(h, {})).hostPort, (await m.netIn(h, {})).hostPort, (await m.netIn(h, {})).hostPort];
    assert.deepEqual(ports.sort(), [61001, 61002, 61003]);
  });

  it("applies NetOut rules to active containers only", async () => {
    const h = await m.create({ bindMounts: [] });
    await m.netOut(h, { network: "10.0.0.0/8", port: 80 });
    assert.equal(network.netOuts.length, 1);
    await assert.rejects(m.netOut(h, {}), { message: "Please specify network, port, and/or port_range." });
    await m.stop(h, { kill: true, background: false });
    await assert.rejects(m.netOut(h, { port: 80 }), /current state is 'stopped'/);
    await m.destroy(h);
    assert.equal(network.destroyed[0].known!.netOut, true);
  });

  it("limits bandwidth, reports it in Info, and 4294967295 before any limit", async () => {
    const h = await m.create({ bindMounts: [] });
    assert.deepEqual((await m.info(h)).bandwidthStat, { inRate: 4294967295, inBurst: 4294967295, outRate: 4294967295, outBurst: 4294967295 });
    assert.deepEqual(await m.limitBandwidth(h, 1000, 500), { rate: 1000, burst: 500 });
    assert.deepEqual((await m.info(h)).bandwidthStat, { inRate: 1000, inBurst: 500, outRate: 1000, outBurst: 500 });
  });
});

describe("container manager: limits", () => {
  let m: ContainerManager;
  let h: string;
  let id: string;
  beforeEach(async () => {
    m = manager();
    h = await m.create({ bindMounts: [] });
    id = [...depot.dirs][0];
  });

  it("sets the memory limit and answers with the kernel's (rounded) value; without one it only reads", async () => {
    assert.equal(await m.limitMemory(h, undefined), 9223372036854771712n);
    assert.equal(await m.limitMemory(h, 1000n), 4096n);
    assert.equal(await m.limitMemory(h, undefined), 4096n);
  });

  it("says what failed in Warden's words", async () => {
    limits.failSetMemory = new Error("Device or resource busy");
    await assert.rejects(m.limitMemory(h, 1n), { message: "Failed setting memory limit: Device or resource busy" });
  });

  it("sets cpu shares and reads back what the kernel holds", async () => {
    assert.equal(await m.limitCpu(h, 1n), 2n);
    assert.equal(await m.limitCpu(h, undefined), 2n);
  });

  it("applies limits to stopped containers too", async () => {
    await m.stop(h, { kill: true, background: false });
    assert.equal(await m.limitCpu(h, 100n), 100n);
  });

  it("marks an OOM with Warden's event and stops an active container", async () => {
    limits.oom(id);
    assert.deepEqual((await m.info(h)).events, ["out of memory"]);
    assert.equal((await m.info(h)).state, "stopped");
    limits.oom(id);
    assert.deepEqual((await m.info(h)).events, ["out of memory"], "an event is recorded once");
  });

  it("stops watching for OOM once destroyed", async () => {
    await m.destroy(h);
    assert.equal(limits.oomWatchers.size, 0);
  });

  it("answers LimitDisk with all twelve fields, limits it cannot enforce as 0", async () => {
    const fields = (await m.limitDisk(h, { byte: 10n * 1024n * 1024n + 1n, inode: 100n }))!;
    assert.equal(fields.byteHard, 10n * 1024n * 1024n + 1024n, "rounded up to a 1024-byte block");
    assert.equal(fields.blockLimit, 10241n);
    assert.equal(fields.inodeHard, 0n, "inodes are not enforced, and not pretended");
    assert.equal(Object.keys(fields).length, 12);
  });

  it("does nothing for LimitDisk when quotas are off", async () => {
    const off = new ContainerManager(baseConfig, {
      runtime: new FakeRuntime(),
      network: new FakeNetwork(),
      limits: new FakeLimits(),
      copier: new FakeCopier(),
      filesystem: new FakeFilesystem(),
      depot: new FakeDepot(),
      state: new FakeStateStore(),
      logger: nullLogger,
    });
    const handle = await off.create({ bindMounts: [] });
    assert.equal(await off.limitDisk(handle, { byte: 100n }), undefined);
    assert.equal((await off.info(handle)).diskStat, undefined);
  });

  it("reports memory, cpu and disk statistics in Info", async () => {
    const info = await m.info(h);
    assert.equal(info.memoryStat!.rss, 1000n);
    assert.deepEqual(info.cpuStat, { usage: 5n, user: 1n, system: 2n });
    assert.deepEqual(info.diskStat, { bytesUsed: 4096n });
  });
});

describe("container manager: a destroy that fails part-way", () => {
  it("keeps the container listed with a clear error, and a second destroy completes it", async () => {
    const m = manager();
    const h = await m.create({ handle: "stuck", bindMounts: [] });
    network.failDestroyOnce = new WardenError("COMMAND_FAILED", "command exited with failure", "Cannot find device");
    await assert.rejects(m.destroy(h), { message: "command exited with failure" });
    assert.deepEqual(m.list(), ["stuck"], "still listed, so it can be destroyed again");
    assert.equal(depot.dirs.size, 1, "its directory is kept until the rest is gone");
    await m.destroy(h);
    assert.deepEqual(m.list(), []);
    assert.equal(depot.dirs.size, 0);
    assert.equal(network.created.size, 0);
  });
});

describe("container manager: recovery after a restart", () => {
  // A second manager over the same machine and records is the restarted daemon.
  const roomy = { uidPoolSize: 10 };
  function restarted(config: Partial<ManagerConfig> = {}): ContainerManager {
    return new ContainerManager(
      { ...baseConfig, ...roomy, ...config },
      { runtime, network, limits, copier, diskQuota: quota, filesystem: fs, depot, state, logSink, logger: nullLogger },
    );
  }

  it("sweeps runtime state and mounts of containers it does not know, keeping the live ones", async () => {
    const m = manager(roomy);
    await m.create({ handle: "a", bindMounts: [] });
    const idA = [...depot.dirs][0];
    runtime.strays.add("0000000stray");
    runtime.strays.add(idA);
    fs.orphanMounts.push("0000000stra2", idA);
    const r = restarted();
    assert.deepEqual(await r.recover(), { recovered: 1, removed: 0 });
    assert.deepEqual([...runtime.strays], [idA], "the live container's runtime state stays");
    assert.deepEqual(fs.orphanMounts, [idA], "the live container's root stays mounted");
  });

  it("takes containers back with their handle, state, network, uid, rules, limits and events", async () => {
    const m = manager(roomy);
    const a = await m.create({ handle: "a", bindMounts: [] });
    const b = await m.create({ handle: "b", bindMounts: [] });
    await m.netIn(a, { hostPort: 8080, containerPort: 80 });
    await m.netIn(a, {});
    await m.netOut(a, { network: "10.0.0.0/8", port: 443 });
    await m.limitMemory(a, 64n * 1024n * 1024n);
    await m.limitCpu(a, 512n);
    await m.limitDisk(a, { byte: 1024n * 1024n });
    await m.stop(b, { kill: true, background: false });
    const idA = [...depot.dirs][0];
    limits.oom(idA);
    await settle();
    const before = await m.info(a);
    limits.memory.clear();
    limits.shares.clear();

    const r = restarted();
    assert.deepEqual(await r.recover(), { recovered: 2, removed: 0 });
    assert.deepEqual(r.list().sort(), ["a", "b"]);
    const after = await r.info(a);
    assert.deepEqual([after.hostIp, after.containerIp, after.state, after.events], [before.hostIp, before.containerIp, "stopped", ["out of memory"]]);
    assert.equal((await r.info(b)).state, "stopped");
    assert.ok(network.restored.includes(idA), "forwards and egress rules applied again");
    assert.equal(await r.limitMemory(a, undefined), 64n * 1024n * 1024n, "memory limit applied again");
    assert.equal(await r.limitCpu(a, undefined), 512n, "cpu shares applied again");
    // The pools know what the recovered hold.
    const c = await r.create({ bindMounts: [] });
    const ic = await r.info(c);
    assert.ok(![before.hostIp, (await r.info(b)).hostIp].includes(ic.hostIp), "a new network");
    await assert.rejects(r.netIn(c, { hostPort: 8080 }), { message: "host port 8080 is already forwarded" });
    assert.equal((await r.netIn(c, {})).hostPort, 61002, "the recovered pool port is not handed out again");
  });

  it("finds jobs again: running ones link when they end, finished ones at once; ids are never reused", async () => {
    const m = manager(roomy);
    const h = await m.create({ bindMounts: [] });
    const running = await m.spawn(h, job("sleep"));
    const finished = await m.spawn(h, job("echo"));
    const linkedBefore = await m.spawn(h, job("true"));
    runtime.spawned[1].write("stdout", "done\n");
    runtime.spawned[1].exit(0);
    runtime.spawned[2].exit(0);
    await m.link(h, linkedBefore);
    await settle();

    const r = restarted();
    await r.recover();
    await settle();
    assert.deepEqual((await r.info(h)).jobIds, [running]);
    const f = await r.link(h, finished);
    assert.deepEqual([f.exitStatus, f.stdout.toString()], [0, "done\n"]);
    const link = r.link(h, running);
    runtime.spawned[0].write("stdout", "late\n");
    runtime.spawned[0].exit(3);
    assert.deepEqual([(await link).exitStatus, (await link).stdout.toString()], [3, "late\n"]);
    await assert.rejects(r.link(h, linkedBefore), { message: "no such job" });
    const next = await r.spawn(h, job());
    assert.ok(next > linkedBefore, `job id ${next} after ${linkedBefore}`);
  });

  it("removes a container without a record, or whose init died, and keeps the rest", async () => {
    const m = manager(roomy);
    await m.create({ handle: "keep", bindMounts: [] });
    await m.create({ handle: "dead", bindMounts: [] });
    const [keepId, deadId] = [...depot.dirs];
    runtime.deadInits.add(deadId);
    await depot.create("00000000zzz");
    const r = restarted();
    assert.deepEqual(await r.recover(), { recovered: 1, removed: 2 });
    assert.deepEqual(r.list(), ["keep"]);
    assert.ok(runtime.destroyed.includes(deadId) && runtime.destroyed.includes("00000000zzz"));
    assert.deepEqual([...depot.dirs], [keepId]);
    // The dead one's uid and network are free again.
    await r.create({ bindMounts: [] });
    await r.create({ bindMounts: [] });
  });

  it("starts the grace timer of a recovered container", async () => {
    const m = manager(roomy);
    await m.create({ graceTime: 0.05, bindMounts: [] });
    const r = restarted();
    await r.recover();
    assert.equal(r.list().length, 1);
    await sleep(120);
    assert.deepEqual(r.list(), []);
  });

  it("hands out container ids above the recovered ones", async () => {
    const m = manager(roomy);
    const old = await m.create({ bindMounts: [] });
    const r = new ContainerManager({ ...baseConfig, ...roomy }, {
      runtime, network, limits, copier, filesystem: fs, depot, state, logger: nullLogger,
      ids: new ContainerIdGenerator(() => 1n), // a clock that went back
    });
    await r.recover();
    const fresh = await r.create({ bindMounts: [] });
    assert.ok(fresh > old, `${fresh} after ${old}`);
  });
});

describe("container manager: copies", () => {
  let m: ContainerManager;
  let h: string;
  beforeEach(async () => {
    m = manager();
    h = await m.create({ bindMounts: [] });
  });

  it("copies in as the container user, to active containers only", async () => {
    await m.copyIn(h, "/host/dir/", "/home/vcap/x");
    assert.deepEqual(copier.copies[0].user, { name: "vcap", uid: 10000, gid: 10000, home: "/home/vcap" });
    await m.stop(h, { kill: true, background: false });
    await assert.rejects(m.copyIn(h, "/host/a", "/b"), { message: "Container state must be one of 'active', current state is 'stopped'" });
  });

  it("copies out of stopped containers too, with the owner asked for", async () => {
    await m.stop(h, { kill: true, background: false });
    await m.copyOut(h, "/etc/hosts", "/host/out", "nobody:nogroup");
    assert.equal(copier.copies[0].owner, "nobody:nogroup");
  });

  it("wants absolute host paths and named container paths", async () => {
    await assert.rejects(m.copyIn(h, "relative/src", "/dst"), /src_path must be an absolute path on the host/);
    await assert.rejects(m.copyOut(h, "/src", "relative", undefined), /dst_path must be an absolute path on the host/);
    await assert.rejects(m.copyIn(h, "/src", ""), /must not be empty/);
    await assert.rejects(m.copyIn("nope", "/src", "/dst"), { message: "unknown handle" });
    assert.equal(copier.copies.length, 0);
  });
});
