import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import type { FakeProcess } from "../../../fakes/fakes.js";
import { settle, until } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

describe("processes", () => {
  let m: FakeMachine;
  let s: ContainerService;
  let h: string;
  const last = (): FakeProcess => m.runtime.started.at(-1)!;

  beforeEach(async () => {
    m = new FakeMachine();
    s = m.service();
    h = await s.create({ env: ["FROM_CONTAINER=1", "SHARED=container"] });
  });

  it("runs as root by default, in root's home, with HOME, USER and PATH added to the environment", async () => {
    await s.run(h, { path: "/bin/sh", args: ["-c", "true"], env: ["SHARED=process"] });
    const { launch } = last();
    assert.deepEqual([launch.path, launch.args], ["/bin/sh", ["-c", "true"]]);
    assert.deepEqual(launch.user, { name: "root", uid: 0, gid: 0, groups: [], home: "/root" });
    assert.equal(launch.dir, "/root");
    assert.deepEqual(launch.env, [
      "HOME=/root",
      "USER=root",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "FROM_CONTAINER=1",
      "SHARED=process",
    ]);
    assert.deepEqual(m.runtime.resolved, [], "root needs no lookup");
  });

  it("knows the container user without looking; any other user is looked up in the container, with their groups", async () => {
    await s.run(h, { path: "/bin/true", user: "vcap" });
    assert.deepEqual(last().launch.user, { name: "vcap", uid: 10000, gid: 10000, groups: [], home: "/home/vcap" });
    assert.deepEqual(m.runtime.resolved, []);
    const box = m.runtime.container(m.id());
    box.passwd += "alice:x:1001:1001::/home/alice:/bin/sh\n";
    box.group += "alice:x:1001:\nstaff:x:50:alice,bob\n";
    await s.run(h, { path: "/bin/true", user: "alice", env: ["HOME=/elsewhere"] });
    const { launch } = last();
    assert.deepEqual(launch.user, { name: "alice", uid: 1001, gid: 1001, groups: [1001, 50], home: "/home/alice" });
    assert.equal(launch.dir, "/home/alice");
    assert.deepEqual(box.dirsMade, ["/home/alice"], "her home is made when missing");
    assert.ok(launch.env.includes("HOME=/elsewhere"), "the process's own HOME wins");
    assert.ok(launch.env.includes("PATH=/usr/local/bin:/usr/bin:/bin"), "a user's PATH");
    await s.run(h, { path: "/bin/true", user: "1001:50" });
    assert.deepEqual([last().launch.user.uid, last().launch.user.gid], [1001, 50]);
  });

  it("refuses a user the container does not have, naming it, and starts nothing", async () => {
    await assert.rejects(s.run(h, { path: "/bin/true", user: "mallory" }), { code: "USER_NOT_FOUND", details: { user: "mallory" } });
    await assert.rejects(s.run(h, { path: "/bin/true", user: "a b" }), { code: "INVALID_REQUEST" });
    assert.equal(m.runtime.started.length, 0);
  });

  it("has a working directory made when it is not the home of a known user", async () => {
    await s.run(h, { path: "/bin/true", user: "vcap", dir: "/home/vcap" });
    assert.deepEqual(m.runtime.resolved, [], "a known user's home is there already");
    await s.run(h, { path: "/bin/true", user: "vcap", dir: "/srv/app" });
    assert.deepEqual(m.runtime.resolved, [{ id: m.id(), user: "vcap", workDir: { path: "/srv/app" } }]);
    assert.equal(last().launch.dir, "/srv/app");
    await assert.rejects(s.run(h, { path: "/bin/true", dir: "relative" }), { code: "INVALID_REQUEST" });
  });

  it("numbers processes across containers; a chosen id is unique among running processes and replaces an ended one", async () => {
    const other = await s.create({});
    const ids = [(await s.run(h, { path: "/a" })).id, (await s.run(other, { path: "/b" })).id, (await s.run(h, { path: "/c" })).id];
    assert.deepEqual(ids, ["1", "2", "3"]);
    const named = await s.run(h, { id: "web", path: "/web" });
    assert.equal(named.id, "web");
    await assert.rejects(s.run(h, { id: "web", path: "/web" }), { code: "PROCESS_ID_TAKEN", details: { processId: "web" } });
    await s.run(other, { id: "web", path: "/web" });
    last().exit(0);
    (m.runtime.started.find((p) => p.launch.path === "/web" && p.containerId === m.id(0)) as FakeProcess).exit(0);
    await settle();
    const again = await s.run(h, { id: "web", path: "/web2" });
    assert.equal(s.process(h, "web").process, again.process, "the ended one was replaced");
  });

  it("does not give a number a client chose for a running process", async () => {
    // Every process takes a number, a named one too (its files are named by it).
    await s.run(h, { id: "3", path: "/chosen" });
    assert.equal((await s.run(h, { path: "/x" })).id, "2");
    assert.equal((await s.run(h, { path: "/y" })).id, "4", "3 is taken: the next number");
  });

  it("reserves process numbers on disk a block at a time", async () => {
    await s.run(h, { path: "/a" });
    assert.equal(m.state.counters.get("process-seq"), 1001);
    for (let i = 0; i < 5; i++) await s.run(h, { path: "/a" });
    assert.equal(m.state.counters.get("process-seq"), 1001, "no write per process");
  });

  it("finds a process by id in its own container only", async () => {
    const other = await s.create({});
    const p = await s.run(h, { path: "/a" });
    assert.equal(s.process(h, p.id).id, p.id);
    assert.throws(() => s.process(other, p.id), { code: "PROCESS_NOT_FOUND", details: { processId: p.id } });
    assert.throws(() => s.process("nope", p.id), { code: "CONTAINER_NOT_FOUND" });
  });

  it("attaches any number of clients, each from the kept output, then live, then the end", async () => {
    const p = await s.run(h, { path: "/a" });
    const fake = last();
    fake.write("stdout", "one");
    const first = p.attach();
    assert.deepEqual((await first.next()).value, { stream: "stdout", data: Buffer.from("one") });
    const second = s.process(h, p.id).attach();
    assert.deepEqual((await second.next()).value, { stream: "stdout", data: Buffer.from("one") }, "the second sees what was kept");
    const live = first.next();
    fake.write("stderr", "two");
    assert.deepEqual((await live).value, { stream: "stderr", data: Buffer.from("two") });
    fake.end({ kind: "signaled", signal: 15 });
    assert.deepEqual(await first.next(), { done: true, value: { exit: { kind: "signaled", signal: 15 }, outputExceeded: false } });
    assert.deepEqual((await second.next()).value, { stream: "stderr", data: Buffer.from("two") });
    assert.equal((await second.next()).done, true);
    assert.equal(s.process(h, p.id).running, false, "an ended process stays to be attached to");
  });

  it("passes standard input, signals and window sizes to a process, and stdin only to one that streams it", async () => {
    const p = await s.run(h, { path: "/bin/cat", stdin: { kind: "stream" }, tty: { rows: 24, columns: 80 } });
    const fake = last();
    assert.deepEqual(fake.launch.stdin, { kind: "stream" });
    assert.deepEqual(fake.launch.tty, { rows: 24, columns: 80 });
    await p.writeStdin(Buffer.from("hello"));
    await p.closeStdin();
    await p.signal("USR1");
    await p.resize({ rows: 50, columns: 132 });
    assert.deepEqual([Buffer.concat(fake.stdin).toString(), fake.stdinClosed, fake.signals, fake.sizes], [
      "hello",
      true,
      ["USR1"],
      [{ rows: 50, columns: 132 }],
    ]);
    const plain = await s.run(h, { path: "/bin/true" });
    assert.throws(() => plain.writeStdin(Buffer.from("x")), { code: "INVALID_REQUEST" });
    fake.exit(0);
    await settle();
    await p.signal("TERM");
    assert.deepEqual(fake.signals, ["USR1"], "nothing is sent to a process that has ended");
  });

  it("gives data as standard input to the runtime whole", async () => {
    await s.run(h, { path: "/bin/bash", stdin: { kind: "data", data: Buffer.from("echo hi\n") } });
    assert.deepEqual(last().launch.stdin, { kind: "data", data: Buffer.from("echo hi\n") });
  });

  it("keeps the most recent output by default, freeing what is older", async () => {
    const p = await s.run(h, { path: "/bin/yes" });
    const fake = last();
    fake.write("stdout", "a".repeat(150));
    fake.write("stdout", "b".repeat(100));
    // Sizes are looked at every 20 ms at most while output flows.
    await new Promise((r) => setTimeout(r, 30));
    await settle();
    assert.equal(fake.discarded.stdout, 150, "beyond twice the limit (100 bytes), all but the last 100 are freed");
    fake.exit(0);
    const { stdout } = await p.collect();
    assert.equal(stdout.toString(), "b".repeat(100));
    const chunks = [];
    for await (const c of s.process(h, p.id).attach()) chunks.push(c.data.toString());
    assert.equal(chunks.join(""), "b".repeat(100), "a late attacher starts from what is kept");
  });

  it("forgets a process run to be forgotten once a wait on it is answered, and removes its files", async () => {
    const p = await s.run(h, { path: "/a", forgetWhenCollected: true });
    last().exit(3);
    const { result } = await p.collect();
    assert.deepEqual(result.exit, { kind: "exited", code: 3 });
    assert.throws(() => s.process(h, p.id), { code: "PROCESS_NOT_FOUND" });
    await settle();
    assert.equal(last().removed, true);
  });

  it("ends a wait when the client goes away, leaving the process for another", async () => {
    const p = await s.run(h, { path: "/a", forgetWhenCollected: true });
    const closed = new AbortController();
    const waiting = p.collect(closed.signal);
    closed.abort();
    await assert.rejects(waiting, { name: "AbortError" });
    last().exit(0);
    assert.equal((await s.process(h, p.id).collect()).result.exit.kind, "exited");
  });

  it("sends the lines of a process with a log tag to the process log", async () => {
    await s.run(h, { path: "/a", logTag: "app" });
    const p = last();
    p.write("stdout", "line 1\nline");
    p.write("stderr", "oops\n");
    p.write("stdout", " 2\npartial");
    p.exit(0);
    await settle(30);
    const lines = (stream: string) => m.processLog.lines.filter((l) => l.stream === stream).map((l) => `${l.tag} ${l.line}`);
    assert.deepEqual(lines("stdout"), ["app line 1", "app line 2", "app partial"]);
    assert.deepEqual(lines("stderr"), ["app oops"]);
    assert.equal(m.processLog.closed, 1);
  });

  it("reports a runtime that cannot start the process as the request's error, and keeps nothing of it", async () => {
    m.runtime.failStart = new Error("no exec for you");
    await assert.rejects(s.run(h, { path: "/a" }), /no exec for you/);
    assert.deepEqual(s.info(h).processIds, []);
  });

  it("lists running processes only", async () => {
    const a = await s.run(h, { path: "/a" });
    const b = await s.run(h, { path: "/b" });
    m.runtime.started[0].exit(0);
    await settle();
    assert.deepEqual(s.info(h).processIds, [b.id]);
    assert.notEqual(a.id, b.id);
  });
});

