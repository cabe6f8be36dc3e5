// A daemon that is restarted, cleanly or after kill -9, takes back what it
// had: containers, networks, rules, limits, jobs and their output.
import assert from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { WardenClient } from "../../src/client/client.js";
import { externalAddresses } from "../../src/linux/network/linux-network.js";
import { hostCommands } from "../../src/linux/command.js";
import { toLong } from "../../src/protocol/messages.js";
import { eventually, startDaemon, type TestDaemon } from "./harness.js";

const MiB = 1024 * 1024;

function hostRead(ip: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection({ host: ip, port });
    let data = "";
    s.on("data", (b) => (data += b.toString()));
    s.on("close", () => resolve(data.trim()));
    s.on("error", (e) => resolve(`error: ${(e as NodeJS.ErrnoException).code}`));
  });
}

async function tcp(c: WardenClient, handle: string, ip: string, port: number): Promise<string> {
  const r = await c.run(handle, `timeout 3 bash -c 'exec 3<>/dev/tcp/${ip}/${port}' 2>&1; echo rc=$?`);
  return r.stdout.includes("rc=0") ? "ok" : r.stdout.includes("No route to host") ? "prohibited" : r.stdout;
}

for (const how of ["kill -9", "SIGTERM"] as const) {
  describe(`restart after ${how}`, () => {
    it("loses nothing: containers, networks, rules, limits, jobs and their output", async () => {
      const daemon: TestDaemon = await startDaemon();
      try {
        let c = await daemon.client();
        const server = await c.create({ handle: "server", grace_time: 600 });
        const client = await c.create({ handle: "client", grace_time: 600 });
        const serverIp = (await c.call("Info", { handle: server })).container_ip;
        await c.spawn(server, "exec nc -ll -p 8080 -e /bin/echo hello");
        await c.spawn(server, "exec nc -ll -p 8081 -e /bin/echo other");
        const forward = await c.call("NetIn", { handle: server, container_port: 8080 });
        await c.call("NetOut", { handle: client, network: serverIp, port: 8080 });
        await c.call("LimitMemory", { handle: server, limit_in_bytes: toLong(64 * MiB) });
        await c.call("LimitCpu", { handle: server, limit_in_shares: toLong(300) });
        const running = await c.spawn(client, "echo first; sleep 1.5; echo second; exit 4");
        const finished = await c.spawn(client, "echo quick");
        await eventually(async () => {
          const ids = (await c.call("Info", { handle: client })).job_ids.map(Number);
          return ids.includes(running) && !ids.includes(finished);
        }, "one job to have finished while the other runs");
        const before = await c.call("Info", { handle: server });

        if (how === "kill -9") await daemon.kill();
        else await daemon.terminate();
        await daemon.restart();
        c = await daemon.client();

        assert.deepEqual((await c.call("List")).handles.sort(), ["client", "server"]);
        const after = await c.call("Info", { handle: server });
        assert.deepEqual(
          [after.state, after.host_ip, after.container_ip, after.container_path],
          [before.state, before.host_ip, before.container_ip, before.container_path],
        );
        assert.equal(Number((await c.call("LimitMemory", { handle: server })).limit_in_bytes), 64 * MiB);
        assert.equal(Number((await c.call("LimitCpu", { handle: server })).limit_in_shares), 300);
        const [external] = await externalAddresses(hostCommands);
        assert.equal(await hostRead(external, forward.host_port), "hello", "the NetIn forward works");
        assert.equal(await tcp(c, client, serverIp, 8080), "ok", "the NetOut rule still opens 8080");
        assert.equal(await tcp(c, client, serverIp, 8081), "prohibited", "and nothing else");
        const done = await c.link(client, finished);
        assert.deepEqual([done.exit_status, done.stdout], [0, "quick\n"]);
        const frames = [];
        for await (const f of c.stream(client, running)) frames.push(f);
        assert.equal(frames.map((f) => f.data).join(""), "first\nsecond\n", "the whole output, from the start");
        assert.equal(frames[frames.length - 1].exit_status, 4);
        const next = await c.spawn(client, "true");
        assert.ok(next > finished, `job ids go on: ${next} after ${finished}`);
        const fresh = await c.create();
        assert.notEqual((await c.call("Info", { handle: fresh })).container_ip, serverIp, "no network handed out twice");
      } finally {
        await daemon.stop();
      }
    });
  });
}

