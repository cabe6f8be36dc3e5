import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { errors } from "../../../../src/core/errors.js";
import type { ProcessLaunch } from "../../../../src/core/interfaces/runtime.js";
import type { ContainerCgroups } from "../../../../src/linux/cgroups/cgroups.js";
import { hostCommands } from "../../../../src/linux/command.js";
import { DirectoryDepot } from "../../../../src/linux/depot.js";
import type { Conmon } from "../../../../src/linux/runtime/conmon.js";
import { LinuxRuntime } from "../../../../src/linux/runtime/linux-runtime.js";
import { OciRuntimeCli } from "../../../../src/linux/runtime/oci-runtime.js";
import type { ProcessStarter, ShimStart } from "../../../../src/linux/runtime/shim.js";
import { RecordingRunner } from "../../../fakes/commands.js";

const ID = "1j1cdsetukg";

class FakeStarter implements ProcessStarter {
  readonly starts: ShimStart[] = [];
  fail: Error | undefined;
  async start(start: ShimStart): Promise<void> {
    this.starts.push(start);
    if (this.fail) throw this.fail;
    // As the shim would leave it once the process ended.
    await writeFile(join(start.dir, "exit"), '{"code":0}\n');
  }
}

function launch(seq: number, more: Partial<ProcessLaunch> = {}): ProcessLaunch {
  return {
    seq, path: "/bin/sh", args: ["-c", "true"], env: ["A=1"], dir: "/home/alice",
    user: { name: "alice", uid: 1001, gid: 1001, groups: [50], home: "/home/alice" },
    rlimits: { nofile: 1024n }, stdin: { kind: "none" }, discardOutput: false, meta: { id: String(seq) }, ...more,
  };
}

