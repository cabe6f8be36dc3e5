// The Warden front end end to end: a real client over the socket, the
// Warden server and dispatcher, the container service over fakes.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import protobuf from "protobufjs/minimal.js";
import { WardenClient } from "../../../../src/client/client.js";
import { encodeFrame, FrameDecoder } from "../../../../src/protocol/frame.js";
import { decodeResponse, encodeRequest, has, MessageType, warden } from "../../../../src/protocol/messages.js";
import { Dispatcher } from "../../../../src/api/warden/dispatch.js";
import { WardenServer } from "../../../../src/api/warden/server.js";
import type { Reply, RequestHandler } from "../../../../src/api/warden/connection.js";
import type { DecodedRequest } from "../../../../src/protocol/messages.js";
import { nullLogger, until } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

let dir: string;
let path: string;
let server: WardenServer;
let machine: FakeMachine;

const JOBS = { containerUser: "vcap", outputLimit: 1024, containerRlimits: {}, lang: "C" };

/** The fake process of the job started last. */
const lastJob = () => machine.runtime.started[machine.runtime.started.length - 1];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "wserver-"));
  path = join(dir, "w.sock");
  machine = new FakeMachine();
  const service = machine.service({ uidPoolSize: 100, networkPool: { network: 0x0afe0000, prefix: 22 }, portPoolSize: 100 });
  server = new WardenServer({
    path,
    permissions: 0o700,
    maxFrameBytes: 2 * 1024 * 1024,
    handler: new Dispatcher(service, JOBS),
    logger: nullLogger,
  });
  await server.listen();
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

function raw(type: number, payload: Uint8Array): Buffer {
  return encodeFrame(warden.Message.encode({ type, payload }).finish());
}