describe("peas: processes on a root of their own", () => {
  let m: FakeMachine;
  let s: ContainerService;
  let h: string;

  beforeEach(async () => {
    m = new FakeMachine();
    s = m.service();
    h = await s.create({ env: ["FROM_CONTAINER=1"] });
  });

  it("starts on its own root as root in /, with the container's env, and removes what it made when it ends", async () => {
    const ref = await s.run(h, { path: "/bin/sh", image: "/images/busybox", env: ["OWN=1"] });
    const id = m.id();
    const [{ id: container, pea, launch }] = m.runtime.peas;
    assert.equal(container, id);
    assert.equal(pea.rootfsPath, `/fake/${id}/peas/${pea.id}`);
    assert.deepEqual(m.filesystem.peaRoots.get(`${id}/${pea.id}`), { kind: "directory", path: "/images/busybox" });
    assert.deepEqual([launch.user.name, launch.dir], ["root", "/"]);
    assert.ok(launch.env.includes("FROM_CONTAINER=1") && launch.env.includes("OWN=1"));
    assert.ok(await s.peaMetrics(ref.id), "its metrics are asked for by process id");
    assert.equal(await s.peaMetrics("nope"), undefined);
    m.runtime.started.at(-1)!.exit(0);
    await ref.wait();
    await settle();
    assert.deepEqual(m.runtime.peasRemoved, [`${id}/${pea.id}`]);
    assert.equal(m.filesystem.peaRoots.size, 0);
    assert.equal(await s.peaMetrics(ref.id), undefined, "an ended pea has none");
    assert.deepEqual(s.list(), [h], "the container stays");
  });

  it("binds its volumes from where the filesystem staged them, and refuses one propagating both ways unless privileged through and through", async () => {
    await s.run(h, { path: "/bin/sh", image: "/images/busybox", bindMounts: [{ srcPath: "/host/v", dstPath: "/v", mode: "rw", propagation: "host-to-container" }] });
    const { pea } = m.runtime.peas.at(-1)!;
    assert.deepEqual(pea.bindMounts, [{ srcPath: `/fake/${m.id()}/pea-volumes/${pea.id}/0`, dstPath: "/v", mode: "rw", propagation: "host-to-container" }]);
    const both = { path: "/bin/sh", image: "/images/busybox", bindMounts: [{ srcPath: "/host/v", dstPath: "/v", mode: "rw" as const, propagation: "bidirectional" as const }] };
    await assert.rejects(s.run(h, { ...both, peaSecurity: { privileged: true } }), { code: "INVALID_REQUEST", message: /privileged pea in a privileged container/ });
    const root = await s.create({ privileged: true });
    await assert.rejects(s.run(root, both), { code: "INVALID_REQUEST" });
    await s.run(root, { ...both, peaSecurity: { privileged: true } });
    assert.equal(m.runtime.peas.at(-1)!.pea.bindMounts![0]!.propagation, "bidirectional");
    for (const bad of [{ mode: "rw" as const }, { mode: "ro" as const, propagation: "host-to-container" as const }]) {
      const bindMounts = [{ srcPath: "/host/v", dstPath: "/v", recursiveReadOnly: true, ...bad }];
      await assert.rejects(s.run(h, { path: "/bin/sh", image: "/images/busybox", bindMounts }), { code: "INVALID_REQUEST", message: /read-only and propagate nothing/ });
    }
  });

  it("finds its user in its own root's accounts, and leaves nothing when the user is not there", async () => {
    m.filesystem.peaPasswd = "root:x:0:0:root:/root:/bin/sh\noperator:x:37:37::/var:/bin/sh\n";
    await s.run(h, { path: "/bin/id", image: "/images/busybox", user: "operator" });
    assert.deepEqual([m.runtime.peas[0].launch.user.uid, m.runtime.peas[0].launch.user.gid], [37, 37]);
    await assert.rejects(s.run(h, { path: "/bin/id", image: "/images/busybox", user: "vcap" }), /vcap/);
    assert.equal(m.runtime.peas.length, 1, "nothing started for an unknown user");
    assert.equal(m.filesystem.peaRoots.size, 1, "only the first pea's root is there");
  });

  it("runs what its image says when asked to: Entrypoint and Cmd, each replaced as Docker does, its Env, WorkingDir and User", async () => {
    m.filesystem.peaPasswd = "root:x:0:0:root:/root:/bin/sh\noperator:x:37:37::/var:/bin/sh\n";
    m.images.add("docker.io/library/app:1", { entrypoint: ["/bin/app"], cmd: ["--serve"], env: ["PATH=/img", "A=image"], workingDir: "/srv", user: "operator" });
    const argv = async (fromImage: { entrypoint?: string[]; cmd?: string[] }) => {
      await s.run(h, { path: "", image: "app:1", fromImage, env: ["A=own"] });
      const { launch } = m.runtime.peas.at(-1)!;
      return [launch.path, ...launch.args];
    };
    assert.deepEqual(await argv({}), ["/bin/app", "--serve"]);
    assert.deepEqual(await argv({ cmd: ["--check"] }), ["/bin/app", "--check"]);
    assert.deepEqual(await argv({ entrypoint: ["/bin/sh", "-c"] }), ["/bin/sh", "-c"], "a new entrypoint drops the image's Cmd");
    assert.deepEqual(await argv({ entrypoint: ["/bin/sh"], cmd: ["-c", "true"] }), ["/bin/sh", "-c", "true"]);
    const { launch } = m.runtime.peas.at(-1)!;
    assert.equal(launch.dir, "/srv");
    assert.equal(launch.user.uid, 37, "the image's user, found in the pea's own accounts");
    assert.ok(launch.env.includes("PATH=/img") && launch.env.includes("A=own") && launch.env.includes("FROM_CONTAINER=1"));
    m.images.add("docker.io/library/empty:1", {});
    await assert.rejects(s.run(h, { path: "", image: "empty:1", fromImage: {} }), /names no command/);
    await assert.rejects(s.run(h, { path: "", image: "/images/busybox", fromImage: {} }), /names no command/);
    await assert.rejects(s.run(h, { path: "", fromImage: {} }), /needs an image/);
  });

  it("keeps a container with a user namespace's peas out of the host's PID and IPC namespaces", async () => {
    for (const peaSecurity of [{ pidNamespace: "host" as const }, { ipcNamespace: "host" as const }]) {
      await assert.rejects(s.run(h, { path: "/bin/sh", image: "/images/busybox", peaSecurity }), /host's PID or IPC namespace/);
    }
    await s.run(h, { path: "/bin/sh", image: "/images/busybox", peaSecurity: { pidNamespace: "own" } });
    assert.deepEqual(m.runtime.peas.map((p) => p.pea.security), [{ pidNamespace: "own" }]);
    const privileged = await s.create({ privileged: true });
    await s.run(privileged, { path: "/bin/sh", image: "/images/busybox", peaSecurity: { pidNamespace: "host" } });
  });

  it("changes the limits of a pea with a cgroup of its own while it runs, and of no other", async () => {
    const own = await s.run(h, { path: "/bin/sh", image: "/images/busybox", limits: {} });
    await own.updateLimits({ memoryBytes: 1n << 26n, cpuQuota: 50_000n });
    const cgroup = m.runtime.peaCgroup(m.id(), m.runtime.peas[0].pea.id, true);
    assert.equal(await m.limits.memoryLimit(cgroup), 1n << 26n);
    assert.deepEqual(m.limits.quotas.get(cgroup), { quota: 50_000n, period: 100_000n });
    await assert.rejects(own.updateLimits({ cpuPeriod: 10n }), { code: "INVALID_REQUEST" });
    await own.updateLimits({ cpusetCpus: "0-1,3" });
    assert.deepEqual(m.limits.cpusets.get(cgroup), { cpus: "0-1,3" });
    await assert.rejects(own.updateLimits({ cpusetCpus: "all" }), { code: "INVALID_REQUEST", message: /numbers and ranges/ });
    const shared = await s.run(h, { path: "/bin/sh", image: "/images/busybox" });
    await assert.rejects(shared.updateLimits({ cpuShares: 512n }), /shares its container's limits/);
  });

  it("puts its own cgroup under the parent asked for (a kubelet's pod cgroup), and refuses one that is no plain absolute path", async () => {
    await s.run(h, { path: "/bin/sh", image: "/images/busybox", limits: {}, cgroupParent: "/kubepods/burstable/pod1" });
    assert.equal(m.runtime.peas.at(-1)!.pea.cgroupParent, "/kubepods/burstable/pod1");
    for (const bad of ["kubepods", "/kubepods/../etc", "/", "/a//b"]) {
      await assert.rejects(s.run(h, { path: "/bin/sh", image: "/images/busybox", limits: {}, cgroupParent: bad }), { code: "INVALID_REQUEST" }, bad);
    }
    await assert.rejects(s.run(h, { path: "/bin/sh", image: "/images/busybox", cgroupParent: "/kubepods" }), /limits of its own/);
  });

  it("hands its devices to the runtime, and refuses relative paths and permissions beyond rwm", async () => {
    await s.run(h, { path: "/bin/sh", image: "/images/busybox", devices: [{ hostPath: "/dev/zero", containerPath: "/dev/z", permissions: "r" }] });
    assert.deepEqual(m.runtime.peas.at(-1)!.pea.devices, [{ hostPath: "/dev/zero", containerPath: "/dev/z", permissions: "r" }]);
    for (const bad of [{ hostPath: "dev/zero", containerPath: "/dev/z", permissions: "r" }, { hostPath: "/dev/zero", containerPath: "/dev/z", permissions: "rx" }, { hostPath: "/dev/zero", containerPath: "/dev/z", permissions: "rr" }]) {
      await assert.rejects(s.run(h, { path: "/bin/sh", image: "/images/busybox", devices: [bad] }), { code: "INVALID_REQUEST" });
    }
  });

  it("adds the groups the root's /etc/group gives its user (merge), or leaves them out (strict)", async () => {
    m.filesystem.peaPasswd = "root:x:0:0:root:/root:/bin/sh\noperator:x:37:37::/var:/bin/sh\n";
    const group = "root:x:0:\noperator:x:37:\nwheel:x:50:operator\n";
    const fs = m.filesystem as unknown as { preparePea: (spec: never) => Promise<{ group: string }> };
    const prepare = fs.preparePea.bind(m.filesystem);
    fs.preparePea = async (spec: never) => ({ ...(await prepare(spec)), group });
    const merged = await s.run(h, { path: "/bin/id", image: "/images/busybox", user: "operator", groups: [1234] });
    assert.deepEqual(merged.peaUser(), { uid: 37, gid: 37, groups: [37, 50, 1234] });
    const strict = await s.run(h, { path: "/bin/id", image: "/images/busybox", user: "operator", groups: [1234], groupsPolicy: "strict" });
    assert.deepEqual(strict.peaUser(), { uid: 37, gid: 37, groups: [37, 1234] });
  });

  it("starts a process inside a running pea, as its user with its environment, and not in one that ended", async () => {
    m.filesystem.peaPasswd = "root:x:0:0:root:/root:/bin/sh\noperator:x:37:37::/var:/bin/sh\n";
    const pea = await s.run(h, { path: "/bin/sleep", image: "/images/busybox", user: "operator", env: ["PEA=1"], dir: "/work", groups: [1234] });
    const inner = await s.run(h, { path: "/bin/ls", inPea: pea.id, env: ["OWN=2"] });
    const [exec] = m.runtime.peaExecs;
    assert.equal(exec.peaId, m.runtime.peas[0].pea.id);
    assert.equal(exec.launch.user.uid, 37);
    assert.ok(exec.launch.user.groups.includes(1234), "with the pea's supplementary groups");
    assert.deepEqual(pea.peaUser(), { uid: 37, gid: 37, groups: [37, 1234] }, "who the pea runs as");
    assert.equal(inner.peaUser(), undefined, "a process in a pea is no pea");
    assert.equal(exec.launch.dir, "/work");
    assert.ok(exec.launch.env.includes("PEA=1") && exec.launch.env.includes("OWN=2"));
    assert.notEqual(inner.id, pea.id);
    await assert.rejects(s.run(h, { path: "/bin/ls", inPea: pea.id, user: "root" }), /pea's user/);
    await assert.rejects(s.run(h, { path: "/bin/ls", inPea: "nope" }), /nope/);
    await assert.rejects(s.run(h, { path: "/bin/ls", inPea: pea.id, image: "/images/x" }), /no image of its own/);
    // A restarted daemon finds the pea again and starts processes in it, as the same user.
    const again = m.service();
    await again.recover();
    await again.run(h, { path: "/bin/ls", inPea: pea.id });
    assert.equal(m.runtime.peaExecs.length, 2);
    assert.equal(m.runtime.peaExecs[1].launch.user.uid, 37);
    assert.ok(m.runtime.peaExecs[1].launch.env.includes("PEA=1"));
    m.runtime.started[0].exit(0);
    await settle();
    await assert.rejects(s.run(h, { path: "/bin/ls", inPea: pea.id }), (err: Error & { code?: string }) => err.code === "WRONG_STATE" || err.code === "PROCESS_NOT_FOUND");
    assert.equal(m.runtime.peaExecs.length, 2);
  });

  it("keeps a running pea's hold on its image across a restart, and gives it back when the pea ends", async () => {
    m.images.add("docker.io/library/busybox:1");
    const pea = await s.run(h, { path: "/bin/sleep", image: "busybox:1" });
    const holder = [...m.images.holds.keys()][0]!;
    const again = m.service();
    await again.recover();
    assert.ok(m.images.reconciled!.includes(holder), "the store is told the pea still holds it");
    assert.ok(m.images.holds.has(holder));
    m.runtime.started[0].exit(0);
    await pea.wait();
    await settle();
    assert.equal(m.images.holds.size, 0);
    assert.equal(m.filesystem.peaRoots.size, 0);
  });

  it("mounts images' contents into a pea (image volumes): each image held for it, kept across a restart, all given back when it ends", async () => {
    m.images.add("docker.io/library/busybox:1");
    const data = m.images.add("docker.io/library/data:2");
    const pea = await s.run(h, {
      path: "/bin/sleep",
      image: "busybox:1",
      imageMounts: [{ image: "data:2", dstPath: "/iv" }, { image: "data:2", dstPath: "/sub", subPath: "etc" }],
    });
    assert.deepEqual(m.filesystem.peaImageMounts.at(-1), [
      { layers: data.layers, dstPath: "/iv" },
      { layers: data.layers, dstPath: "/sub", subPath: "etc" },
    ]);
    const bound = m.runtime.peas.at(-1)!.pea.bindMounts ?? [];
    assert.deepEqual(bound.map((b) => [b.dstPath, b.mode]), [["/iv", "ro"], ["/sub", "ro"]]);
    assert.equal(m.images.holds.size, 3, "the pea's root and both volumes");
    const holders = [...m.images.holds.keys()];
    const again = m.service();
    await again.recover();
    assert.deepEqual([...m.images.reconciled!].sort(), [m.id(), ...holders].sort(), "the store is told the pea still holds all three");
    m.runtime.started[0].exit(0);
    await pea.wait();
    await settle();
    assert.equal(m.images.holds.size, 0);
  });

  it("refuses an image mount outside a pea, at a relative path, or of a sub-path leaving the image; gives back what it held when one cannot be had", async () => {
    m.images.add("docker.io/library/busybox:1");
    await assert.rejects(s.run(h, { path: "/bin/true", imageMounts: [{ image: "busybox:1", dstPath: "/iv" }] }), { code: "INVALID_REQUEST" });
    await assert.rejects(s.run(h, { path: "/bin/true", image: "busybox:1", imageMounts: [{ image: "busybox:1", dstPath: "iv" }] }), { code: "INVALID_REQUEST" });
    await assert.rejects(s.run(h, { path: "/bin/true", image: "busybox:1", imageMounts: [{ image: "busybox:1", dstPath: "/iv", subPath: "../x" }] }), { code: "INVALID_REQUEST" });
    await assert.rejects(s.run(h, { path: "/bin/true", image: "busybox:1", imageMounts: [{ image: "busybox:1", dstPath: "/a" }, { image: "nope:1", dstPath: "/b" }] }), { code: "IMAGE_NOT_FOUND" });
    assert.equal(m.images.holds.size, 0);
  });

  it("dies with its container's stop, though signals to the container's cgroup do not reach its own", async () => {
    await s.run(h, { path: "/bin/sleep", image: "/images/busybox" });
    const started = Date.now();
    const stopping = s.stop(h, { kill: true });
    // The fake's process ends once told (as the real one does when its supervisor signals it).
    await until(() => m.runtime.started[0].signals.includes("KILL"));
    m.runtime.started[0].end({ kind: "signaled", signal: 9 });
    await stopping;
    assert.ok(m.runtime.started[0].signals.includes("KILL"), "told by name");
    assert.ok(Date.now() - started < 2000, "not after the wait for processes ran out");
  });

  it("passes limits of its own to the runtime, and numbers each pea apart", async () => {
    const shared = await s.run(h, { path: "/bin/sh", image: "/images/busybox" });
    const own = await s.run(h, { path: "/bin/sh", image: "/images/busybox", limits: { memoryBytes: 1n << 25n } });
    assert.deepEqual(m.runtime.peas.map((p) => p.pea.limits), [undefined, { memoryBytes: 1n << 25n }]);
    assert.notEqual(m.runtime.peas[0].pea.id, m.runtime.peas[1].pea.id);
    assert.notEqual(shared.id, own.id);
  });
});
