// The streaming server on a real loopback port: URLs good once, upgrades
// to SPDY/3.1 (the protocol version chosen from the client's offers) and to
// WebSocket (v5.channel.k8s.io for a command, SPDY tunnelled in binary
// messages for port forwarding), and clear refusals for anything else.
import assert from "node:assert/strict";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket } from "ws";
import { MAX_PENDING_STREAMS, StreamingServer } from "../../../../../src/api/cri/streaming/streaming-server.js";
import { nullLogger } from "../../../../fakes/fakes.js";
import { FakeProcess } from "./fake-process.js";
import { SpdyTestClient, text } from "./spdy-client.js";

const flags = { stdin: true, stdout: true, stderr: true, tty: false };

/** Sends an upgrade request by hand; resolves with the response head and the socket (bytes after the head go to `onBody`). */
function upgrade(url: string, headers: string[], onBody: (b: Buffer) => void): Promise<{ head: string; socket: Socket }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: u.hostname, port: Number(u.port) }, () => {
      socket.write([`POST ${u.pathname} HTTP/1.1`, `Host: ${u.host}`, "Connection: Upgrade", "Upgrade: SPDY/3.1", ...headers, "", ""].join("\r\n"));
    });
    let buf = Buffer.alloc(0);
    let head: string | undefined;
    socket.on("data", (chunk: Buffer) => {
      if (head !== undefined) return onBody(chunk);
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      head = buf.subarray(0, end).toString();
      resolve({ head, socket });
      if (buf.length > end + 4) onBody(buf.subarray(end + 4));
    });
    socket.on("error", reject);
    socket.on("end", () => head === undefined && resolve({ head: buf.toString(), socket }));
  });
}

/**
 * A WebSocket client by hand, for the subprotocol with a "/" that the ws
 * library will not offer: the handshake, then binary messages (masked, as
 * a client's must be) out and unmasked ones in.
 */
async function rawWebSocket(url: string, protocol: string, onMessage: (m: Buffer) => void): Promise<{ head: string; send: (b: Buffer) => void; socket: Socket }> {
  const u = new URL(url);
  let pending = Buffer.alloc(0);
  const parse = (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      if (pending.length < 2) return;
      let length = pending[1]! & 0x7f;
      let at = 2;
      if (length === 126) {
        if (pending.length < 4) return;
        length = pending.readUInt16BE(2);
        at = 4;
      }
      if (pending.length < at + length) return;
      if ((pending[0]! & 0x0f) === 2) onMessage(pending.subarray(at, at + length));
      pending = pending.subarray(at + length);
    }
  };
  const socket = connect({ host: u.hostname, port: Number(u.port) });
  const head = await new Promise<string>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      socket.off("data", onData);
      socket.on("data", parse);
      resolve(buf.subarray(0, end).toString());
      if (buf.length > end + 4) parse(buf.subarray(end + 4));
    };
    socket.on("data", onData);
    socket.on("error", reject);
    socket.write(
      [`GET ${u.pathname} HTTP/1.1`, `Host: ${u.host}`, "Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13",
        `Sec-WebSocket-Key: ${Buffer.from("0123456789abcdef").toString("base64")}`, `Sec-WebSocket-Protocol: ${protocol}`, "", ""].join("\r\n"),
    );
  });
  const send = (payload: Buffer) => {
    const mask = Buffer.from([1, 2, 3, 4]);
    const size = payload.length < 126 ? Buffer.from([0x80 | payload.length]) : Buffer.from([0x80 | 126, payload.length >> 8, payload.length & 0xff]);
    socket.write(Buffer.concat([Buffer.from([0x82]), size, mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]));
  };
  return { head, send, socket };
}

function wsOpen(url: string, protocol: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, "ws"), [protocol]);
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