describe("server", () => {
  it("chmods the socket as configured", async () => {
    assert.equal((await stat(path)).mode & 0o777, 0o700);
  });

  it("answers Ping, Echo and List", async () => {
    const c = await WardenClient.connect(path);
    assert.deepEqual({ ...(await c.call("Ping")) }, {});
    assert.equal((await c.call("Echo", { message: "héllo" })).message, "héllo");
    assert.deepEqual((await c.call("List")).handles, []);
    c.close();
  });

  it("answers pipelined requests in order", async () => {
    const c = await WardenClient.connect(path);
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => c.call("Echo", { message: String(i) })));
    assert.deepEqual(
      replies.map((r) => r.message),
      Array.from({ length: 200 }, (_, i) => String(i)),
    );
    c.close();
  });

  it("answers a Stream with several frames, the last with the exit status", async () => {
    const c = await WardenClient.connect(path);
    const handle = await c.create();
    const job = await c.spawn(handle, "echo");
    const p = lastJob();
    p.write("stdout", "a");
    setTimeout(() => {
      p.write("stderr", "b");
      p.exit(4);
    }, 20);
    const frames = [];
    for await (const f of c.stream(handle, job)) frames.push(f);
    assert.deepEqual(
      frames.map((f) => [f.name, f.data?.toString()]),
      [["stdout", "a"], ["stderr", "b"], [undefined, undefined]],
    );
    assert.deepEqual(frames.map((f) => has(f, "exit_status")), [false, false, true]);
    assert.equal(frames[2].exit_status, 4);
    assert.equal(frames[2].info!.state, "active");
    c.close();
  });

  it("passes output on as the bytes written: a character split between two reads, bytes that are no UTF-8", async () => {
    const c = await WardenClient.connect(path);
    const handle = await c.create();
    const job = await c.spawn(handle, "echo");
    const p = lastJob();
    const euro = Buffer.from("€");
    const binary = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
    p.write("stdout", euro.subarray(0, 1));
    setTimeout(() => {
      p.write("stdout", Buffer.concat([euro.subarray(1), binary]));
      p.exit(0);
    }, 20);
    const chunks: Buffer[] = [];
    for await (const f of c.stream(handle, job)) if (f.data) chunks.push(f.data);
    assert.deepEqual(Buffer.concat(chunks), Buffer.concat([euro, binary]));
    // Link carries them as bytes too: a client reading its string field as bytes gets them whole.
    const linked = await c.spawn(handle, "echo");
    lastJob().write("stdout", binary);
    lastJob().exit(0);
    const frame = await c.sendRaw(encodeFrame(encodeRequest("Link", { handle, job_id: linked })));
    const payload = warden.Message.decode(frame).payload;
    const reader = protobuf.Reader.create(payload);
    let stdout: Uint8Array | undefined;
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 2) stdout = reader.bytes();
      else reader.skipType(tag & 7);
    }
    assert.deepEqual(Buffer.from(stdout!), binary);
    c.close();
  });

  it("answers an unknown type with an error and keeps the connection", async () => {
    const c = await WardenClient.connect(path);
    const reply = decodeResponse(await c.sendRaw(raw(77, new Uint8Array())));
    assert.equal(reply.kind, "error");
    if (reply.kind === "error") assert.equal(reply.error.message, "Unknown request type: 77");
    assert.equal((await c.call("Echo", { message: "still here" })).message, "still here");
    c.close();
  });

  it("answers a request missing a required field with an error and keeps the connection", async () => {
    const c = await WardenClient.connect(path);
    const reply = decodeResponse(await c.sendRaw(raw(MessageType.Echo, new Uint8Array())));
    assert.equal(reply.kind, "error");
    if (reply.kind === "error") assert.match(reply.error.message!, /missing required 'message'/);
    assert.equal((await c.call("Echo", { message: "ok" })).message, "ok");
    c.close();
  });

  it("answers a payload that is not protobuf with an error and keeps the connection", async () => {
    const c = await WardenClient.connect(path);
    const reply = decodeResponse(await c.sendRaw(encodeFrame(Buffer.from([0xff, 0xff, 0xff, 0xff]))));
    assert.equal(reply.kind, "error");
    assert.equal((await c.call("Ping")) !== undefined, true);
    c.close();
  });

  it("answers a length prefix that is not a number with an error, then closes", async () => {
    const c = await WardenClient.connect(path);
    const reply = decodeResponse(await c.sendRaw(Buffer.from("hello\r\n")));
    assert.equal(reply.kind, "error");
    if (reply.kind === "error") assert.match(reply.error.message!, /not a number/);
    await c.closed();
  });

  it("answers a length over the maximum with an error, then closes, without reading the body", async () => {
    const c = await WardenClient.connect(path);
    const reply = decodeResponse(await c.sendRaw(Buffer.from("999999999999\r\n")));
    assert.equal(reply.kind, "error");
    if (reply.kind === "error") assert.match(reply.error.message!, /exceeds the maximum of 2097152 bytes/);
    await c.closed();
  });

  it("answers each of two connections, one blocked in Link, the other free", async () => {
    const a = await WardenClient.connect(path);
    const b = await WardenClient.connect(path);
    const handle = await a.create();
    const job = await a.spawn(handle, "sleep");
    const link = a.link(handle, job);
    assert.equal((await b.call("Echo", { message: "b" })).message, "b");
    lastJob().exit(0);
    assert.equal((await link).exit_status, 0);
    a.close();
    b.close();
  });

  it("stops reading from a client that sends large requests without reading answers", async () => {
    const socket = createConnection(path);
    await new Promise((r) => socket.once("connect", r));
    const frame = encodeFrame(encodeRequest("Echo", { message: "x".repeat(1024 * 1024) }));
    for (let i = 0; i < 30; i++) socket.write(frame);
    await new Promise((r) => setTimeout(r, 300));
    // 30 requests are under the count bound; the byte bound (8 MiB queued) held the rest back.
    assert.ok(socket.writableLength > 15 * 1024 * 1024, `only ${socket.writableLength} bytes held back`);
    socket.destroy();
  });

  it("stops reading from a client that sends a flood without reading answers", async () => {
    const socket = createConnection(path);
    await new Promise((r) => socket.once("connect", r));
    const frame = encodeFrame(encodeRequest("Echo", { message: "x".repeat(1000) }));
    for (let i = 0; i < 4000; i++) socket.write(frame);
    await new Promise((r) => setTimeout(r, 300));
    // The server paused the socket: most of the 4 MB is still on our side.
    assert.ok(socket.writableLength > 2_000_000, `only ${socket.writableLength} bytes held back`);
    socket.destroy();
    const c = await WardenClient.connect(path);
    assert.equal((await c.call("Echo", { message: "alive" })).message, "alive");
    c.close();
  });
});

