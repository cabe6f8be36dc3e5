// The server's SPDY/3.1 session against a client written from the draft,
// and a remote command (exec, attach) served over it as the kubelet's
// clients expect: streams answered one at a time, the command started once
// every stream asked for is there, the Status on the error stream, every
// stream ended and the session closed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ControlType, controlFrame } from "../../../../../src/api/cri/streaming/spdy-frames.js";
import { serveSpdyRemoteCommand } from "../../../../../src/api/cri/streaming/spdy-remote-command.js";
import { SpdySession, type SpdyStream } from "../../../../../src/api/cri/streaming/spdy-session.js";
import { FakeProcess } from "./fake-process.js";
import { SpdyTestClient, text } from "./spdy-client.js";

const failOnError = (err: unknown) => assert.fail(String(err));

function connect() {
  const state = { transportClosed: false };
  // Each side's bytes arrive on a later turn, as from a socket.
  // eslint-disable-next-line prefer-const
  let client: SpdyTestClient;
  const session = new SpdySession({
    write: async (pieces) => {
      const bytes = Buffer.concat(pieces);
      setImmediate(() => client.receive(bytes));
    },
    close: () => {
      state.transportClosed = true;
    },
  });
  client = new SpdyTestClient((bytes) => setImmediate(() => session.receive(bytes)));
  return { session, client, state };
}

describe("SPDY session", () => {
  it("answers each stream as it is opened, hands on its headers and data, and ends it both ways", async () => {
    const { session, client } = connect();
    const seen: SpdyStream[] = [];
    const got: string[] = [];
    session.on("stream", (s: SpdyStream) => {
      seen.push(s);
      s.on("data", (d: Buffer) => got.push(d.toString()));
      s.on("end", () => got.push("<end>"));
    });
    const a = await client.open({ streamtype: "stdout", requestid: "7" });
    assert.ok(a.replied);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.header("StreamType"), "stdout");
    assert.equal(seen[0]!.header("requestid"), "7");
    // A second stream's block is read with the same zlib context as the first's.
    const b = await client.open({ streamtype: "stdin" });
    assert.equal(seen[1]!.header("streamtype"), "stdin");
    client.data(b, Buffer.from("typed"), true);
    await seen[0]!.write(Buffer.from("printed"));
    await seen[0]!.end();
    await client.until(() => a.finished, "stdout's end");
    assert.equal(text(a), "printed");
    await client.until(() => got.length === 2, "stdin's data and end");
    assert.deepEqual(got, ["typed", "<end>"]);
    session.shutDown();
    client.close();
  });

  it("echoes pings and resets data for a stream it does not know", async () => {
    const { session, client } = connect();
    client.ping(41);
    await client.until(() => client.pings.includes(41), "the ping's echo");
    const ghost = { id: 99, data: [], finished: false, reset: false, replied: false };
    client.streams.set(99, ghost);
    client.data(ghost, Buffer.from("x"));
    await client.until(() => ghost.reset, "RST_STREAM for stream 99");
    session.shutDown();
    client.close();
  });

  it("closes a stream the client resets", async () => {
    const { session, client } = connect();
    let closed = false;
    session.on("stream", (s: SpdyStream) => s.on("close", () => (closed = true)));
    const s = await client.open({ streamtype: "data" });
    client.reset(s);
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(closed);
    session.shutDown();
    client.close();
  });

  it("drops the session on a frame of another SPDY version, or a stream id reused", async () => {
    for (const bad of ["version", "reuse"] as const) {
      const { session, client, state } = connect();
      let error: unknown;
      session.on("protocolError", (err) => (error = err));
      if (bad === "version") {
        const frame = Buffer.concat(controlFrame(ControlType.PING, 0, Buffer.alloc(4)));
        frame.writeUInt16BE(0x8002, 0);
        client.raw(frame);
      } else {
        await client.open({ streamtype: "error" });
        (client as unknown as { nextId: number }).nextId = 1;
        void client.open({ streamtype: "stdout" }).catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(session.isClosed, bad);
      assert.ok(state.transportClosed, bad);
      assert.match(String(error), bad === "version" ? /version 2/ : /not a new client stream/);
      client.close();
    }
  });
});

