// The client library against the Warden front end over the core's fakes.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ServerError, WardenClient } from "../../../src/client/client.js";
import { Dispatcher } from "../../../src/api/warden/dispatch.js";
import { WardenServer } from "../../../src/api/warden/server.js";
import { nullLogger, until } from "../../fakes/fakes.js";
import { FakeMachine } from "../../fakes/service.js";

let dir: string;
let path: string;
let server: WardenServer;
let machine: FakeMachine;

const JOBS = { containerUser: "vcap", outputLimit: 1024, containerRlimits: {}, lang: "C" };

/** The fake process of the job started last. */
const lastJob = () => machine.runtime.started[machine.runtime.started.length - 1];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "wclient-"));
  path = join(dir, "w.sock");
  machine = new FakeMachine();
  server = new WardenServer({ path, permissions: 0o700, maxFrameBytes: 2 * 1024 * 1024, handler: new Dispatcher(machine.service(), JOBS), logger: nullLogger });
  await server.listen();
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("client library", () => {
  it("has a typed method per command", async () => {
    const c = await WardenClient.connect(path);
    await c.ping();
    assert.equal(await c.echo("hi"), "hi");
    const h = await c.create({ handle: "typed" });
    assert.ok((await c.list()).includes("typed"));
    assert.equal((await c.info(h)).state, "active");
    assert.equal(Number((await c.limitMemory(h, 64 * 1024 * 1024)).limit_in_bytes), 64 * 1024 * 1024);
    assert.equal((await c.netIn(h, { container_port: 8080 })).container_port, 8080);
    await c.netOut(h, { network: "10.0.0.0/8", port: 80 });
    await c.stop(h, { kill: true });
    await c.destroy(h);
    await assert.rejects(c.info(h), (err: unknown) => err instanceof ServerError && err.message === "unknown handle");
    c.close();
  });

  it("connects over TCP to a host and port", async () => {
    // A TCP port in front of the unix socket, as socat would make.
    const { createServer } = await import("node:net");
    const proxy = createServer((inbound) => {
      const outbound = createConnection(path);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const port = (proxy.address() as { port: number }).port;
    const c = await WardenClient.connect({ host: "127.0.0.1", port });
    assert.equal(await c.echo("over tcp"), "over tcp");
    c.close();
    await new Promise((r) => proxy.close(r));
  });

  it("reconnects: what waited on the old connection fails, the new one serves", async () => {
    const c = await WardenClient.connect(path);
    const h = await c.create();
    const job = await c.spawn(h, "sleep");
    const before = server.connectionCount;
    const waiting = c.link(h, job);
    await c.reconnect();
    await assert.rejects(waiting, { name: "ConnectionClosedError" });
    assert.ok(c.connected);
    const again = c.link(h, job);
    // The server sees the old connection go (its Link ends, unanswered) before the job exits.
    await until(() => server.connectionCount === before);
    lastJob().exit(5);
    assert.equal((await again).exit_status, 5, "the job is linked again on the new connection");
    await c.destroy(h);
    c.close();
    assert.equal(c.connected, true, "close() is ours; the flag follows the server's side");
  });
});
