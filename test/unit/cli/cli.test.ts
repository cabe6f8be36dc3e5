import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WardenClient } from "../../../src/client/client.js";
import { ServerError } from "../../../src/client/client.js";
import { execute } from "../../../src/cli/execute.js";
import { commandHelp, flagsOf, globalHelp } from "../../../src/cli/help.js";
import { complete } from "../../../src/cli/repl.js";
import { splitWords, UnbalancedQuoteError } from "../../../src/cli/words.js";
import { toLong } from "../../../src/protocol/messages.js";

describe("REPL words", () => {
  it("splits as a shell does: quotes keep blanks, backslashes escape", () => {
    assert.deepEqual(splitWords(`run --handle h --script "echo \\"hi\\" > /tmp/x"`), ["run", "--handle", "h", "--script", 'echo "hi" > /tmp/x']);
    assert.deepEqual(splitWords("a 'b  c' d\\ e ''"), ["a", "b  c", "d e", ""]);
    assert.deepEqual(splitWords("   "), []);
    assert.throws(() => splitWords(`echo "open`), UnbalancedQuoteError);
  });
});

describe("help", () => {
  it("lists commands with Warden's descriptions, then help", () => {
    const text = globalHelp();
    assert.match(text, /^\tcreate +Create a container, optionally pass options\.$/m);
    assert.match(text, /^\tnet_out +Allow traffic from the container to address\.$/m);
    assert.match(text, /^\thelp +Show help\.\n\nUse --help with each command for more information\.\n$/m);
  });

  it("shows a command's fields in Warden's layout: required, repeated, optional", () => {
    assert.equal(
      commandHelp("Create"),
      [
        "command: create",
        "description: Create a container, optionally pass options.",
        "usage: create [options]",
        "",
        "[options] can be one of the following:",
        "",
        "\t--bind_mounts[index]  # array",
        "\t\t.src_path <src_path> (string)  # required",
        "\t\t.dst_path <dst_path> (string)  # required",
        "\t\t.mode <mode> (RO|RW)  # required",
        "\t[--grace_time <grace_time> (uint32)]  # optional",
        "\t[--handle <handle> (string)]  # optional",
        "\t[--network <network> (string)]  # optional",
        "\t[--rootfs <rootfs> (string)]  # optional",
        "",
      ].join("\n"),
    );
    assert.equal(commandHelp("Ping"), "command: ping\ndescription: Ping warden.\nusage: ping\n");
  });

  it("completes command names, then the command's flags", () => {
    const [names, word] = complete("li");
    assert.equal(word, "li");
    assert.deepEqual([...names].sort(), ["limit_bandwidth", "limit_cpu", "limit_disk", "limit_memory", "link", "list"]);
    assert.deepEqual(complete("run --ha"), [["--handle "], "--ha"]);
    assert.deepEqual(complete("run --rlimits.no"), [["--rlimits.nofile "], "--rlimits.no"]);
    assert.deepEqual(complete("cre"), [["create "], "cre"]);
    assert.ok(flagsOf("Create").includes("--bind_mounts[0].src_path"));
    assert.deepEqual(complete("nonsense --x"), [[], "--x"]);
  });
});

// A client that answers from a table, for the command runner.
function fakeClient(answers: Record<string, unknown>, errors: Record<string, string> = {}): () => Promise<WardenClient> {
  const client = {
    async call(name: string, request: unknown) {
      if (errors[name]) throw new ServerError(errors[name]);
      (client.requests as unknown[]).push([name, request]);
      return answers[name];
    },
    async *stream() {
      yield { name: "stdout", data: "live out\n" };
      yield { name: "stderr", data: "live err\n" };
      yield { exit_status: 3 };
    },
    requests: [] as unknown[],
  };
  return async () => client as unknown as WardenClient;
}

function capture() {
  const out = { stdout: "", stderr: "" };
  return { out, io: { stdout: (t: string | Uint8Array) => (out.stdout += Buffer.from(t).toString()), stderr: (t: string | Uint8Array) => (out.stderr += Buffer.from(t).toString()) } };
}

describe("running a command", () => {
  it("prints `field : value` lines, nested flattened", async () => {
    const { out, io } = capture();
    const client = fakeClient({ Info: { state: "active", host_ip: "10.254.0.1", memory_stat: { rss: toLong(5) } } });
    assert.equal(await execute(["info", "--handle", "h"], client, io, { json: false }), 0);
    assert.match(out.stdout, /^state : active$/m);
    assert.match(out.stdout, /^memory_stat\.rss : 5$/m);
  });

  it("prints JSON with --json, 64-bit numbers exact", async () => {
    const { out, io } = capture();
    const client = fakeClient({ LimitMemory: { limit_in_bytes: toLong(9223372036854771712n) } });
    assert.equal(await execute(["limit_memory", "--handle", "h"], client, io, { json: true }), 0);
    assert.deepEqual(JSON.parse(out.stdout), { limit_in_bytes: "9223372036854771712" });
  });

  it("runs as Spawn + Stream: output live, the job's status as the exit code", async () => {
    const { out, io } = capture();
    const client = fakeClient({ Spawn: { job_id: 7 } });
    assert.equal(await execute(["run", "--handle", "h", "--script", "x"], client, io, { json: false }), 3);
    assert.deepEqual(out, { stdout: "live out\n", stderr: "live err\n" });
  });

  it("streams every frame of Stream as it comes, the job's status as the exit code", async () => {
    const { out, io } = capture();
    assert.equal(await execute(["stream", "--handle", "h", "--job_id", "7"], fakeClient({}), io, { json: false }), 3);
    assert.deepEqual(out, { stdout: "live out\n", stderr: "live err\n" });
    const json = capture();
    assert.equal(await execute(["stream", "--handle", "h", "--job_id", "7"], fakeClient({}), json.io, { json: true }), 3);
    assert.deepEqual(json.out.stdout.trim().split("\n").map((l) => JSON.parse(l)), [
      { name: "stdout", data: "live out\n" },
      { name: "stderr", data: "live err\n" },
      { exit_status: 3 },
    ]);
  });

  it("prints a server error to stderr and exits 1; bad flags exit 2 before connecting", async () => {
    const { out, io } = capture();
    assert.equal(await execute(["info", "--handle", "nope"], fakeClient({}, { Info: "unknown handle" }), io, { json: false }), 1);
    assert.equal(out.stderr, "unknown handle\n");
    let connected = false;
    const never = async () => {
      connected = true;
      return {} as WardenClient;
    };
    for (const [words, message] of [
      [["nope"], "Command: 'nope' is non-existent.\n"],
      [["info", "--bogus", "1"], "In flag: '--bogus', the field: 'bogus' is invalid.\n"],
      [["info"], "Missing required flag: '--handle'.\n"],
      [["create", "--bind_mounts.src_path", "/a"], "In flag: '--bind_mounts.src_path', the field: 'bind_mounts' is not indexed.\n"],
    ] as const) {
      const c = capture();
      assert.equal(await execute([...words], never, c.io, { json: false }), 2);
      assert.equal(c.out.stderr, message);
    }
    assert.equal(connected, false);
  });
});