describe("the CRI streaming server", () => {
  let server: StreamingServer;
  let echo: Server;
  let echoPort: number;

  before(async () => {
    server = new StreamingServer({ host: "127.0.0.1", port: 0, logger: nullLogger });
    await server.listen();
    echo = createServer((s) => s.on("data", (d) => s.write(`echo:${d}`)));
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    echoPort = (echo.address() as AddressInfo).port;
  });

  after(async () => {
    await server.close();
    echo.close();
  });

  it("serves an exec over SPDY/3.1, choosing v5 from the client's offers, and takes each URL once", async () => {
    const process = new FakeProcess();
    const url = server.register({ kind: "exec", containerId: "c1", flags: { ...flags, stdin: false }, start: async () => process });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[\w-]+$/);
    let client: SpdyTestClient | undefined;
    const offers = ["v5.channel.k8s.io", "v4.channel.k8s.io", "channel.k8s.io"].map((v) => `X-Stream-Protocol-Version: ${v}`);
    const { head, socket } = await upgrade(url, offers, (b) => client!.receive(b));
    assert.match(head, /^HTTP\/1\.1 101 /);
    assert.match(head, /X-Stream-Protocol-Version: v5\.channel\.k8s\.io/i);
    client = new SpdyTestClient((b) => socket.write(b));
    const error = await client.open({ streamtype: "error" });
    const stdout = await client.open({ streamtype: "stdout" });
    await client.open({ streamtype: "stderr" });
    process.emit("stdout", "hello");
    process.end(0);
    await client.until(() => error.finished && stdout.finished, "the streams' ends");
    assert.equal(text(stdout), "hello");
    assert.equal(JSON.parse(text(error)).status, "Success");
    client.close();
    socket.destroy();

    const again = await upgrade(url, offers, () => {});
    assert.match(again.head, /^HTTP\/1\.1 404 /);
    again.socket.destroy();
  });

  it("refuses an unknown URL, a plain request, and offers of protocols it does not speak", async () => {
    const base = new URL(server.register({ kind: "attach", containerId: "c", flags, start: async () => new FakeProcess() })).origin;
    const unknown = await upgrade(`${base}/exec/nope`, [], () => {});
    assert.match(unknown.head, /^HTTP\/1\.1 404 /);
    unknown.socket.destroy();
    const url = server.register({ kind: "exec", containerId: "c", flags, start: async () => new FakeProcess() });
    const plain = await fetch(url, { method: "POST" });
    assert.equal(plain.status, 400);
    const old = await upgrade(url, ["X-Stream-Protocol-Version: channel.k8s.io"], () => {});
    assert.match(old.head, /^HTTP\/1\.1 403 /);
    old.socket.destroy();
  });

  it("serves an exec over WebSocket v5: stdin and its close, output by channel, the Status on 3, close code 1000", async () => {
    const process = new FakeProcess();
    const url = server.register({ kind: "exec", containerId: "c2", flags, start: async () => process });
    const ws = await wsOpen(url, "v5.channel.k8s.io");
    assert.equal(ws.protocol, "v5.channel.k8s.io");
    const messages: Buffer[] = [];
    ws.on("message", (m: Buffer) => messages.push(m));
    const closed = new Promise<number>((r) => ws.once("close", (code) => r(code)));
    ws.send(Buffer.from([0, ...Buffer.from("in")]));
    ws.send(Buffer.from([255, 0]));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(Buffer.concat(process.stdin).toString(), "in");
    assert.ok(process.stdinClosed);
    process.emit("stdout", "o");
    process.emit("stderr", "e");
    process.end(2);
    assert.equal(await closed, 1000);
    assert.deepEqual(messages.slice(0, 2).map((m) => [m[0], m.subarray(1).toString()]), [[1, "o"], [2, "e"]]);
    assert.equal(messages[2]![0], 3);
    const status = JSON.parse(messages[2]!.subarray(1).toString()) as { reason: string; details: { causes: Array<{ message: string }> } };
    assert.equal(status.reason, "NonZeroExitCode");
    assert.equal(status.details.causes[0]!.message, "2");
  });

  it("drops a session that sends what is no SPDY/3 frame, and serves the next one", async () => {
    const url = server.register({ kind: "exec", containerId: "c4", flags, start: async () => new FakeProcess() });
    const { head, socket } = await upgrade(url, ["X-Stream-Protocol-Version: v4.channel.k8s.io"], () => {});
    assert.match(head, /^HTTP\/1\.1 101 /);
    const closed = new Promise<void>((r) => socket.once("close", () => r()));
    socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4, 1, 2, 3, 4]));
    await closed;
    const process = new FakeProcess();
    const next = server.register({ kind: "exec", containerId: "c5", flags: { ...flags, stdin: false, stderr: false }, start: async () => process });
    let client: SpdyTestClient | undefined;
    const again = await upgrade(next, ["X-Stream-Protocol-Version: v4.channel.k8s.io"], (b) => client!.receive(b));
    client = new SpdyTestClient((b) => again.socket.write(b));
    const error = await client.open({ streamtype: "error" });
    await client.open({ streamtype: "stdout" });
    process.end(0);
    await client.until(() => error.finished, "the next session's end");
    client.close();
    again.socket.destroy();
  });

  it("lets a URL go unused for only so long", async () => {
    const short = new StreamingServer({ host: "127.0.0.1", port: 0, logger: nullLogger, urlTtlMs: 20 });
    await short.listen();
    try {
      const url = short.register({ kind: "exec", containerId: "c6", flags, start: async () => new FakeProcess() });
      await new Promise((r) => setTimeout(r, 40));
      const late = await upgrade(url, ["X-Stream-Protocol-Version: v4.channel.k8s.io"], () => {});
      assert.match(late.head, /^HTTP\/1\.1 404 /);
      late.socket.destroy();
    } finally {
      await short.close();
    }
  });

  it("refuses more URLs than it keeps waiting, as ResourceExhausted", async () => {
    const crowded = new StreamingServer({ host: "127.0.0.1", port: 0, logger: nullLogger });
    await crowded.listen();
    try {
      for (let i = 0; i < MAX_PENDING_STREAMS; i++) crowded.register({ kind: "exec", containerId: "c", flags, start: async () => new FakeProcess() });
      assert.throws(() => crowded.register({ kind: "exec", containerId: "c", flags, start: async () => new FakeProcess() }), (err: Error & { code?: number }) => err.code === 8 /* RESOURCE_EXHAUSTED */);
    } finally {
      await crowded.close();
    }
  });

  it("refuses a WebSocket without the subprotocol it needs", async () => {
    const url = server.register({ kind: "exec", containerId: "c3", flags, start: async () => new FakeProcess() });
    await assert.rejects(wsOpen(url, "v4.channel.k8s.io"), /HTTP 400/);
  });

  it("forwards a port with SPDY frames inside WebSocket messages (SPDY/3.1+portforward.k8s.io)", async () => {
    const url = server.register({ kind: "portforward", sandboxId: "p", dial: (port) => connect({ host: "127.0.0.1", port }) });
    let client: SpdyTestClient | undefined;
    const ws = await rawWebSocket(url, "SPDY/3.1+portforward.k8s.io", (m) => client!.receive(Buffer.from(m)));
    assert.match(ws.head, /^HTTP\/1\.1 101 /);
    assert.match(ws.head, /Sec-WebSocket-Protocol: SPDY\/3\.1\+portforward\.k8s\.io/i);
    client = new SpdyTestClient((b) => ws.send(b));
    await client.open({ streamtype: "error", port: String(echoPort), requestid: "0" });
    const data = await client.open({ streamtype: "data", port: String(echoPort), requestid: "0" });
    client.data(data, Buffer.from("ping"));
    await client.until(() => text(data) === "echo:ping", "the echo");
    ws.socket.destroy();
    client.close();
  });
});
