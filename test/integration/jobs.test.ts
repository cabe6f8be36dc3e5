// Jobs on real runtimes: Spawn, Link, Stream, Run; users, environment,
// rlimits, the output cap, discard_output, log_tag; several clients.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { WardenClient } from "../../src/client/client.js";
import { toLong } from "../../src/protocol/messages.js";
import { eventually, RUNTIMES, startDaemon, type TestDaemon } from "./harness.js";

const OUTPUT_LIMIT = 64 * 1024;

for (const runtime of RUNTIMES) {
  describe(`jobs on ${runtime}`, () => {
    let daemon: TestDaemon;
    let c: WardenClient;
    let handle: string;
    let syslog: Server;
    let syslogText = "";

    before(async () => {
      const dir = `/tmp/wardentest-syslog-${process.pid}-${runtime}.sock`;
      await rm(dir, { force: true });
      syslog = createServer((s) => s.on("data", (b) => (syslogText += b.toString())));
      await new Promise<void>((r) => syslog.listen(dir, r));
      daemon = await startDaemon({
        runtime,
        config: {
          server: {
            job_output_limit: OUTPUT_LIMIT,
            syslog_socket: dir,
            container_rlimits: { nofile: 2048 },
          },
        },
      });
      c = await daemon.client();
      handle = await c.create();
    });

    after(async () => {
      // The listener goes even when the daemon's stop fails: left open, it keeps this file's process alive.
      try {
        await daemon.stop();
      } finally {
        await new Promise((r) => syslog.close(r));
      }
    });

    it("runs a script as the unprivileged container user, or as root when privileged", async () => {
      const user = await c.run(handle, "id -u; id -un; pwd");
      const [uid, name, cwd] = user.stdout.trim().split("\n");
      assert.ok(Number(uid) >= 10000, `uid ${uid} from the pool`);
      assert.equal(name, "vcap");
      assert.equal(cwd, "/home/vcap");
      const root = await c.run(handle, "id -u; pwd", { privileged: true });
      assert.equal(root.stdout, "0\n/root\n");
    });

    it("gives the container user no capabilities, and root some", async () => {
      const user = await c.run(handle, "grep CapEff /proc/self/status");
      assert.match(user.stdout, /CapEff:\s+0+\n/);
      const root = await c.run(handle, "grep CapEff /proc/self/status", { privileged: true });
      assert.doesNotMatch(root.stdout, /CapEff:\s+0+\n/);
    });

    it("passes HOME, USER, PATH and LANG only", async () => {
      const run = await c.run(handle, "env | cut -d= -f1 | sort | tr '\\n' ' '; echo; echo $HOME $USER $PATH");
      const names = run.stdout.split("\n")[0].trim().split(" ");
      // PWD, SHLVL and _ are bash's own.
      assert.deepEqual(names.filter((n) => !["PWD", "SHLVL", "_", "OLDPWD"].includes(n)), ["HOME", "LANG", "PATH", "USER"]);
      assert.equal(run.stdout.split("\n")[1], "/home/vcap vcap /bin:/usr/bin");
    });

    it("returns stdout, stderr and the exit status; 255 for a job a signal killed, as Warden", async () => {
      const run = await c.run(handle, "echo out; echo err >&2; exit 42");
      assert.equal(run.exit_status, 42);
      assert.equal(run.stdout, "out\n");
      assert.equal(run.stderr, "err\n");
      assert.equal(run.info!.state, "active");
      assert.equal((await c.run(handle, "kill -9 $$")).exit_status, 255, "killed by SIGKILL");
      assert.equal((await c.run(handle, "kill -TERM $$")).exit_status, 255, "killed by SIGTERM");
      assert.equal((await c.run(handle, "exit 137")).exit_status, 137, "an exit code that looks like a signal is an exit code");
    });

    it("reports 255 for a job that Stop(kill) ends, and its own code for one that traps TERM", async () => {
      const h = await c.create();
      const trapping = await c.spawn(h, "trap 'exit 37' TERM; echo ready; while true; do sleep 0.05; done");
      const plain = await c.spawn(h, "echo ready; sleep 100");
      // A connection answers in order: the stream gets one of its own.
      const streaming = await daemon.client();
      const stream = streaming.stream(h, trapping);
      assert.equal((await stream.next()).value?.data?.toString(), "ready\n");
      await eventually(async () => (await c.call("Info", { handle: h })).job_ids.length === 2, "both jobs to run");
      const other = await daemon.client();
      await other.call("Stop", { handle: h });
      assert.equal((await c.link(h, plain)).exit_status, 255, "the plain job was killed by TERM");
      let last;
      for await (const frame of stream) last = frame;
      assert.equal(last!.exit_status, 37);
      const killed = await c.create();
      const job = await c.spawn(killed, "trap 'exit 37' TERM; sleep 100");
      await other.call("Stop", { handle: killed, kill: true });
      assert.equal((await c.link(killed, job)).exit_status, 255);
      await c.destroy(h);
      await c.destroy(killed);
    });

    it("feeds the script to bash on stdin: bash features and a large script work", async () => {
      const big = `x=0\n${"x=$((x+1))\n".repeat(20000)}echo $x\n[[ -n "$BASH_VERSION" ]] && echo bash`;
      const run = await c.run(handle, big);
      assert.equal(run.stdout, "20000\nbash\n");
    });

    it("sets rlimits from the server config, overridden by the request", async () => {
      assert.equal((await c.run(handle, "ulimit -n")).stdout, "2048\n");
      const asked = await c.run(handle, "ulimit -n; ulimit -c", { rlimits: { nofile: toLong(1234), core: toLong(0) } });
      assert.equal(asked.stdout, "1234\n0\n");
      assert.equal((await c.run(handle, "ulimit -n")).stdout, "2048\n", "a request's limits do not stay");
    });

    it("refuses an rlimit above the host's hard limit with a clear error", async () => {
      await assert.rejects(c.run(handle, "true", { rlimits: { nice: toLong(40) } }), /rlimit nice of 40 is above the host's hard limit/);
      assert.equal((await c.run(handle, "echo still fine")).stdout, "still fine\n");
    });

    it("links a spawned job, once", async () => {
      const job = await c.spawn(handle, "sleep 0.2; echo done");
      assert.ok((await c.call("Info", { handle })).job_ids.map(Number).includes(job));
      const link = await c.link(handle, job);
      assert.equal(link.stdout, "done\n");
      assert.equal(link.exit_status, 0);
      assert.ok(!link.info!.job_ids!.map(Number).includes(job));
      await assert.rejects(c.link(handle, job), { message: "no such job" });
      await assert.rejects(c.link(handle, 999999), { message: "no such job" });
    });

    it("gives every concurrent Link (one per connection) the result", async () => {
      const others = [await daemon.client(), await daemon.client()];
      const job = await c.spawn(handle, "sleep 0.3; echo shared");
      const results = await Promise.all([c, ...others].map((client) => client.link(handle, job)));
      for (const r of results) assert.equal(r.stdout, "shared\n");
    });

    it("answers a second Link on the same connection after the first: the job is gone by then", async () => {
      const job = await c.spawn(handle, "sleep 0.1");
      const [first, second] = await Promise.allSettled([c.link(handle, job), c.link(handle, job)]);
      assert.equal(first.status, "fulfilled");
      assert.equal(second.status === "rejected" && (second.reason as Error).message, "no such job");
    });

    it("links from another client after the spawning client has gone", async () => {
      const spawner = await daemon.client();
      const job = await spawner.spawn(handle, "sleep 0.3; echo survived");
      spawner.close();
      await spawner.closed();
      assert.equal((await c.link(handle, job)).stdout, "survived\n");
    });

    it("keeps the job for others when a client disconnects during Link", async () => {
      const linksReceived = () => daemon.logs.split("\n").filter((l) => l.includes('"type":"Link"') && l.includes("request received")).length;
      const linksBefore = linksReceived();
      const impatient = await daemon.client();
      const job = await impatient.spawn(handle, "sleep 0.4; echo finished");
      const abandoned = impatient.link(handle, job).catch((e: Error) => e);
      await eventually(() => linksReceived() > linksBefore, "the daemon to take the Link");
      impatient.close();
      assert.ok((await abandoned) instanceof Error);
      const link = await c.link(handle, job);
      assert.equal(link.stdout, "finished\n");
      assert.equal(link.exit_status, 0);
    });

    it("streams output as it is produced, then the exit status", async () => {
      const job = await c.spawn(handle, "echo one; sleep 0.3; echo two >&2; sleep 0.3; exit 5");
      const frames: Array<{ at: number; name: string; data: string; exit?: number }> = [];
      const started = Date.now();
      for await (const f of c.stream(handle, job)) {
        frames.push({ at: Date.now() - started, name: f.name ?? "", data: f.data?.toString() ?? "", exit: f.exit_status });
      }
      assert.deepEqual(
        frames.map((f) => [f.name, f.data]),
        [["stdout", "one\n"], ["stderr", "two\n"], ["", ""]],
      );
      assert.equal(frames[2].exit, 5);
      assert.ok(frames[0].at < 250, `first line came at ${frames[0].at} ms, before the job ended`);
      await assert.rejects(c.link(handle, job), { message: "no such job" });
    });

    it("kills a job past the output limit: status 255, the output cut, an event", async () => {
      const job = await c.spawn(handle, "yes | head -c 1000000; yes overflow");
      const link = await c.link(handle, job);
      assert.equal(link.exit_status, 255);
      assert.ok(link.stdout.length <= OUTPUT_LIMIT && link.stdout.length > OUTPUT_LIMIT / 2);
      assert.ok(link.info!.events!.includes("command exceeded maximum output"));
      const ps = await c.run(handle, "ps -o comm | grep -c '^yes' || true", { privileged: true });
      assert.equal(ps.stdout.trim(), "0", "every process of the job was killed");
    });

    it("keeps nothing and caps nothing with discard_output", async () => {
      const run = await c.run(handle, "head -c 200000 /dev/zero; echo visible >&2; exit 3", { discard_output: true });
      assert.equal(run.exit_status, 3);
      assert.equal(run.stdout, "");
      assert.equal(run.stderr, "");
    });

    it("sends output lines to syslog tagged warden.<log_tag>", async () => {
      await c.run(handle, "echo hello-syslog; echo oops-syslog >&2", { log_tag: "myapp" });
      await eventually(() => syslogText.includes("oops-syslog"), "the lines to reach syslog");
      assert.match(syslogText, /<14>.*warden\.myapp: hello-syslog/);
      assert.match(syslogText, /<11>.*warden\.myapp: oops-syslog/);
    });

    it("reaps the job's files once linked", async () => {
      const processesDir = join(daemon.depot, (await c.call("Info", { handle })).container_path.split("/").pop()!, "processes");
      const job = await c.spawn(handle, "true");
      assert.ok((await readdir(processesDir)).includes(String(job)), "a job's files are named by its id");
      await c.link(handle, job);
      await eventually(async () => !(await readdir(processesDir)).includes(String(job)), "the job's files to go");
    });

    it("streams a job's output byte for byte, also bytes that are no UTF-8", async () => {
      const job = await c.spawn(handle, "printf '\\377\\000\\376\\342\\202'; sleep 0.1; printf '\\254 \\200'");
      const chunks: Buffer[] = [];
      for await (const f of c.stream(handle, job)) if (f.name === "stdout" && f.data) chunks.push(f.data);
      assert.deepEqual(Buffer.concat(chunks), Buffer.from([0xff, 0x00, 0xfe, 0xe2, 0x82, 0xac, 0x20, 0x80]));
    });

    it("lets what a job left in the background write on after the job ended", async () => {
      // Its output pipes stay open for it (a closed one would kill it with SIGPIPE at its first write).
      const r = await c.run(handle, "(for i in 1 2 3; do sleep 0.2; echo more; echo more >&2; done; touch /tmp/bg-done) & echo started");
      assert.deepEqual([r.exit_status, r.stdout], [0, "started\n"]);
      await eventually(async () => (await c.run(handle, "test -e /tmp/bg-done && echo yes")).stdout === "yes\n", "the background writer to finish");
    });

    it("lets a job run on while the daemon is killed: its supervisor records the exit", async () => {
      const job = await c.spawn(handle, "sleep 0.5; echo late");
      const jobDir = join((await c.call("Info", { handle })).container_path, "processes", String(job));
      await daemon.kill();
      await eventually(() => existsSync(join(jobDir, "exit")), "the exit status to be recorded without the daemon");
      await daemon.restart();
      c = await daemon.client();
      const link = await c.link(handle, job);
      assert.deepEqual([link.exit_status, link.stdout], [0, "late\n"]);
    });
  });
}
