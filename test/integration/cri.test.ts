// Kubernetes' CRI on a real daemon, judged by Kubernetes' own tools
// (../shared/tools/cri/): crictl for the everyday commands and critest's
// runtime-info and idempotence specs, over the unix socket named by
// `cri.socket`, beside Warden's protocol.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { existsSync, readlinkSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { eventually, REPO, startDaemon, type TestDaemon } from "./harness.js";
import { LayoutWriter, toolsLayer } from "./oci-layout.js";
import { TestRegistry } from "./registry.js";

const TOOLS = join(REPO, "../shared/tools/cri");
const CRICTL = join(TOOLS, "crictl");
const CRITEST = join(TOOLS, "critest");

function run(file: string, args: string[], cwd?: string): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 120_000, cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}`, stdout }),
    );
  });
}

/** Runs with `input` on stdin (then closed); stdout as bytes. */
function runWithInput(file: string, args: string[], input: Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr: err });
    });
    child.stdin.end(input);
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe("CRI: Kubernetes' own tools", { skip: !existsSync(CRICTL) && "crictl is not in ../shared/tools" }, () => {
  let daemon: TestDaemon;
  let work: string;
  let registry: TestRegistry;
  const crictl = (...args: string[]) => run(CRICTL, ["--runtime-endpoint", `unix://${daemon.criSocket}`, "--image-endpoint", `unix://${daemon.criSocket}`, ...args]);

  before(async () => {
    // A BusyBox image on a registry on loopback, which the daemon takes as docker.io's mirror.
    work = await mkdtemp(join(tmpdir(), "wcri-it-"));
    await mkdir(join(work, "registry"));
    registry = await TestRegistry.start({ dir: join(work, "registry") });
    const layout = new LayoutWriter(join(work, "layout"));
    await layout.tag("busybox", await layout.image({ layers: [toolsLayer], config: { Env: ["PATH=/bin"], Cmd: ["sh"] } }));
    await registry.push(layout.dir, "busybox", "library/busybox:1.37.0");
    // Two layers, for image volumes (an overlay of them, read-only): the second adds /data and hides nothing.
    const data = await layout.image({
      layers: [
        toolsLayer,
        async (root) => {
          await mkdir(join(root, "data", "sub"), { recursive: true });
          await writeFile(join(root, "data", "sub", "file"), "from the image\n");
          await symlink("/etc", join(root, "data", "out"));
        },
      ],
      config: { Cmd: ["sh"] },
    });
    await layout.tag("data", data);
    await registry.push(layout.dir, "data", "library/data:1");
    daemon = await startDaemon({ cri: true, config: { images: { mirrors: { "docker.io": [registry.url] } } } });
  });

  after(async () => {
    await daemon.stop();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  it("answers crictl version and info: the runtime's name, API version and both conditions ready", async () => {
    const version = await crictl("version");
    assert.equal(version.code, 0, version.out);
    assert.match(version.stdout, /RuntimeName:\s+wardend/);
    assert.match(version.stdout, /RuntimeApiVersion:\s+v1/);
    const info = await crictl("info");
    assert.equal(info.code, 0, info.out);
    const status = JSON.parse(info.stdout) as { status: { conditions: Array<{ type: string; status: boolean }> } };
    assert.deepEqual(status.status.conditions.map((c) => [c.type, c.status]), [["RuntimeReady", true], ["NetworkReady", true]]);
  });

  it("lists no pods, containers or images on a fresh daemon, and stops an unknown pod without error", async () => {
    for (const args of [["pods"], ["ps", "-a"], ["images"]]) {
      const r = await crictl(...args);
      assert.equal(r.code, 0, r.out);
      assert.equal(r.stdout.trim().split("\n").length, 1, `only the header: ${r.stdout}`);
    }
    assert.equal((await crictl("stopp", "no-such-pod")).code, 0);
    const inspect = await crictl("inspectp", "no-such-pod");
    assert.notEqual(inspect.code, 0);
    assert.match(inspect.out, /NotFound/);
  });

  it("passes critest's runtime-info, pod sandbox and idempotence specs that need no container", async () => {
    const r = await run(
      CRITEST,
      [
        "--runtime-endpoint", `unix://${daemon.criSocket}`,
        "--ginkgo.focus=Runtime info",
        "--ginkgo.focus=Idempotence.*not found",
        "--ginkgo.focus=Idempotence StopPodSandbox",
        "--ginkgo.focus=PodSandbox runtime should support basic operations",
        "--ginkgo.no-color",
      ],
      daemon.dir,
    );
    assert.equal(r.code, 0, r.out.slice(-4000));
    assert.match(r.stdout, /Ran 12 of \d+ Specs/);
    assert.match(r.stdout, /SUCCESS! -- 12 Passed \| 0 Failed/);
  });

  it("runs, lists, inspects, stops and removes a pod with crictl", async () => {
    const config = join(daemon.dir, "pod.json");
    await writeFile(config, JSON.stringify({ metadata: { name: "web", namespace: "default", uid: "u1", attempt: 1 }, hostname: "web-host", labels: { app: "web" } }));
    const runp = await crictl("runp", config);
    assert.equal(runp.code, 0, runp.out);
    const id = runp.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const pods = await crictl("pods", "--label", "app=web", "-q", "--no-trunc");
    assert.deepEqual(pods.stdout.trim().split("\n"), [id]);
    const inspect = JSON.parse((await crictl("inspectp", id)).stdout) as { status: { state: string; metadata: { name: string }; network: { ip: string } } };
    assert.equal(inspect.status.state, "SANDBOX_READY");
    assert.equal(inspect.status.metadata.name, "web");
    assert.match(inspect.status.network.ip, /^10\.254\./);
    // The pod is a container of the core: Warden's protocol sees it too.
    const c = await daemon.client();
    assert.ok((await c.call("List")).handles.includes(id));
    assert.equal((await crictl("stopp", id)).code, 0);
    assert.equal(JSON.parse((await crictl("inspectp", id)).stdout).status.state, "SANDBOX_NOTREADY");
    assert.equal((await crictl("rmp", id)).code, 0);
    assert.equal((await crictl("pods", "-q")).stdout.trim(), "");
    assert.ok(!(await c.call("List")).handles.includes(id));
  });

  it("pulls an image, runs a container in a pod, and shows its end: crictl pull, create, start, ps, inspect, stop, rm", async () => {
    const pull = await crictl("pull", "busybox:1.37.0");
    assert.equal(pull.code, 0, pull.out);
    assert.match(pull.stdout, /Image is up to date for sha256:[0-9a-f]{64}/);
    assert.match((await crictl("images")).stdout, /docker.io\/library\/busybox/);
    const pod = join(work, "pod.json");
    await writeFile(pod, JSON.stringify({ metadata: { name: "p", namespace: "default", uid: "u2" } }));
    const ctr = join(work, "ctr.json");
    await writeFile(ctr, JSON.stringify({ metadata: { name: "c" }, image: { image: "busybox:1.37.0" }, command: ["sh", "-c", "echo $GREETING from $(id -u); echo oops >&2; exit 3"], envs: [{ key: "GREETING", value: "hi" }], log_path: "c/0.log", linux: { security_context: { run_as_user: { value: 1000 } } } }));
    await writeFile(pod, JSON.stringify({ metadata: { name: "p", namespace: "default", uid: "u2" }, log_directory: join(work, "logs") }));
    const podId = (await crictl("runp", pod)).stdout.trim();
    const created = await crictl("create", podId, ctr, pod);
    assert.equal(created.code, 0, created.out);
    const id = created.stdout.trim();
    assert.equal(JSON.parse((await crictl("inspect", id)).stdout).status.state, "CONTAINER_CREATED");
    assert.equal((await crictl("start", id)).code, 0);
    await eventually(async () => JSON.parse((await crictl("inspect", id)).stdout).status.state === "CONTAINER_EXITED", "the container to end");
    const status = JSON.parse((await crictl("inspect", id)).stdout).status as { exitCode: number; reason: string; imageRef: string };
    assert.equal(status.exitCode, 3);
    assert.equal(status.reason, "Error");
    assert.match(status.imageRef, /^sha256:/);
    assert.match((await crictl("ps", "-a", "-q", "--no-trunc")).stdout, new RegExp(id));
    // Its log, in Kubernetes' format where the pod's log directory says, as crictl reads it.
    const logs = await crictl("logs", id);
    assert.equal(logs.stdout, "hi from 1000\n");
    assert.match(logs.out, /oops/);
    const file = (await readFile(join(work, "logs", "c", "0.log"), "utf8")).split("\n").slice(0, -1).map((l) => l.replace(/^\S+Z /, "")).sort();
    assert.deepEqual(file, ["stderr F oops", "stdout F hi from 1000"]);
    // A long-running one, stopped: TERM first, then KILL when its time is up.
    await writeFile(ctr, JSON.stringify({ metadata: { name: "sleeper" }, image: { image: "busybox:1.37.0" }, command: ["sleep", "600"] }));
    const sleeper = (await crictl("create", podId, ctr, pod)).stdout.trim();
    await crictl("start", sleeper);
    assert.equal(JSON.parse((await crictl("inspect", sleeper)).stdout).status.state, "CONTAINER_RUNNING");
    // ExecSync: in the container's own root, its output by stream, its exit code; a time-out kills it.
    const exec = await crictl("exec", "-s", sleeper, "sh", "-c", "echo out; echo err >&2; test -x /bin/sleep && exit 4");
    assert.notEqual(exec.code, 0, exec.out);
    assert.match(exec.out, /exited with 4: err/);
    const ok = await crictl("exec", "-s", sleeper, "sh", "-c", "echo out; cat /proc/1/cmdline | tr '\\0' ' '");
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.stdout, /^out\n/);
    const late = await crictl("exec", "-s", "--timeout", "1", sleeper, "sleep", "4321");
    assert.notEqual(late.code, 0);
    assert.match(late.out, /DeadlineExceeded|timed out/);
    const seek = `for f in /proc/[0-9]*/cmdline; do c=$(tr '\\0' ' ' < $f); case "$c" in "sleep 4321"*) echo found;; esac; done; true`;
    assert.equal((await crictl("exec", "-s", sleeper, "sh", "-c", seek)).stdout.trim(), "", "the timed-out command is gone");
    assert.equal((await crictl("stop", "--timeout", "1", sleeper)).code, 0);
    assert.equal(JSON.parse((await crictl("inspect", sleeper)).stdout).status.state, "CONTAINER_EXITED");
    for (const c of [id, sleeper]) assert.equal((await crictl("rm", c)).code, 0);
    assert.equal((await crictl("ps", "-a", "-q")).stdout.trim(), "");
    assert.equal((await crictl("rmp", "-f", podId)).code, 0);
  });

  it("execs, attaches and forwards a port through the streaming server: crictl exec, exec -i, attach, port-forward", async () => {
    const args = ["--runtime-endpoint", `unix://${daemon.criSocket}`, "--image-endpoint", `unix://${daemon.criSocket}`];
    assert.equal((await crictl("pull", "busybox:1.37.0")).code, 0);
    const pod = join(work, "stream-pod.json");
    await writeFile(pod, JSON.stringify({ metadata: { name: "s", namespace: "default", uid: "u3" } }));
    const podId = (await crictl("runp", pod)).stdout.trim();
    const create = async (name: string, config: object) => {
      const file = join(work, `${name}.json`);
      await writeFile(file, JSON.stringify({ metadata: { name }, image: { image: "busybox:1.37.0" }, ...config }));
      const id = (await crictl("create", podId, file, pod)).stdout.trim();
      assert.equal((await crictl("start", id)).code, 0);
      return id;
    };
    const web = await create("web", { command: ["sh", "-c", "mkdir -p /www && echo served > /www/index.html && exec busybox httpd -f -p 8080 -h /www"] });

    // Exec (not -s): output per stream as bytes, the exit code, stdin to its end.
    const failing = await runWithInput(CRICTL, [...args, "exec", web, "sh", "-c", "echo out; echo err >&2; exit 5"], Buffer.alloc(0));
    assert.notEqual(failing.code, 0, failing.stderr);
    assert.match(failing.stderr, /command terminated with exit code 5/);
    assert.equal(failing.stdout.toString(), "out\n");
    assert.match(failing.stderr, /err/);
    const binary = await runWithInput(CRICTL, [...args, "exec", web, "sh", "-c", "printf '\\377\\000\\376'"], Buffer.alloc(0));
    assert.deepEqual([...binary.stdout], [0xff, 0x00, 0xfe]);
    const piped = await runWithInput(CRICTL, [...args, "exec", "-i", web, "tr", "a-z", "A-Z"], Buffer.from("hello\n"));
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal(piped.stdout.toString(), "HELLO\n");

    // Port forwarding: local ports of crictl's to the pod's 8080, and to 8081, which a server
    // listens on only on the pod's own loopback (reached from inside its network namespace).
    await create("local", { command: ["sh", "-c", "mkdir -p /w && echo local > /w/index.html && exec busybox httpd -f -p 127.0.0.1:8081 -h /w"] });
    for (const [port, expected] of [[8080, "served\n"], [8081, "local\n"]] as const) {
      const local = await freePort();
      const forward = spawn(CRICTL, [...args, "port-forward", podId, `${local}:${port}`], { stdio: "ignore" });
      try {
        let body = "";
        await eventually(async () => {
          body = await fetch(`http://127.0.0.1:${local}/index.html`).then((r) => r.text(), () => "");
          return body !== "";
        }, `the forwarded port ${port} to answer`);
        assert.equal(body, expected);
      } finally {
        forward.kill("SIGTERM");
      }
    }

    // Attach: a shell reading its stdin, which ends with the client's (stdin_once); only output from now on.
    const shell = await create("shell", { command: ["sh"], stdin: true, stdin_once: true });
    const attached = await runWithInput(CRICTL, [...args, "attach", "-i", shell], Buffer.from("echo attached; echo to-err >&2\n"));
    assert.equal(attached.code, 0, attached.stderr);
    assert.equal(attached.stdout.toString(), "attached\n");
    await eventually(async () => JSON.parse((await crictl("inspect", shell)).stdout).status.state === "CONTAINER_EXITED", "the shell to end with its stdin");
    assert.equal((await crictl("rmp", "-f", podId)).code, 0);
  });

  it("runs a pod on the node's network: its containers in the host's network namespace, no address of its own", async () => {
    assert.equal((await crictl("pull", "busybox:1.37.0")).code, 0);
    const pod = join(work, "hostnet-pod.json");
    await writeFile(pod, JSON.stringify({ metadata: { name: "hn", namespace: "default", uid: "u4" }, linux: { security_context: { namespace_options: { network: 2 } } } }));
    const runp = await crictl("runp", pod);
    assert.equal(runp.code, 0, runp.out);
    const podId = runp.stdout.trim();
    assert.equal(JSON.parse((await crictl("inspectp", podId)).stdout).status.network.ip, "");
    const ctr = join(work, "hostnet-ctr.json");
    await writeFile(ctr, JSON.stringify({ metadata: { name: "n" }, image: { image: "busybox:1.37.0" }, command: ["sleep", "600"] }));
    const id = (await crictl("create", podId, ctr, pod)).stdout.trim();
    assert.equal((await crictl("start", id)).code, 0);
    const ns = await crictl("exec", "-s", id, "readlink", "/proc/self/ns/net");
    assert.equal(ns.code, 0, ns.out);
    assert.equal(ns.stdout.trim(), readlinkSync("/proc/self/ns/net"));
    // A host device at a path of its own (one no container has by default), read-only as asked:
    // the cgroup lets it be opened for reading, and refuses opening it for writing.
    await writeFile(ctr, JSON.stringify({ metadata: { name: "dev" }, image: { image: "busybox:1.37.0" }, command: ["sleep", "300"], devices: [{ container_path: "/dev/mytun", host_path: "/dev/net/tun", permissions: "r" }] }));
    const dev = (await crictl("create", podId, ctr, pod)).stdout.trim();
    assert.equal((await crictl("start", dev)).code, 0);
    const read = await crictl("exec", "-s", dev, "sh", "-c", "exec 3</dev/mytun && echo opened");
    assert.equal(read.stdout.trim(), "opened", read.out);
    const write = await crictl("exec", "-s", dev, "sh", "-c", "exec 3>/dev/mytun");
    assert.notEqual(write.code, 0);
    assert.match(write.out, /not permitted/i);
    // Its resources changed while it runs: its own cgroup takes them.
    const update = await crictl("update", "--cpu-quota", "20000", "--cpu-period", "100000", "--memory", String(64 * 1024 * 1024), id);
    assert.equal(update.code, 0, update.out);
    // Its cgroup (named by the core's ids) is the one holding its "sleep 600".
    const found = await run("find", ["/sys/fs/cgroup/cpu/", "-maxdepth", "3", "-type", "d", "-name", "*-p[0-9]*"]);
    let cgroup = "";
    for (const dir of found.stdout.trim().split("\n").filter(Boolean)) {
      for (const pid of (await readFile(join(dir, "cgroup.procs"), "utf8")).split("\n").filter(Boolean)) {
        if ((await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")) === "sleep\0" + "600\0") cgroup = dir;
      }
    }
    assert.ok(cgroup, `a cgroup of the container's own: ${found.out}`);
    assert.equal((await readFile(join(cgroup, "cpu.cfs_quota_us"), "utf8")).trim(), "20000");
    assert.equal((await readFile(join(cgroup.replace("/cpu/", "/memory/"), "memory.limit_in_bytes"), "utf8")).trim(), String(64 * 1024 * 1024));
    assert.equal((await crictl("update", "--cpuset-cpus", "0", id)).code, 0);
    assert.equal((await readFile(join(cgroup.replace("/cpu/", "/cpuset/"), "cpuset.cpus"), "utf8")).trim(), "0");
    assert.equal((await crictl("rmp", "-f", podId)).code, 0);
  });

  it("binds volumes as the host has them at start, and passes later host mounts in when asked (host-to-container)", async () => {
    assert.equal((await crictl("pull", "busybox:1.37.0")).code, 0);
    const volume = join(work, "volume");
    await mkdir(join(volume, "early"), { recursive: true });
    await mkdir(join(volume, "late"), { recursive: true });
    // Made shared, as the kubelet makes its directory, so later mounts under it have peers to reach.
    await run("mount", ["--bind", volume, volume]);
    await run("mount", ["--make-rshared", volume]);
    const mounted = [volume];
    try {
      // Mounted on the host after the daemon made its runtime's namespace, before the container starts.
      await run("mount", ["-t", "tmpfs", "-o", "size=1m", "early", join(volume, "early")]);
      mounted.unshift(join(volume, "early"));
      await writeFile(join(volume, "early", "flag"), "early\n");
      const pod = join(work, "vol-pod.json");
      await writeFile(pod, JSON.stringify({ metadata: { name: "v", namespace: "default", uid: "u5" } }));
      const podId = (await crictl("runp", pod)).stdout.trim();
      const ctr = join(work, "vol-ctr.json");
      const container = (name: string, propagation: number) =>
        writeFile(ctr, JSON.stringify({ metadata: { name }, image: { image: "busybox:1.37.0" }, command: ["sleep", "600"], mounts: [{ container_path: "/v", host_path: volume, propagation }] }));
      await container("slave", 1);
      const slave = (await crictl("create", podId, ctr, pod)).stdout.trim();
      await container("private", 0);
      const priv = (await crictl("create", podId, ctr, pod)).stdout.trim();
      for (const id of [slave, priv]) assert.equal((await crictl("start", id)).code, 0);
      for (const id of [slave, priv]) assert.equal((await crictl("exec", "-s", id, "cat", "/v/early/flag")).stdout.trim(), "early");
      await run("mount", ["-t", "tmpfs", "-o", "size=1m", "late", join(volume, "late")]);
      mounted.unshift(join(volume, "late"));
      await writeFile(join(volume, "late", "flag"), "late\n");
      assert.equal((await crictl("exec", "-s", slave, "cat", "/v/late/flag")).stdout.trim(), "late");
      assert.notEqual((await crictl("exec", "-s", priv, "cat", "/v/late/flag")).code, 0, "a private volume keeps what it had");
      assert.equal((await crictl("rmp", "-f", podId)).code, 0);
      // Taking the container's copies away left the host's mounts where they were.
      const table = await readFile("/proc/self/mountinfo", "utf8");
      for (const m of mounted) assert.ok(table.includes(` ${m} `), `${m} is still mounted on the host`);
    } finally {
      for (const m of mounted) await run("umount", [m]);
    }
  });

  it("keeps a container running across a restart of the daemon, and takes away its root and volumes when it is removed then", async () => {
    assert.equal((await crictl("pull", "busybox:1.37.0")).code, 0);
    const volume = join(work, "restart-volume");
    await mkdir(volume, { recursive: true });
    const pod = join(work, "restart-pod.json");
    await writeFile(pod, JSON.stringify({ metadata: { name: "r", namespace: "default", uid: "u6" } }));
    const podId = (await crictl("runp", pod)).stdout.trim();
    const ctr = join(work, "restart-ctr.json");
    await writeFile(ctr, JSON.stringify({ metadata: { name: "r" }, image: { image: "busybox:1.37.0" }, command: ["sleep", "600"], mounts: [{ container_path: "/v", host_path: volume }] }));
    const id = (await crictl("create", podId, ctr, pod)).stdout.trim();
    assert.equal((await crictl("start", id)).code, 0);
    const runtimeMounts = async () => (await run("nsenter", [`--mount=${join(daemon.dir, "run", "ns", "mnt")}`, "cat", "/proc/self/mountinfo"])).stdout;
    const ofPeas = (table: string) => table.split("\n").filter((l) => /\/(peas|pea-volumes)\//.test(l));
    assert.equal(ofPeas(await runtimeMounts()).length, 2, "its root and its volume");
    await daemon.terminate();
    await daemon.restart();
    assert.equal((await crictl("exec", "-s", id, "echo", "still")).stdout.trim(), "still");
    assert.equal((await crictl("stop", "--timeout", "0", id)).code, 0);
    await eventually(async () => ofPeas(await runtimeMounts()).length === 0, "its root and volume to go when it ends");
    assert.equal((await crictl("rmp", "-f", podId)).code, 0);
  });

  it("runs a pod in a user namespace of its own (the kubelet's map): its image and volumes seen through the map, nothing of it left", async () => {
    assert.equal((await crictl("pull", "busybox:1.37.0")).code, 0);
    const hostId = 300_000;
    const mapping = [{ container_id: 0, host_id: hostId, length: 65536 }];
    const volume = join(work, "userns-volume");
    await mkdir(volume, { recursive: true });
    await writeFile(join(volume, "host-file"), "x");
    const pod = join(work, "userns-pod.json");
    const podConfig = (uids: unknown[], gids = uids) => ({
      metadata: { name: "un", namespace: "default", uid: "u8" },
      linux: { security_context: { namespace_options: { userns_options: { mode: 0, uids, gids } } } },
    });
    // Two maps, or one not from container id 0, or one on the daemon's own ids, are refused.
    for (const uids of [[...mapping, { container_id: 65536, host_id: 400_000, length: 10 }], [{ ...mapping[0], container_id: 1 }]]) {
      await writeFile(pod, JSON.stringify(podConfig(uids, mapping)));
      const refused = await crictl("runp", pod);
      assert.notEqual(refused.code, 0, refused.out);
    }
    await writeFile(pod, JSON.stringify(podConfig([{ container_id: 0, host_id: 1_000_000_000, length: 65536 }])));
    const overlapping = await crictl("runp", pod);
    assert.match(overlapping.out, /overlaps the daemon's host ids/);
    await writeFile(pod, JSON.stringify(podConfig(mapping)));
    const podId = (await crictl("runp", pod)).stdout.trim();
    assert.match(podId, /^[0-9a-f]{64}$/);
    const ctr = join(work, "userns-ctr.json");
    assert.equal((await crictl("pull", "data:1")).code, 0);
    const mounts = [{ container_path: "/v", host_path: volume }, { container_path: "/iv", readonly: true, image: { image: "data:1" } }];
    await writeFile(ctr, JSON.stringify({ metadata: { name: "un" }, image: { image: "busybox:1.37.0" }, command: ["sleep", "600"], mounts }));
    const id = (await crictl("create", podId, ctr, pod)).stdout.trim();
    assert.equal((await crictl("start", id)).code, 0);
    const sh = async (script: string) => {
      const r = await crictl("exec", "-s", id, "sh", "-c", script);
      assert.equal(r.code, 0, r.out);
      return r.stdout.trim();
    };
    assert.deepEqual((await sh("cat /proc/self/uid_map /proc/self/gid_map")).split("\n").map((l) => l.trim().split(/\s+/)), [
      ["0", String(hostId), "65536"],
      ["0", String(hostId), "65536"],
    ]);
    // The image's files keep their owners as the container sees them (kept with the host's ids, copied nowhere).
    assert.equal(await sh("stat -c %u:%g /bin/busybox /home/app /iv/home/app /iv/data/sub/file"), "0:0\n1000:1000\n1000:1000\n0:0");
    // What root makes in its root is the map's on the host; in the volume, the volume's own ids.
    assert.equal(await sh("id -u; touch /made-here /v/made-there; stat -c %u /made-here /v/host-file /v/made-there"), "0\n0\n0\n0");
    const madeThere = await run("stat", ["-c", "%u", join(volume, "made-there")]);
    assert.equal(madeThere.stdout.trim(), "0");
    const upper = await run("find", [daemon.dir, "-path", "*/peas/*/upper/made-here", "-printf", "%U"]);
    assert.equal(upper.stdout.trim(), String(hostId));
    const runtimeMounts = async () => (await run("nsenter", [`--mount=${join(daemon.dir, "run", "ns", "mnt")}`, "cat", "/proc/self/mountinfo"])).stdout;
    assert.ok((await runtimeMounts()).includes("/idmapped/"), "the layers are seen through idmapped mounts");
    assert.equal((await crictl("rmp", "-f", podId)).code, 0);
    await eventually(async () => !(await runtimeMounts()).includes("/idmapped/"), "the idmapped mounts to go with the pod");
  });

  it("mounts images' contents read-only into a container (image volumes), a sub-path of one, and takes the mounts away with it", async () => {
    for (const image of ["busybox:1.37.0", "data:1"]) assert.equal((await crictl("pull", image)).code, 0);
    const pod = join(work, "iv-pod.json");
    await writeFile(pod, JSON.stringify({ metadata: { name: "iv", namespace: "default", uid: "u9" } }));
    const podId = (await crictl("runp", pod)).stdout.trim();
    const ctr = join(work, "iv-ctr.json");
    const volume = (image: string, container_path: string, more: object = {}) => ({ container_path, readonly: true, image: { image }, ...more });
    const create = async (mounts: object[]) => {
      await writeFile(ctr, JSON.stringify({ metadata: { name: `iv${mounts.length}` }, image: { image: "busybox:1.37.0" }, command: ["sleep", "600"], mounts }));
      return crictl("create", podId, ctr, pod);
    };
    // Refused at create, as the kubelet expects: writable, a sub-path the image lacks or one through a link out of it.
    for (const bad of [volume("data:1", "/w", { readonly: false }), volume("data:1", "/s", { image_sub_path: "data/nope" }), volume("data:1", "/l", { image_sub_path: "data/out" })]) {
      const refused = await create([bad]);
      assert.notEqual(refused.code, 0, JSON.stringify(bad));
    }
    const made = await create([volume("busybox:1.37.0", "/one"), volume("data:1", "/two"), volume("data:1", "/sub", { image_sub_path: "data/sub" })]);
    assert.equal(made.code, 0, made.out);
    const id = made.stdout.trim();
    assert.equal((await crictl("start", id)).code, 0);
    const sh = (script: string) => crictl("exec", "-s", id, "sh", "-c", script);
    assert.equal((await sh("cat /two/data/sub/file /sub/file; test -x /one/bin/busybox && echo exec")).stdout.trim(), "from the image\nfrom the image\nexec");
    for (const path of ["/one/x", "/two/x", "/sub/x"]) assert.notEqual((await sh(`touch ${path}`)).code, 0, `${path} is read-only`);
    const inspect = JSON.parse((await crictl("inspect", id)).stdout) as { status: { mounts: Array<{ containerPath: string; image?: { image: string; imageRef?: string } }> } };
    const images = JSON.parse((await crictl("images", "-o", "json")).stdout) as { images: Array<{ id: string; repoTags: string[] }> };
    const dataId = images.images.find((i) => i.repoTags.some((t) => t.includes("library/data:1")))!.id;
    assert.equal(inspect.status.mounts.find((m) => m.containerPath === "/two")?.image?.imageRef, dataId, "the volume's image by its id");
    const runtimeMounts = async () => (await run("nsenter", [`--mount=${join(daemon.dir, "run", "ns", "mnt")}`, "cat", "/proc/self/mountinfo"])).stdout;
    assert.equal((await runtimeMounts()).split("\n").filter((l) => /\/pea-volumes\/[^/ ]+\/image-/.test(l)).length, 3);
    assert.equal((await crictl("rm", "-f", id)).code, 0);
    await eventually(async () => !/pea-volumes|idmapped/.test(await runtimeMounts()), "the image volumes to go with the container");
    assert.equal((await crictl("rmp", "-f", podId)).code, 0);
  });

  it("puts a pod's sandbox and containers' cgroups under the kubelet's pod cgroup, keeps them there across a restart, and takes them away with the pod", async () => {
    assert.equal((await crictl("pull", "busybox:1.37.0")).code, 0);
    const top = `wardentest-kubepods-${process.pid}`;
    const parent = `/${top}/podk`;
    const pod = join(work, "kube-pod.json");
    await writeFile(pod, JSON.stringify({ metadata: { name: "k", namespace: "default", uid: "u7" }, linux: { cgroup_parent: parent } }));
    const hierarchies = (await readdir("/sys/fs/cgroup")).map((h) => join("/sys/fs/cgroup", h));
    try {
      const podId = (await crictl("runp", pod)).stdout.trim();
      const ctr = join(work, "kube-ctr.json");
      await writeFile(ctr, JSON.stringify({ metadata: { name: "k" }, image: { image: "busybox:1.37.0" }, command: ["sleep", "600"] }));
      const id = (await crictl("create", podId, ctr, pod)).stdout.trim();
      assert.equal((await crictl("start", id)).code, 0);
      const under = async () => (await readdir(`/sys/fs/cgroup/memory${parent}`, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => e.name);
      const sandbox = (await crictl("inspectp", podId).then((r) => JSON.parse(r.stdout) as { info?: { pid?: number } })).info?.pid;
      // The sandbox's by its container id, its containers' by that and their own.
      const names = await under();
      const ofSandbox = names.find((n) => !n.includes("-"));
      assert.ok(ofSandbox, `the sandbox's own cgroup is under the pod's: ${names.join(" ")}`);
      const own = names.find((n) => n.startsWith(`${ofSandbox}-`));
      assert.ok(own, "the container's cgroup is under the pod's");
      const sandboxProcs = (await readFile(`/sys/fs/cgroup/memory${parent}/${ofSandbox}/cgroup.procs`, "utf8")).trim().split("\n");
      assert.ok(sandboxProcs.length >= 1 && (sandbox === undefined || sandboxProcs.includes(String(sandbox))), "the sandbox's init is in it");
      // Its place holds for a restarted daemon: a kill of the pod reaches its init there.
      await daemon.terminate();
      await daemon.restart();
      const procs = (await readFile(`/sys/fs/cgroup/memory${parent}/${own}/cgroup.procs`, "utf8")).trim().split("\n");
      assert.equal(await readFile(`/proc/${procs[0]}/cmdline`, "utf8"), "sleep\0" + "600\0");
      assert.equal((await crictl("update", "--memory", String(32 * 1024 * 1024), id)).code, 0);
      assert.equal((await readFile(`/sys/fs/cgroup/memory${parent}/${own}/memory.limit_in_bytes`, "utf8")).trim(), String(32 * 1024 * 1024));
      // Stopping the pod freezes and kills in the sandbox's cgroup where it is (found again from its bundle).
      const stopped = await crictl("stopp", podId);
      assert.equal(stopped.code, 0, stopped.out);
      await eventually(async () => (await readFile(`/sys/fs/cgroup/memory${parent}/${own}/cgroup.procs`, "utf8").catch(() => "")).trim() === "", "the container's processes to die");
      assert.equal((await crictl("rmp", "-f", podId)).code, 0);
      // The pod's cgroups are cleaned up after the answer: in every hierarchy, soon.
      const left = async () => {
        const found: string[] = [];
        for (const h of hierarchies) for (const e of await readdir(join(h, parent), { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) found.push(join(h, parent, e.name));
        return found;
      };
      await eventually(async () => (await left()).length === 0, "the sandbox's and container's cgroups to go with the pod");
    } finally {
      // The pod's cgroups are the kubelet's to remove; here, the test's.
      for (const h of hierarchies) for (const d of [join(h, parent), join(h, top)]) await rmdir(d).catch(() => {});
    }
  });

  it("leaves the Warden protocol working beside it", async () => {
    const c = await daemon.client();
    const h = await c.create();
    assert.deepEqual((await c.run(h, "echo hi")).stdout, "hi\n");
    await c.destroy(h);
  });
});