// A handler whose Echo "wait" answers only when let go: requests that stay in flight.
class HoldingHandler implements RequestHandler {
  private readonly held: Array<() => void> = [];
  get holding(): number {
    return this.held.length;
  }
  async handle(request: DecodedRequest): Promise<Reply> {
    const message = (request.request as { message?: string }).message ?? "";
    if (message === "wait") await new Promise<void>((r) => this.held.push(r));
    return warden.Message.encode({
      type: MessageType.Echo,
      payload: warden.EchoResponse.encode({ message }).finish(),
    }).finish();
  }
  releaseAll(): void {
    for (const r of this.held.splice(0)) r();
  }
  opened(): void {}
  closed(): void {}
}

describe("server limits", () => {
  let limitedPath: string;
  let limited: WardenServer;
  let handler: HoldingHandler;

  before(async () => {
    limitedPath = join(dir, "limited.sock");
    handler = new HoldingHandler();
    limited = new WardenServer({
      path: limitedPath,
      permissions: 0o700,
      maxFrameBytes: 1024 * 1024,
      maxConnections: 3,
      maxRequestsInFlight: 2,
      handler,
      logger: nullLogger,
    });
    await limited.listen();
  });

  after(() => limited.close());

  it("answers a connection past server.max_connections with an error and closes it; others go on", async () => {
    const clients = await Promise.all([1, 2, 3].map(() => WardenClient.connect(limitedPath)));
    await until(() => limited.connectionCount === 3);
    // The server speaks first, then hangs up.
    const extra = createConnection(limitedPath);
    const chunks: Buffer[] = [];
    extra.on("data", (b) => chunks.push(b));
    await new Promise((r) => extra.once("close", r));
    const [frame] = new FrameDecoder(1024).push(Buffer.concat(chunks));
    const reply = decodeResponse(frame);
    assert.equal(reply.kind, "error");
    if (reply.kind === "error") assert.equal(reply.error.message, "too many connections (server.max_connections is 3)");
    assert.equal((await clients[0].call("Echo", { message: "still" })).message, "still");
    for (const c of clients) c.close();
    // Once they have gone, a new one is served.
    await until(() => limited.connectionCount === 0);
    const again = await WardenClient.connect(limitedPath);
    assert.equal((await again.call("Echo", { message: "again" })).message, "again");
    again.close();
  });

  it("answers a request past server.max_requests_in_flight with an error, in its turn, and serves again after", async () => {
    const a = await WardenClient.connect(limitedPath);
    const b = await WardenClient.connect(limitedPath);
    const held = [a.call("Echo", { message: "wait" }), b.call("Echo", { message: "wait" })];
    await until(() => handler.holding === 2);
    const c = await WardenClient.connect(limitedPath);
    await assert.rejects(c.call("Echo", { message: "more" }), {
      message: "too many requests in flight (server.max_requests_in_flight is 2); try again",
    });
    handler.releaseAll();
    assert.deepEqual((await Promise.all(held)).map((r) => r.message), ["wait", "wait"]);
    assert.equal((await c.call("Echo", { message: "now" })).message, "now");
    for (const x of [a, b, c]) x.close();
    // The server sees them go before the next test counts connections.
    await until(() => limited.connectionCount === 0);
  });

  it("answers what a client sent before shutting its side, then closes", async () => {
    const socket = createConnection(limitedPath);
    await new Promise((r) => socket.once("connect", r));
    const chunks: Buffer[] = [];
    socket.on("data", (b) => chunks.push(b));
    const closed = new Promise((r) => socket.once("close", r));
    socket.end(Buffer.concat([1, 2].map((i) => encodeFrame(encodeRequest("Echo", { message: `half-${i}` })))));
    await closed;
    const text = Buffer.concat(chunks).toString("latin1");
    assert.ok(text.includes("half-1") && text.includes("half-2"), `both answered: ${JSON.stringify(text)}`);
  });
});