describe("linux runtime: processes", () => {
  let dir: string;
  let starter: FakeStarter;
  let runtime: LinuxRuntime;
  const frozen: string[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wruntime-"));
    const depot = new DirectoryDepot(dir);
    await mkdir(join(dir, ID, "processes"), { recursive: true });
    await mkdir(join(dir, ID, "run"), { recursive: true });
    await writeFile(join(dir, ID, "run", "pid"), "4242\n");
    starter = new FakeStarter();
    const cgroups = {
      procs: async () => [4242, 5000, 5001],
      freeze: async (id: string) => void frozen.push(`freeze ${id}`),
      thaw: async (id: string) => void frozen.push(`thaw ${id}`),
    } as unknown as ContainerCgroups;
    runtime = new LinuxRuntime({
      depot,
      oci: new OciRuntimeCli({ name: "crun", path: "/usr/bin/crun", stateRoot: join(dir, "state") }, new RecordingRunner()),
      conmon: {} as Conmon,
      shim: starter,
      shimPath: "/usr/lib/warden-shim",
      cgroups,
      cgroupParent: "w",
      initPath: "/usr/bin/catatonit",
      socketDir: join(dir, "sockets"),
      pidsLimit: 64,
      commands: hostCommands,
    });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("writes the process's OCI spec, standard input and what a restarted daemon needs, then has the shim start it", async () => {
    const handle = await runtime.startProcess(ID, launch(7, { stdin: { kind: "data", data: Buffer.from("echo hi\n") }, tty: { rows: 24, columns: 80 } }));
    const pdir = join(dir, ID, "processes", "7");
    const spec = JSON.parse(await readFile(join(pdir, "process.json"), "utf8"));
    assert.deepEqual(spec.user, { uid: 1001, gid: 1001, additionalGids: [50] });
    assert.deepEqual([spec.args, spec.cwd, spec.env, spec.terminal, spec.consoleSize], [["/bin/sh", "-c", "true"], "/home/alice", ["A=1"], true, { height: 24, width: 80 }]);
    assert.deepEqual(spec.capabilities.effective, [], "no capabilities for a user other than root");
    assert.equal(spec.noNewPrivileges, true);
    assert.deepEqual(spec.rlimits, [{ type: "RLIMIT_NOFILE", soft: 1024, hard: 1024 }]);
    assert.equal(await readFile(join(pdir, "stdin"), "utf8"), "echo hi\n");
    assert.deepEqual(JSON.parse(await readFile(join(pdir, "meta.json"), "utf8")), { id: "7" });
    assert.deepEqual(starter.starts.at(-1), { containerId: ID, dir: pdir, stdin: "file", tty: { rows: 24, columns: 80 }, discardOutput: false, owner: { uid: 1001, gid: 1001 } }, "its stdio given to its user (no user namespace here: the same ids)");
    assert.deepEqual(await handle.exited, { kind: "exited", code: 0 });
  });

  it("gives root Podman's capabilities", async () => {
    await runtime.startProcess(ID, launch(8, { user: { name: "root", uid: 0, gid: 0, groups: [], home: "/root" } }));
    const spec = JSON.parse(await readFile(join(dir, ID, "processes", "8", "process.json"), "utf8"));
    assert.ok(spec.capabilities.effective.includes("CAP_KILL") && !spec.capabilities.effective.includes("CAP_SYS_ADMIN"));
  });

  it("leaves nothing of a process that could not start, and refuses rlimits above the host's before making anything", async () => {
    starter.fail = errors.executableNotFound("/bin/nope");
    await assert.rejects(runtime.startProcess(ID, launch(9)), { code: "EXECUTABLE_NOT_FOUND" });
    assert.equal(existsSync(join(dir, ID, "processes", "9")), false);
    starter.fail = undefined;
    const before = starter.starts.length;
    await assert.rejects(runtime.startProcess(ID, launch(10, { rlimits: { nice: 2n ** 64n - 1n } })), { code: "RLIMIT_ABOVE_HARD_LIMIT" });
    assert.equal(existsSync(join(dir, ID, "processes", "10")), false);
    assert.equal(starter.starts.length, before);
  });

  it("finds processes again from their directories, dropping one that never started", async () => {
    await mkdir(join(dir, ID, "processes", "11"));
    await writeFile(join(dir, ID, "processes", "8", "process.json"), "{torn");
    const found = await runtime.processes(ID);
    assert.deepEqual(found.map((p) => [p.seq, p.meta]).sort(), [[7, { id: "7" }], [8, { id: "8" }]]);
    assert.deepEqual((await readdir(join(dir, ID, "processes"))).sort(), ["7", "8"]);
    for (const p of found) p.handle.detach();
  });

  it("signals every process but the init, freezing the container to kill, and counts them", async () => {
    assert.equal(await runtime.processCount(ID), 2);
    const killed: number[] = [];
    const kill = process.kill;
    process.kill = ((pid: number) => killed.push(pid) > 0) as typeof process.kill;
    try {
      await runtime.signalAll(ID, "KILL");
    } finally {
      process.kill = kill;
    }
    assert.deepEqual(killed, [5000, 5001]);
    assert.deepEqual(frozen, [`freeze ${ID}`, `thaw ${ID}`]);
  });
});

describe("linux runtime: processes started by the container's init", () => {
  let dir: string;
  let starter: FakeStarter;
  let runtime: LinuxRuntime;
  let listening: Server;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wruntime-"));
    await mkdir(join(dir, ID, "processes"), { recursive: true });
    await mkdir(join(dir, ID, "run"), { recursive: true });
    listening = createServer();
    await new Promise<void>((r) => listening.listen(join(dir, ID, "run", "init.sock"), r));
    starter = new FakeStarter();
    runtime = new LinuxRuntime({
      depot: new DirectoryDepot(dir),
      oci: new OciRuntimeCli({ name: "crun", path: "/usr/bin/crun", stateRoot: join(dir, "state") }, new RecordingRunner()),
      conmon: {} as Conmon,
      shim: starter,
      shimPath: "/usr/lib/warden-shim",
      cgroups: {} as ContainerCgroups,
      cgroupParent: "w",
      initPath: "/usr/lib/warden-init",
      initStartsProcesses: true,
      socketDir: join(dir, "sockets"),
      pidsLimit: 64,
      commands: hostCommands,
    });
  });
  after(async () => {
    await new Promise((r) => listening.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the init's spec and points the shim at the init's socket", async () => {
    await runtime.startProcess(ID, launch(1));
    const pdir = join(dir, ID, "processes", "1");
    assert.equal(existsSync(join(pdir, "process.json")), false);
    const entries = (await readFile(join(pdir, "process.spec"), "utf8")).split("\0");
    assert.ok(entries.includes("arg=/bin/sh") && entries.includes("env=A=1") && entries.includes("uid=1001") && entries.includes("group=50"));
    assert.equal(starter.starts.at(-1)?.initSocket, join(dir, ID, "run", "init.sock"));
  });

  it("leaves a terminal's process to the runtime's exec, as it does in a container whose init has no socket", async () => {
    await runtime.startProcess(ID, launch(2, { tty: { rows: 24, columns: 80 } }));
    assert.ok(existsSync(join(dir, ID, "processes", "2", "process.json")));
    assert.equal(starter.starts.at(-1)?.initSocket, undefined);
    await rm(join(dir, ID, "run", "init.sock"));
    await runtime.startProcess(ID, launch(3));
    assert.ok(existsSync(join(dir, ID, "processes", "3", "process.json")));
    assert.equal(starter.starts.at(-1)?.initSocket, undefined);
  });
});

