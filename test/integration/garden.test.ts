// Garden's HTTP API on a real daemon, judged by Garden's own Go client
// (gardenping, ../shared/tools/garden/): over the unix socket and over TCP,
// as root and as the container user; one core under both APIs; and a
// daemon that stays up and serves on under hostile input.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execFile } from "node:child_process";
import { freePort, REPO, startDaemon, type TestDaemon } from "./harness.js";

const GARDENPING = join(REPO, "../shared/tools/garden/gardenping");

/** gardenping's report (a line per check), and whether it passed. */
function gardenping(args: string[]): Promise<{ ok: boolean; out: string }> {
  return new Promise((resolve) => {
    execFile(GARDENPING, args, { timeout: 60_000 }, (err, stdout, stderr) => resolve({ ok: !err, out: `${stdout}${stderr}` }));
  });
}


/** Sends raw bytes on a new connection to the Garden socket; resolves with what came back before it closed. */
function raw(path: string, bytes: Buffer | string, { end = true, waitMs = 2000 } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let got = "";
    s.on("data", (b) => (got += b.toString("latin1")));
    s.on("error", () => {});
    s.on("close", () => resolve(got));
    s.write(bytes);
    if (end) s.end();
    setTimeout(() => s.destroy(), waitMs);
  });
}

async function ping(path: string): Promise<string> {
  return raw(path, "GET /ping HTTP/1.1\r\nHost: garden\r\nConnection: close\r\n\r\n");
}

describe("Garden API: Garden's own client", { skip: !existsSync(GARDENPING) && "gardenping is not in ../shared/tools" }, () => {
  let daemon: TestDaemon;
  let port: number;

  before(async () => {
    port = await freePort();
    daemon = await startDaemon({ config: { garden: { bind_port: port } } });
  });

  after(() => daemon.stop());

  it("passes every check of gardenping over the unix socket, as root and as the container user", async () => {
    for (const user of ["root", "vcap"]) {
      const r = await gardenping(["-network", "unix", "-addr", join(daemon.dir, "garden.sock"), "-user", user, "-handle", `ping-${user}`]);
      assert.ok(r.ok, r.out);
      assert.match(r.out, /\d+ passed, 0 failed/);
    }
  });

  it("passes over TCP on garden.bind_ip and bind_port", async () => {
    const r = await gardenping(["-addr", `127.0.0.1:${port}`, "-handle", "ping-tcp"]);
    assert.ok(r.ok, r.out);
    assert.match(r.out, /\d+ passed, 0 failed/);
  });

  it("serves one set of containers to both APIs", async () => {
    const c = await daemon.client();
    const handle = await c.create({ handle: "from-warden" });
    const sock = join(daemon.dir, "garden.sock");
    const list = await raw(sock, "GET /containers HTTP/1.1\r\nHost: garden\r\nConnection: close\r\n\r\n");
    assert.match(list, /"from-warden"/);
    // As clients do, the request is not followed by a half-close (Node's HTTP server drops a request on one).
    const gone = await raw(sock, `DELETE /containers/${handle} HTTP/1.1\r\nHost: garden\r\nConnection: close\r\n\r\n`, { end: false, waitMs: 5000 });
    assert.match(gone, /^HTTP\/1\.1 200/);
    assert.deepEqual((await c.call("List")).handles, []);
  });

  it("answers hostile input with errors, keeps serving, and loses nothing", async () => {
    const sock = join(daemon.dir, "garden.sock");
    const c = await daemon.client();
    await c.create({ handle: "bystander" });
    const answers = await Promise.all([
      raw(sock, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))),
      raw(sock, "POST /containers HTTP/1.1\r\nHost: g\r\nContent-Length: 99999999999\r\n\r\n{"),
      raw(sock, "POST /containers HTTP/1.1\r\nHost: g\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{nope"),
      raw(sock, `POST /containers HTTP/1.1\r\nHost: g\r\nContent-Length: ${9 * 1024 * 1024}\r\nConnection: close\r\n\r\n${"x".repeat(9 * 1024 * 1024)}`, { waitMs: 5000 }),
      raw(sock, "POST /containers/bystander/processes HTTP/1.1\r\nHost: g\r\nContent-Length: 3\r\n\r\n[1]\n\x00\x00garbage"),
      raw(sock, "POST /containers/bystander/processes HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
      raw(sock, `GET /${"a".repeat(64 * 1024)} HTTP/1.1\r\n`),
      // Half a request, then silence: it must not hold anything up.
      raw(sock, "GET /containers HTT", { end: false, waitMs: 500 }),
      // Many connections opened and dropped at once.
      ...Array.from({ length: 100 }, () => raw(sock, "GET /ping HTTP/1.1\r\n", { waitMs: 200 })),
    ]);
    assert.match(answers[2], /^HTTP\/1\.1 400/);
    assert.match(answers[2], /not JSON/);
    assert.match(answers[3], /^HTTP\/1\.1 413|^$/);
    assert.match(answers[4], /^HTTP\/1\.1 400[^]*the process spec: Invalid input: expected object/);
    for (const a of answers) assert.doesNotMatch(a, /^HTTP\/1\.1 5\d\d/, a.slice(0, 200));
    assert.match(await ping(sock), /^HTTP\/1\.1 200/);
    assert.deepEqual((await c.call("List")).handles, ["bystander"]);
    assert.equal((await c.run("bystander", "echo still")).stdout, "still\n");
    await c.destroy("bystander");
  });
});
