// Port forwarding over SPDY to a real TCP server on loopback: bytes both
// ways on the data stream, the ends passed on, the error stream ended empty
// when all went well and with the reason when the port is closed.
import assert from "node:assert/strict";
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { servePortForward } from "../../../../../src/api/cri/streaming/port-forward.js";
import { SpdySession } from "../../../../../src/api/cri/streaming/spdy-session.js";
import { SpdyTestClient, text, type ClientStream } from "./spdy-client.js";

function connectSession(dialed: number[]) {
  // eslint-disable-next-line prefer-const
  let client: SpdyTestClient;
  const session = new SpdySession({
    write: async (pieces) => {
      const bytes = Buffer.concat(pieces);
      setImmediate(() => client.receive(bytes));
    },
    close: () => {},
  });
  client = new SpdyTestClient((bytes) => setImmediate(() => session.receive(bytes)));
  servePortForward(session, (port) => {
    dialed.push(port);
    return connect({ host: "127.0.0.1", port });
  });
  return { session, client };
}

describe("port forwarding over SPDY", () => {
  let server: Server;
  let port: number;
  const sockets: Socket[] = [];

  before(async () => {
    // Answers "hello <what it got>" and closes once the client has closed its side.
    server = createServer((socket) => {
      sockets.push(socket);
      socket.on("error", () => {});
      const got: Buffer[] = [];
      socket.on("data", (d) => got.push(d));
      socket.on("end", () => socket.end(`hello ${Buffer.concat(got).toString()}`));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });

  after(() => server.close());

  it("pipes the data stream to the port and ends the error stream empty", async () => {
    const dialed: number[] = [];
    const { session, client } = connectSession(dialed);
    const error = await client.open({ streamtype: "error", port: String(port), requestid: "0" });
    const data = await client.open({ streamtype: "data", port: String(port), requestid: "0" });
    client.data(data, Buffer.from("world"), true);
    await client.until(() => data.finished && error.finished, "both streams' ends");
    assert.equal(text(data), "hello world");
    assert.equal(text(error), "");
    assert.deepEqual(dialed, [port]);
    session.shutDown();
    client.close();
  });

  it("serves connections side by side, paired by request id", async () => {
    const { session, client } = connectSession([]);
    const pairs: Array<{ id: string; error: ClientStream; data: ClientStream }> = [];
    for (const id of ["1", "2"]) {
      const error = await client.open({ streamtype: "error", port: String(port), requestid: id });
      const data = await client.open({ streamtype: "data", port: String(port), requestid: id });
      pairs.push({ id, error, data });
    }
    for (const p of pairs) client.data(p.data, Buffer.from(`#${p.id}`), true);
    await client.until(() => pairs.every((p) => p.data.finished && p.error.finished), "every stream's end");
    assert.deepEqual(pairs.map((p) => text(p.data)), ["hello #1", "hello #2"]);
    session.shutDown();
    client.close();
  });

  it("writes why on the error stream when the port takes no connection, and resets the data stream", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const { session, client } = connectSession([]);
    const error = await client.open({ streamtype: "error", port: String(deadPort), requestid: "0" });
    const data = await client.open({ streamtype: "data", port: String(deadPort), requestid: "0" });
    await client.until(() => error.finished && data.reset, "the error's end and the data stream's reset");
    assert.match(text(error), new RegExp(`error forwarding port ${deadPort}: .*ECONNREFUSED`));
    session.shutDown();
    client.close();
  });

  it("writes why on the error stream when the pod cannot be dialled at all (gone meanwhile)", async () => {
    // eslint-disable-next-line prefer-const
    let client: SpdyTestClient;
    const session = new SpdySession({ write: async (pieces) => { const b = Buffer.concat(pieces); setImmediate(() => client.receive(b)); }, close: () => {} });
    client = new SpdyTestClient((bytes) => setImmediate(() => session.receive(bytes)));
    servePortForward(session, () => {
      throw new Error("container p is not active");
    });
    const error = await client.open({ streamtype: "error", port: "80", requestid: "0" });
    const data = await client.open({ streamtype: "data", port: "80", requestid: "0" });
    await client.until(() => error.finished && data.reset, "the error's end and the data stream's reset");
    assert.equal(text(error), "error forwarding port 80: container p is not active");
    session.shutDown();
    client.close();
  });

  it("refuses a stream without a valid port, and closes the connection when the client resets the data stream", async () => {
    const { session, client } = connectSession([]);
    const bad = await client.open({ streamtype: "data", port: "70000", requestid: "0" });
    await client.until(() => bad.reset, "the bad stream's reset");
    const before = sockets.length;
    const error = await client.open({ streamtype: "error", port: String(port), requestid: "9" });
    const data = await client.open({ streamtype: "data", port: String(port), requestid: "9" });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(sockets.length, before + 1);
    const socket = sockets.at(-1)!;
    const closedOnServer = new Promise<void>((r) => socket.once("close", () => r()));
    client.reset(data);
    await closedOnServer;
    await client.until(() => error.finished, "the error stream's end");
    session.shutDown();
    client.close();
  });
});
