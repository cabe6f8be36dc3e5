// Garden's server over a unix socket, on the core over fakes: the JSON routes,
// and the process routes as Garden's Go client speaks them (hijacked
// connections: a response head, then JSON lines both ways, or raw output).
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { GardenServer } from "../../../../src/api/garden/server.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { nullLogger, until } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

function call(socketPath: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body));
  });
}

/** A connection as the Go client hijacks one: the request, then what comes back, as it comes. */
class Hijacked {
  private buffer = "";
  private waiters: Array<() => void> = [];
  ended = false;
  readonly socket: Socket;

  constructor(path: string, head: string) {
    this.socket = connect(path);
    this.socket.setEncoding("utf8");
    this.socket.on("data", (d: string) => {
      this.buffer += d;
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on("end", () => {
      this.ended = true;
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.write(head);
  }

  static request(path: string, method: string, target: string, body = ""): Hijacked {
    return new Hijacked(path, `${method} ${target} HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }

  /** Text up to and including `marker`. */
  async until(marker: string): Promise<string> {
    for (;;) {
      const at = this.buffer.indexOf(marker);
      if (at >= 0) {
        const out = this.buffer.slice(0, at + marker.length);
        this.buffer = this.buffer.slice(at + marker.length);
        return out;
      }
      if (this.ended) throw new Error(`ended before ${JSON.stringify(marker)}; had ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async rest(): Promise<string> {
    while (!this.ended) await new Promise<void>((r) => this.waiters.push(r));
    const out = this.buffer;
    this.buffer = "";
    return out;
  }

  send(frame: object): void {
    this.socket.write(`${JSON.stringify(frame)}\n`);
  }
}

describe("Garden server", () => {
  let dir: string;
  let path: string;
  let m: FakeMachine;
  let service: ContainerService;
  let server: GardenServer;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wgarden-"));
    path = join(dir, "garden.sock");
    m = new FakeMachine();
    service = m.service();
    server = new GardenServer({
      socketPath: path,
      socketPermissions: 0o600,
      service,
      logger: nullLogger,
      maxConnections: 100,
      graceTimeSeconds: null,
      allowPrivileged: false,
      externalIp: "127.0.0.1",
      capacity: async () => ({ memory_in_bytes: 1, disk_in_bytes: 2, schedulable_disk_in_bytes: 2, max_containers: 3 }),
    });
    await server.listen();
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves the JSON routes: create, list by property, info, properties, grace time, destroy", async () => {
    assert.deepEqual((await call(path, "GET", "/ping")).json, {});
    assert.deepEqual((await call(path, "GET", "/capacity")).json, { memory_in_bytes: 1, disk_in_bytes: 2, schedulable_disk_in_bytes: 2, max_containers: 3 });
    const created = await call(path, "POST", "/containers", { handle: "web", properties: { app: "a" }, env: ["X=1"] });
    assert.deepEqual(created, { status: 200, json: { Handle: "web" }, text: '{"Handle":"web"}\n' });
    await call(path, "POST", "/containers", { properties: { app: "b" } });
    assert.deepEqual((await call(path, "GET", "/containers?app=a")).json, { Handles: ["web"] });
    const info = (await call(path, "GET", "/containers/web/info")).json;
    assert.equal(info.State, "active");
    assert.equal(info.Properties.app, "a");
    assert.equal((await call(path, "PUT", "/containers/web/properties/k", { value: "v" })).status, 200);
    assert.deepEqual((await call(path, "GET", "/containers/web/properties/k")).json, { value: "v" });
    assert.equal((await call(path, "DELETE", "/containers/web/properties/k")).status, 200);
    assert.equal((await call(path, "PUT", "/containers/web/grace_time", 5_000_000_000)).status, 200);
    assert.equal(service.info("web").graceTime, 5);
    const bulk = (await call(path, "GET", "/containers/bulk_info?handles=web,nope")).json;
    assert.equal(bulk.web.Info.State, "active");
    assert.equal(bulk.nope.Err.Type, "ContainerNotFoundError");
    assert.equal((await call(path, "DELETE", "/containers/web")).status, 200);
    const gone = await call(path, "GET", "/containers/web/info");
    assert.deepEqual([gone.status, gone.json.Type, gone.json.Handle, gone.json.Message], [404, "ContainerNotFoundError", "web", "unknown handle: web"]);
  });

  it("answers bad requests clearly and stays up", async () => {
    const bad = await call(path, "POST", "/containers", "{nope");
    assert.deepEqual([bad.status, bad.json.Message], [400, "the request body is not JSON"]);
    assert.match((await call(path, "POST", "/containers", { grace_time: "x" })).json.Message, /grace_time/);
    assert.deepEqual((await call(path, "GET", "/nothing")).status, 404);
    assert.match((await call(path, "POST", "/containers", { privileged: true })).json.Message, /privileged container creation is disabled/);
    const raw = Hijacked.request(path, "POST", "/containers/none/processes", "{}");
    assert.match(await raw.until("\r\n\r\n"), /^HTTP\/1\.1 404 Not Found/);
    assert.equal(JSON.parse(await raw.rest()).Type, "ContainerNotFoundError");
    assert.equal((await call(path, "GET", "/ping")).status, 200);
  });

  it("runs a process: its id, stdin frames, a resize and a signal in, output on its own stream, the exit status out", async () => {
    await call(path, "POST", "/containers", { handle: "p" });
    const run = Hijacked.request(path, "POST", "/containers/p/processes", JSON.stringify({ id: "job", path: "/bin/cat", tty: { window_size: { columns: 80, rows: 24 } } }));
    const head = await run.until("\r\n\r\n");
    assert.match(head, /^HTTP\/1\.1 201 Created\r\n/);
    assert.match(head, /Transfer-Encoding: chunked/, "the head Go's ClientConn takes for one it may hijack");
    const hello = JSON.parse(await run.until("\n"));
    assert.equal(hello.process_id, "job");
    assert.ok(hello.stream_id);
    const fake = m.runtime.started.at(-1)!;
    run.send({ source: 0, data: "hello " });
    run.send({ tty: { window_size: { columns: 120, rows: 40 } } });
    run.send({ source: 0, data: "world" });
    run.send({ source: 0 });
    run.send({ signal: 0 });
    await until(() => fake.stdinClosed && fake.signals.length === 1);
    assert.equal(Buffer.concat(fake.stdin).toString(), "hello world");
    assert.deepEqual(fake.sizes.at(-1), { columns: 120, rows: 40 });
    assert.deepEqual(fake.signals, ["TERM"]);
    fake.write("stdout", "out!");
    fake.write("stderr", "err!");
    const stdout = Hijacked.request(path, "GET", `/containers/p/processes/job/attaches/${hello.stream_id}/stdout`);
    const stderr = Hijacked.request(path, "GET", `/containers/p/processes/job/attaches/${hello.stream_id}/stderr`);
    assert.match(await stdout.until("\r\n\r\n"), /^HTTP\/1\.1 200 OK/);
    await stderr.until("\r\n\r\n");
    assert.equal(await stdout.until("out!"), "out!");
    fake.end({ kind: "signaled", signal: 15 });
    assert.deepEqual(JSON.parse(await run.until("\n")), { process_id: "job", exit_status: 143 });
    assert.equal(await stdout.rest(), "", "the stream ends with the process");
    assert.equal(await stderr.rest(), "err!");
  });

  it("attaches to a process by id from a new connection, and says when there is none", async () => {
    await call(path, "POST", "/containers", { handle: "a" });
    const first = Hijacked.request(path, "POST", "/containers/a/processes", JSON.stringify({ id: "long", path: "/bin/sleep" }));
    await first.until("\r\n\r\n");
    await first.until("\n");
    first.socket.destroy();
    const fake = m.runtime.started.at(-1)!;
    await until(() => fake.stdinClosed, 1000);
    const again = Hijacked.request(path, "GET", "/containers/a/processes/long");
    assert.match(await again.until("\r\n\r\n"), /^HTTP\/1\.1 200 OK/);
    assert.equal(JSON.parse(await again.until("\n")).process_id, "long");
    fake.exit(7);
    assert.equal(JSON.parse(await again.until("\n")).exit_status, 7);
    const none = Hijacked.request(path, "GET", "/containers/a/processes/nope");
    assert.match(await none.until("\r\n\r\n"), /404/);
    assert.deepEqual(JSON.parse(await none.rest()).ProcessID, "nope");
  });
});
