// bin/warden against a real daemon: one-shot commands with Warden's exact
// output, and the interactive prompt driven through a pseudo-terminal.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO, startDaemon, type TestDaemon } from "./harness.js";

function warden(socket: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const globals = args.indexOf("--") < 0 ? ["--"] : [];
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO, "bin/warden"), "--socket", socket, ...globals, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("warden CLI", () => {
  let daemon: TestDaemon;
  before(async () => (daemon = await startDaemon()));
  after(() => daemon.stop());

  it("creates, runs with the job's exit status as its own, inspects and destroys", async () => {
    const created = await warden(daemon.socket, "create", "--handle", "cli", "--grace_time", "60");
    assert.deepEqual(created, { code: 0, stdout: "handle : cli\n", stderr: "" });
    const run = await warden(daemon.socket, "run", "--handle", "cli", "--script", "echo out; echo err >&2; exit 7");
    assert.deepEqual(run, { code: 7, stdout: "out\n", stderr: "err\n" });
    const info = await warden(daemon.socket, "info", "--handle", "cli");
    assert.match(info.stdout, /^state : active$/m);
    assert.match(info.stdout, /^container_ip : 10\.254\.\d+\.\d+$/m);
    assert.match(info.stdout, /^memory_stat\.rss : \d+$/m);
    const spawned = await warden(daemon.socket, "spawn", "--handle", "cli", "--script", "echo one; echo two >&2; exit 4");
    const [, jobId] = /^job_id : (\d+)\n$/.exec(spawned.stdout) ?? [];
    assert.ok(jobId, spawned.stdout);
    assert.deepEqual(await warden(daemon.socket, "stream", "--handle", "cli", "--job_id", jobId), { code: 4, stdout: "one\n", stderr: "two\n" });
    const list = await warden(daemon.socket, "list");
    assert.equal(list.stdout, "handles[0] : cli\n");
    const json = await warden(daemon.socket, "--json", "--", "limit_memory", "--handle", "cli", "--limit_in_bytes", "67108864");
    assert.deepEqual(JSON.parse(json.stdout), { limit_in_bytes: "67108864" });
    assert.deepEqual(await warden(daemon.socket, "destroy", "--handle", "cli"), { code: 0, stdout: "", stderr: "" });
  });

  it("prints the server's error and fails", async () => {
    const r = await warden(daemon.socket, "info", "--handle", "nope");
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "unknown handle\n");
  });

  it("refuses bad flags in Warden's words before sending anything", async () => {
    assert.deepEqual(await warden(daemon.socket, "info"), { code: 2, stdout: "", stderr: "Missing required flag: '--handle'.\n" });
    const bad = await warden(daemon.socket, "net_out", "--handle", "h", "--protocol", "SCTP");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /In flag: '--protocol', 'SCTP' is not one of TCP, UDP, ICMP, ALL\./);
    assert.equal((await warden(daemon.socket, "frobnicate")).stderr, "Command: 'frobnicate' is non-existent.\n");
    assert.equal((await warden(daemon.socket, "--", "ping", "--", "x")).stderr, "Delimiter: '--' specified multiple times.\n");
  });

  it("shows help for the commands and for one", async () => {
    const all = await warden(daemon.socket, "help");
    assert.match(all.stdout, /^\tcopy_out +Copy files\/directories out of the container\.$/m);
    const one = await warden(daemon.socket, "net_in", "--help");
    assert.match(one.stdout, /^command: net_in\ndescription: Forward port on external interface to container\.\nusage: net_in \[options\]\n/);
    assert.match(one.stdout, /^\t--handle <handle> \(string\)  # required$/m);
  });

  it("builds the default root filesystem with progress", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wardentest-rootfs-"));
    try {
      const target = join(dir, "rootfs");
      const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
        execFile(process.execPath, [join(REPO, "bin/warden"), "rootfs", "build", target], (err, stdout) =>
          resolve({ code: err ? 1 : 0, stdout }),
        );
      });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^I: Copying .*busybox and linking its applets\.\.\.$/m);
      assert.match(r.stdout, new RegExp(`^built default root filesystem in ${target}`, "m"));
      assert.match(await readFile(join(target, "etc/passwd"), "utf8"), /^vcap:/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("says in one line that the daemon is not running", async () => {
    const r = await warden("/tmp/wardentest-no-such.sock", "ping");
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "warden: cannot connect to /tmp/wardentest-no-such.sock (is wardend running?): connect ENOENT /tmp/wardentest-no-such.sock\n");
  });

  it("reads commands from a pipe: --trace echoes each, --exit_on_error stops at the first failure", async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(REPO, "bin/warden"), "--socket", daemon.socket, "--trace", "--exit_on_error"], {
        env: { ...process.env, WARDEN_HISTORY: "/dev/null" },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
      child.stdin.end("echo --message one\ninfo --handle nope\necho --message never\n");
    });
    assert.equal(result.code, 1);
    assert.match(result.stdout, /\+ echo --message one\nmessage : one\n/);
    assert.match(result.stdout, /\+ info --handle nope\n/);
    assert.equal(result.stderr, "unknown handle\n");
    assert.ok(!result.stdout.includes("never"), "nothing after the failure ran");
  });

  it("runs the interactive prompt: completion, commands, errors, history", async () => {
    const dir = await mkdtemp(join(tmpdir(), "wardentest-repl-"));
    const history = join(dir, "history");
    await writeFile(history, `${JSON.stringify(["echo --message from-last-time"])}\n`);
    // script(1) gives the REPL a pseudo-terminal, as a person at a terminal would.
    const child = spawn("script", ["-q", "-e", "-c", `${process.execPath} ${join(REPO, "bin/warden")} --socket ${daemon.socket}`, "/dev/null"], {
      env: { ...process.env, WARDEN_HISTORY: history, TERM: "xterm" },
      stdio: ["pipe", "pipe", "pipe"],
      // Its own process group: the REPL under script(1) goes with it whatever happens.
      detached: true,
    });
    let screen = "";
    child.stdout.on("data", (b: Buffer) => (screen += b.toString()));
    const exited = new Promise<number | null>((r) => child.once("exit", r));
    const waitFor = async (text: string | RegExp) => {
      for (let i = 0; i < 500; i++) {
        if (typeof text === "string" ? screen.includes(text) : text.test(screen)) return;
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.fail(`the screen never showed ${text}:\n${screen}`);
    };
    try {
      await waitFor("warden> ");
      // Tab completes the command, then its flag.
      child.stdin.write("cre\t");
      await waitFor("create");
      child.stdin.write("--ha\t");
      await waitFor("--handle");
      child.stdin.write("repl1\r");
      await waitFor("handle : repl1");
      // What is waited for is output, never text that was typed.
      child.stdin.write("run --handle repl1 --script 'echo \"$((6 * 7)) from the job\"'\r");
      await waitFor("42 from the job");
      child.stdin.write("info --handle nobody\r");
      await waitFor("unknown handle");
      // History: the line from the last session is there with the arrow keys.
      child.stdin.write("\x1b[A\x1b[A\x1b[A\x1b[A\r");
      await waitFor("message : from-last-time");
      child.stdin.write("destroy --handle repl1\r");
      child.stdin.write("echo --message bye\r");
      await waitFor("message : bye");
      child.stdin.end("\x04");
      assert.equal(await exited, 0);
      const saved = JSON.parse(await readFile(history, "utf8")) as string[];
      assert.deepEqual(saved.slice(0, 2), ["echo --message from-last-time", "create --handle repl1"]);
      assert.ok(saved.includes("destroy --handle repl1"));
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // gone already
      }
      await rm(dir, { recursive: true, force: true });
    }
  });
});
