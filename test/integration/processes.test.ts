// The core's process model on real containers (crun and runc), through the
// container service itself: what Garden and the CRI will use. Terminals,
// standard input, signals, exact ends, users from the container's account
// files, working directories, attaching, and processes that outlive the
// daemon; tar streams and properties.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { OutputChunk, ProcessResult } from "../../src/core/process/process.js";
import type { ProcessSpec } from "../../src/core/process/spec.js";
import type { ProcessRef } from "../../src/core/service/container-service.js";
import { eventually, InProcessDaemon, RUNTIMES } from "./harness.js";

async function output(ref: ProcessRef): Promise<{ stdout: string; stderr: string; end: ProcessResult }> {
  const texts = { stdout: "", stderr: "" };
  const it = ref.attach();
  for (;;) {
    const next = await it.next();
    if (next.done) return { ...texts, end: next.value };
    texts[next.value.stream] += next.value.data.toString();
  }
}

for (const runtime of RUNTIMES) {
  describe(`processes on ${runtime}`, () => {
    let daemon: InProcessDaemon;
    let handle: string;
    const run = (spec: ProcessSpec) => daemon.service.run(handle, spec);
    const sh = (script: string, more: Partial<ProcessSpec> = {}) => run({ path: "/bin/sh", args: ["-c", script], ...more });

    before(async () => {
      daemon = await InProcessDaemon.start({ runtime });
      handle = await daemon.service.create({ env: ["FROM_CONTAINER=yes", "SHARED=container"] });
    });

    after(() => daemon.stop());

    it("tells an exit code from a death by signal, exactly", async () => {
      assert.deepEqual((await output(await sh("exit 137"))).end.exit, { kind: "exited", code: 137 });
      assert.deepEqual((await output(await sh("kill -9 $$"))).end.exit, { kind: "signaled", signal: 9 });
      assert.deepEqual((await output(await sh("kill -USR1 $$"))).end.exit, { kind: "signaled", signal: 10 });
    });

    it("runs a path with arguments as root in /root, with the container's environment under its own", async () => {
      const p = await run({ path: "/bin/sh", args: ["-c", 'id -u; pwd; echo "$FROM_CONTAINER $SHARED $HOME $USER"; echo "$PATH"'], env: ["SHARED=process"] });
      const { stdout, end } = await output(p);
      assert.equal(stdout, "0\n/root\nyes process /root root\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
      assert.deepEqual(end.exit, { kind: "exited", code: 0 });
    });

    it("refuses a program that is not there with a clear error", async () => {
      await assert.rejects(run({ path: "/no/such/program" }), { code: "EXECUTABLE_NOT_FOUND", details: { path: "/no/such/program" } });
    });

    it("finds users in the container's own account files, with their supplementary groups, and names one it cannot find", async () => {
      const add = await sh(
        "echo 'alice:x:2001:2001::/home/alice:/bin/sh' >> /etc/passwd; echo 'alice:x:2001:' >> /etc/group; echo 'team:x:3000:alice' >> /etc/group",
      );
      assert.deepEqual((await output(add)).end.exit, { kind: "exited", code: 0 });
      const { stdout } = await output(await sh("id -u; id -g; id -G; pwd; echo $HOME $USER; stat -c '%u:%g' .", { user: "alice" }));
      assert.equal(stdout, "2001\n2001\n2001 3000\n/home/alice\n/home/alice alice\n2001:2001\n", "her home was made, and is hers");
      assert.equal((await output(await sh("id -u; id -g", { user: "2001:3000" }))).stdout, "2001\n3000\n");
      await assert.rejects(sh("true", { user: "mallory" }), { code: "USER_NOT_FOUND", message: "unable to find user mallory" });
    });

    it("makes a missing working directory, owned by the user", async () => {
      const { stdout } = await output(await sh("pwd; stat -c '%U %a' /srv/deep/work; touch mine && echo wrote", { user: "vcap", dir: "/srv/deep/work" }));
      assert.equal(stdout, "/srv/deep/work\nvcap 755\nwrote\n");
    });

    it("gives the container user no capabilities and no way to gain any", async () => {
      const { stdout } = await output(await sh("grep -E 'CapEff|NoNewPrivs' /proc/self/status", { user: "vcap" }));
      assert.match(stdout, /CapEff:\s+0+\n/);
      assert.match(stdout, /NoNewPrivs:\s+1/);
    });

    it("streams standard input to a process, and closes it", async () => {
      const cat = await run({ path: "/bin/cat", stdin: { kind: "stream" } });
      await cat.writeStdin(Buffer.from("hello "));
      await cat.writeStdin(Buffer.from("world\n"));
      await cat.closeStdin();
      const { stdout, end } = await output(cat);
      assert.equal(stdout, "hello world\n");
      assert.deepEqual(end.exit, { kind: "exited", code: 0 });
    });

    it("passes binary output through byte for byte", async () => {
      const p = await sh("printf '\\000\\001\\377\\376'; printf '\\200' >&2");
      const chunks: OutputChunk[] = [];
      const it = p.attach();
      for (let n = await it.next(); !n.done; n = await it.next()) chunks.push(n.value);
      const bytes = (stream: string) => Buffer.concat(chunks.filter((c) => c.stream === stream).map((c) => c.data));
      assert.deepEqual([...bytes("stdout")], [0, 1, 255, 254]);
      assert.deepEqual([...bytes("stderr")], [128]);
    });

    it("runs a process on a terminal of the size asked for, takes its input, and resizes it", async () => {
      const p = await run({
        path: "/bin/sh",
        args: [
          "-c",
          "rm -f /tmp/resized; stty size; tty; trap 'stty size; touch /tmp/resized' WINCH; read line; echo \"got $line\"; " +
            "while [ ! -e /tmp/resized ]; do sleep 0.05; done; read line; echo \"bye $line\"",
        ],
        tty: { rows: 33, columns: 101 },
        stdin: { kind: "stream" },
        env: ["TERM=xterm"],
      });
      const it = p.attach();
      let text = "";
      const until = async (want: string) => {
        while (!text.includes(want)) {
          const next = await it.next();
          assert.equal(next.done, false, `ended before ${JSON.stringify(want)}: ${JSON.stringify(text)}`);
          text += (next.value as OutputChunk).data.toString();
        }
      };
      await until("/dev/pts/");
      assert.match(text, /^33 101\r\n\/dev\/pts\/\d+\r\n/);
      await p.writeStdin(Buffer.from("first\n"));
      await until("got first\r\n");
      await p.resize({ rows: 50, columns: 132 });
      await until("50 132\r\n");
      await p.writeStdin(Buffer.from("last\n"));
      await until("bye last\r\n");
      let end = await it.next();
      while (!end.done) end = await it.next();
      assert.deepEqual(end.value.exit, { kind: "exited", code: 0 });
    });

    it("delivers signals: a trapped one runs its trap, an untrapped one ends the process", async () => {
      const p = await sh("trap 'echo got-usr1' USR1; trap 'echo got-term; exit 37' TERM; echo ready; while true; do sleep 0.05; done");
      const it = p.attach();
      let text = "";
      const until = async (want: string) => {
        while (!text.includes(want)) text += ((await it.next()).value as OutputChunk).data.toString();
      };
      await until("ready");
      await p.signal("USR1");
      await until("got-usr1");
      await p.signal("TERM");
      let end = await it.next();
      while (!end.done) end = await it.next();
      assert.deepEqual(end.value.exit, { kind: "exited", code: 37 });
      const plain = await sh("echo ready; exec sleep 100");
      const { done } = await plain.attach().next();
      assert.equal(done, false);
      await plain.signal("HUP");
      assert.deepEqual((await plain.wait()).exit, { kind: "signaled", signal: 1 });
    });

    it("lets any number of clients attach by id, each from the kept output, and the end comes to all", async () => {
      const p = await run({ id: "shared-worker", path: "/bin/sh", args: ["-c", "echo one; read x; echo two"], stdin: { kind: "stream" } });
      const first = daemon.service.process(handle, "shared-worker").attach();
      assert.equal(((await first.next()).value as OutputChunk).data.toString(), "one\n");
      await assert.rejects(run({ id: "shared-worker", path: "/bin/true" }), { code: "PROCESS_ID_TAKEN" });
      const late = output(daemon.service.process(handle, "shared-worker"));
      await p.writeStdin(Buffer.from("go\n"));
      const rest: string[] = [];
      for (let n = await first.next(); !n.done; n = await first.next()) rest.push(n.value.data.toString());
      assert.equal(rest.join(""), "two\n");
      assert.equal((await late).stdout, "one\ntwo\n", "a client attaching later gets what was kept, then the rest");
    });

    it("keeps running processes and their output across a daemon restart", async () => {
      const p = await sh("echo before; sleep 0.5; echo after; exit 4", { id: "survivor" });
      const first = p.attach();
      assert.equal(((await first.next()).value as OutputChunk).data.toString(), "before\n");
      await daemon.restart();
      const again = daemon.service.process(handle, "survivor");
      const { stdout, end } = await output(again);
      assert.equal(stdout, "before\nafter\n");
      assert.deepEqual(end.exit, { kind: "exited", code: 4 });
    });

    it("streams a tar of files in and out, as the user asked for", async () => {
      const source = await run({ path: "/bin/sh", args: ["-c", "mkdir -p /tmp/src/sub && echo hi > /tmp/src/sub/file && cd /tmp && tar -cf - src"] });
      const archive = Buffer.concat(
        (await (async () => {
          const parts: Buffer[] = [];
          for (let it = source.attach(), n = await it.next(); !n.done; n = await it.next()) if (n.value.stream === "stdout") parts.push(n.value.data);
          return parts;
        })()),
      );
      await daemon.service.streamIn(handle, { path: "/home/vcap/in", user: "vcap", tar: Readable.from([archive]) });
      const check = await sh("cat /home/vcap/in/src/sub/file; stat -c %U /home/vcap/in/src/sub/file");
      assert.equal((await output(check)).stdout, "hi\nvcap\n");
      const out = await daemon.service.streamOut(handle, { path: "/home/vcap/in/src" });
      const chunks: Buffer[] = [];
      for await (const chunk of out) chunks.push(chunk as Buffer);
      const tarText = Buffer.concat(chunks).toString("latin1");
      assert.ok(tarText.includes("src/sub/file") && tarText.includes("hi\n"), "the archive holds the directory as it is");
      await assert.rejects(
        (async () => {
          for await (const _ of await daemon.service.streamOut(handle, { path: "/no/such/path" })) void _;
        })(),
        (err: Error & { code?: string; detail?: string }) => err.code === "COMMAND_FAILED" && /No such file/.test(err.detail ?? ""),
      );
    });

    it("keeps properties across a restart, and lists containers by them", async () => {
      const h = await daemon.service.create({ properties: { role: "worker" } });
      await daemon.service.setProperty(h, "zone", "a");
      await daemon.restart();
      assert.deepEqual(daemon.service.properties(h), { role: "worker", zone: "a" });
      assert.deepEqual(daemon.service.list({ role: "worker", zone: "a" }), [h]);
      await eventually(() => daemon.service.list().includes(handle), "the first container to be back");
      await daemon.service.destroy(h);
    });
  });
}