describe("linux runtime: containers' user namespaces and cgroups", () => {
  let dir: string;
  /** A runtime whose conmon makes nothing: only the bundle is written. */
  const options = () => ({
    depot: new DirectoryDepot(dir),
    oci: new OciRuntimeCli({ name: "crun", path: "/usr/bin/crun", stateRoot: join(dir, "state") }, new RecordingRunner()),
    conmon: { createContainer: async () => {} } as unknown as Conmon,
    shim: new FakeStarter(),
    shimPath: "/usr/lib/warden-shim",
    cgroups: {} as ContainerCgroups,
    cgroupParent: "w",
    initPath: "/usr/bin/catatonit",
    socketDir: join(dir, "sockets"),
    pidsLimit: 64,
    commands: hostCommands,
  });
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wruntime-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("maps a container's ids with its own map when it has one, the daemon's otherwise, and none when privileged", async () => {
    const runtime = new LinuxRuntime({ ...options(), idMap: { hostId: 1_000_000_000, size: 65536 } });
    const mappings = async (id: string, more: object) => {
      await runtime.create({ id, handle: id, rootfsPath: "/r", bindMounts: [], network: { network: `/netns/${id}`, user: `/userns/${id}` }, ...more });
      const spec = JSON.parse(await readFile(join(dir, id, "bundle", "config.json"), "utf8"));
      return { uid: spec.linux.uidMappings, gid: spec.linux.gidMappings, user: spec.linux.namespaces.find((n: { type: string }) => n.type === "user") };
    };
    assert.deepEqual(await mappings("1j1cdsetuk1", { idMap: { hostId: 300000, size: 65536 } }), {
      uid: [{ containerID: 0, hostID: 300000, size: 65536 }],
      gid: [{ containerID: 0, hostID: 300000, size: 65536 }],
      user: { type: "user", path: `/proc/${process.pid}/root/userns/1j1cdsetuk1` },
    });
    assert.deepEqual((await mappings("1j1cdsetuk2", {})).uid, [{ containerID: 0, hostID: 1_000_000_000, size: 65536 }]);
    assert.deepEqual(await mappings("1j1cdsetuk3", { privileged: true }), { uid: undefined, gid: undefined, user: undefined });
  });

  it("puts a container's cgroup under the parent it was given, through the placement, and refuses one without", async () => {
    const placed: string[] = [];
    const placement = { place: (id: string, parent: string) => (placed.push(id), `${parent}/${id}`), placeAt: () => {}, forget: () => {} };
    const launch = (id: string) => ({ id, handle: id, rootfsPath: "/r", bindMounts: [], network: "host" as const, cgroupParent: "/kubepods/pod9" });
    await new LinuxRuntime({ ...options(), placement }).create(launch("1j1cdsetuk4"));
    const spec = JSON.parse(await readFile(join(dir, "1j1cdsetuk4", "bundle", "config.json"), "utf8"));
    assert.equal(spec.linux.cgroupsPath, "/kubepods/pod9/1j1cdsetuk4");
    assert.deepEqual(placed, ["1j1cdsetuk4"]);
    await assert.rejects(new LinuxRuntime(options()).create(launch("1j1cdsetuk5")), { code: "INVALID_REQUEST" });
  });
});