describe("restart: records", () => {
  it("applies limits again from the record, whatever became of the cgroup", async () => {
    const daemon = await startDaemon();
    try {
      let c = await daemon.client();
      const h = await c.create({ grace_time: 600 });
      const id = (await c.call("Info", { handle: h })).container_path.split("/").pop()!;
      await c.call("LimitMemory", { handle: h, limit_in_bytes: toLong(48 * MiB) });
      await daemon.kill();
      // Someone raises it behind our back (memsw first: the kernel keeps limit <= memsw).
      const dir = join("/sys/fs/cgroup/memory", daemon.cgroupParent, id);
      const file = join(dir, "memory.limit_in_bytes");
      await writeFile(join(dir, "memory.memsw.limit_in_bytes"), String(96 * MiB));
      await writeFile(file, String(96 * MiB));
      await daemon.restart();
      c = await daemon.client();
      assert.equal(Number((await readFile(file, "utf8")).trim()), 48 * MiB);
    } finally {
      await daemon.stop();
    }
  });

  it("removes a container whose record is missing or corrupt, says why, and starts", async () => {
    const daemon = await startDaemon();
    try {
      let c = await daemon.client();
      const kept = await c.create({ handle: "kept", grace_time: 600 });
      const lost = await c.create({ handle: "lost", grace_time: 600 });
      const torn = await c.create({ handle: "torn", grace_time: 600 });
      const path = async (h: string) => (await c.call("Info", { handle: h })).container_path;
      const [lostPath, tornPath] = [await path(lost), await path(torn)];
      await daemon.kill();
      await rm(join(lostPath, "state.json"));
      await writeFile(join(tornPath, "state.json"), '{"version": 1, "id": ');
      await daemon.restart();
      c = await daemon.client();
      assert.deepEqual((await c.call("List")).handles, [kept]);
      assert.match(daemon.logs, /removing a container that cannot be recovered/);
    } finally {
      await daemon.stop();
    }
  });
});

describe("drain", () => {
  for (const signal of ["SIGTERM", "SIGUSR2"] as const) {
    it(`on ${signal}: finishes a Create under way, closes idle and Link connections, takes no new ones, and leaves jobs running`, async () => {
      const daemon = await startDaemon();
      try {
        const c = await daemon.client();
        const h = await c.create({ handle: "kept", grace_time: 600 });
        const job = await c.spawn(h, "echo before; sleep 1; echo after");
        const linker = await daemon.client();
        const linking = linker.link(h, job).then(
          () => "answered",
          () => "closed",
        );
        const idle = await daemon.client();
        const idleClosed = idle.closed().then(() => "closed");
        const creator = await daemon.client();
        const creating = creator.create({ handle: "during-drain", grace_time: 600 });
        // The Create reaches the daemon (it then takes 80 ms or more) before the signal does.
        const taken = (l: string) => l.includes('"handle":"during-drain"') && l.includes("request received");
        await eventually(() => daemon.logs.split("\n").some(taken), "the daemon to take the Create");
        const exited = daemon.signal(signal);
        assert.equal(await creating, "during-drain", "the Create under way was answered");
        assert.equal(await linking, "closed", "a Link is not waited for");
        assert.equal(await idleClosed, "closed");
        await exited;
        await assert.rejects(daemon.client(), "no new connections once draining");
        await daemon.restart();
        const again = await daemon.client();
        assert.deepEqual((await again.call("List")).handles.sort(), ["during-drain", "kept"]);
        const done = await again.link(h, job);
        assert.deepEqual([done.exit_status, done.stdout], [0, "before\nafter\n"], "the job ran on through the drain");
      } finally {
        await daemon.stop();
      }
    });
  }
});