describe("remote command over SPDY", () => {
  const flags = { stdin: false, stdout: true, stderr: true, tty: false };

  it("starts the command once error, stdout and stderr are open, sends its output by stream and the exit code as a Status", async () => {
    const { session, client, state } = connect();
    const process = new FakeProcess();
    let started = 0;
    const done = serveSpdyRemoteCommand(session, flags, async () => (started++, process), failOnError);
    const error = await client.open({ streamtype: "error" });
    const stdout = await client.open({ streamtype: "stdout" });
    assert.equal(started, 0, "not before every stream is there");
    const stderr = await client.open({ streamtype: "stderr" });
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(started, 1);
    process.emit("stdout", "out");
    process.emit("stderr", Buffer.from([0xff, 0x00, 0xfe]));
    process.end(3);
    await done;
    await client.until(() => error.finished && stdout.finished && stderr.finished && client.goAway, "every stream's end and GOAWAY");
    assert.equal(text(stdout), "out");
    assert.deepEqual(Buffer.concat(stderr.data), Buffer.from([0xff, 0x00, 0xfe]), "bytes as they are");
    assert.deepEqual(JSON.parse(text(error)), {
      metadata: {},
      status: "Failure",
      message: "command terminated with non-zero exit code: exit code 3",
      reason: "NonZeroExitCode",
      details: { causes: [{ reason: "ExitCode", message: "3" }] },
    });
    assert.ok(state.transportClosed);
    client.close();
  });

  it("reports success for exit 0 and for an attach's end (no code)", async () => {
    for (const code of [0, undefined]) {
      const { session, client } = connect();
      const process = new FakeProcess();
      const done = serveSpdyRemoteCommand(session, { ...flags, stderr: false }, async () => process, failOnError);
      const error = await client.open({ streamtype: "error" });
      await client.open({ streamtype: "stdout" });
      process.end(code);
      await done;
      await client.until(() => error.finished, "the error stream's end");
      assert.deepEqual(JSON.parse(text(error)), { metadata: {}, status: "Success" });
      client.close();
    }
  });

  it("hands stdin and its end to the process, also what came before it started", async () => {
    const { session, client } = connect();
    const process = new FakeProcess();
    const done = serveSpdyRemoteCommand(session, { ...flags, stdin: true, stderr: false }, async () => process, failOnError);
    await client.open({ streamtype: "error" });
    const stdin = await client.open({ streamtype: "stdin" });
    client.data(stdin, Buffer.from("early "));
    await client.open({ streamtype: "stdout" });
    client.data(stdin, Buffer.from("late"), true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(Buffer.concat(process.stdin).toString(), "early late");
    assert.ok(process.stdinClosed);
    process.end(0);
    await done;
    client.close();
  });

  it("on a terminal: no stderr stream, window sizes from the resize stream's JSON lines", async () => {
    const { session, client } = connect();
    const process = new FakeProcess();
    const done = serveSpdyRemoteCommand(session, { stdin: false, stdout: true, stderr: false, tty: true }, async () => process, failOnError);
    await client.open({ streamtype: "error" });
    await client.open({ streamtype: "stdout" });
    const resize = await client.open({ streamtype: "resize" });
    client.data(resize, Buffer.from('{"Width":120,"Height":40}\n{"Width":8'));
    client.data(resize, Buffer.from('0,"Height":24}\nnot json\n{"Width":0,"Height":5}\n'));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(process.sizes, [{ rows: 40, columns: 120 }, { rows: 24, columns: 80 }]);
    process.end(0);
    await done;
    client.close();
  });

  it("resets a stream of a type it did not ask for, and abandons the process when the client goes", async () => {
    const { session, client } = connect();
    const process = new FakeProcess();
    const done = serveSpdyRemoteCommand(session, { ...flags, stderr: false }, async () => process, failOnError);
    const odd = await client.open({ streamtype: "stdin" });
    await client.until(() => odd.reset, "the unasked stream's reset");
    await client.open({ streamtype: "error" });
    await client.open({ streamtype: "stdout" });
    process.emit("stdout", "x");
    await new Promise((r) => setTimeout(r, 10));
    session.shutDown();
    await done;
    await new Promise((r) => setTimeout(r, 10));
    assert.ok(process.abandoned);
    client.close();
  });

  it("drops a session whose client never opens every stream it asked for, starting nothing", async () => {
    const { session, client, state } = connect();
    let started = false;
    const done = serveSpdyRemoteCommand(session, flags, async () => ((started = true), new FakeProcess()), failOnError, 30);
    await client.open({ streamtype: "error" });
    await done;
    assert.ok(state.transportClosed);
    assert.equal(started, false);
    client.close();
  });

  it("writes a Failure when the command cannot start", async () => {
    const { session, client } = connect();
    const done = serveSpdyRemoteCommand(session, { ...flags, stderr: false }, async () => { throw new Error("container c is not running"); }, failOnError);
    const error = await client.open({ streamtype: "error" });
    await client.open({ streamtype: "stdout" });
    await done;
    await client.until(() => error.finished, "the error stream's end");
    const status = JSON.parse(text(error)) as { status: string; message: string };
    assert.equal(status.status, "Failure");
    assert.equal(status.message, "container c is not running");
    client.close();
  });
});
