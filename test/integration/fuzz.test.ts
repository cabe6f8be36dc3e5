// Hostile clients against a real daemon: 100,000 random and mutated frames,
// bad framing, and slow, stalled and half-open connections. The daemon must
// answer every well-formed frame with exactly one frame (an ErrorResponse
// for what is invalid), stay up, keep its memory and file descriptors
// bounded, and serve a normal client at the end.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { createConnection, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { encodeFrame, FrameDecoder } from "../../src/protocol/frame.js";
import { decodeResponse, encodeRequest, MessageType, warden } from "../../src/protocol/messages.js";
import { seededRandom } from "./seeded.js";
import { startDaemon, type TestDaemon } from "./harness.js";

const FRAMES = 100_000;
const CONNECTIONS = 8;
const BATCH = 250;


// Well-formed requests that must each be refused: unknown handles, bad values.
const INVALID = [
  encodeRequest("Info", { handle: "no-such-handle" }),
  encodeRequest("Run", { handle: "no-such-handle", script: "true" }),
  encodeRequest("Destroy", { handle: "no-such-handle" }),
  encodeRequest("Stop", { handle: "no-such-handle" }),
  encodeRequest("Link", { handle: "no-such-handle", job_id: 1 }),
  encodeRequest("Stream", { handle: "no-such-handle", job_id: 1 }),
  encodeRequest("NetOut", { handle: "no-such-handle", network: "not-a-network" }),
  encodeRequest("LimitMemory", { handle: "no-such-handle" }),
  encodeRequest("CopyIn", { handle: "no-such-handle", src_path: "relative", dst_path: "/x" }),
  encodeRequest("Create", { rootfs: "/no/such/rootfs" }),
  encodeRequest("Create", { handle: "nul\0handle" }),
  encodeRequest("Create", { bind_mounts: [{ src_path: "/no/such/source", dst_path: "/x", mode: 0 }] }),
];
// Harmless ones, answered normally.
const VALID = [encodeRequest("Ping", {}), encodeRequest("Echo", { message: "fuzz" }), encodeRequest("List", {})];

function randomBytes(rand: () => number, max: number): Buffer {
  const b = Buffer.alloc(Math.floor(rand() * max));
  for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

/** One message body (the frame's payload), and whether it must be refused. */
function fuzzMessage(rand: () => number): { body: Uint8Array; mustFail: boolean } {
  const kind = rand();
  if (kind < 0.2) return { body: randomBytes(rand, 64), mustFail: false };
  if (kind < 0.4) {
    // A sound envelope around a random type and payload.
    const type = rand() < 0.5 ? pick(rand, Object.values(MessageType) as number[]) : Math.floor(rand() * 200);
    return { body: warden.Message.encode({ type, payload: randomBytes(rand, 48) }).finish(), mustFail: false };
  }
  if (kind < 0.7) {
    // A real request with bytes flipped, cut or added.
    const body = Buffer.from(pick(rand, [...INVALID, ...VALID]));
    const op = rand();
    if (op < 0.5) {
      for (let i = 0, n = 1 + Math.floor(rand() * 3); i < n && body.length > 0; i++) {
        body[Math.floor(rand() * body.length)] ^= 1 << Math.floor(rand() * 8);
      }
      return { body, mustFail: false };
    }
    if (op < 0.75) return { body: body.subarray(0, Math.floor(rand() * body.length)), mustFail: false };
    return { body: Buffer.concat([body, randomBytes(rand, 16)]), mustFail: false };
  }
  if (kind < 0.9) return { body: pick(rand, INVALID), mustFail: true };
  return { body: pick(rand, VALID), mustFail: false };
}

/** Sends frames on one connection, BATCH at a time, and checks each is answered once. */
async function fuzzConnection(path: string, rand: () => number, count: number): Promise<{ answered: number; refused: number }> {
  const socket = createConnection(path);
  await new Promise((r) => socket.once("connect", r));
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  let pending: Array<(frame: Buffer) => void> = [];
  const queued: Buffer[] = [];
  socket.on("data", (chunk) => {
    for (const f of decoder.push(chunk)) {
      const waiter = pending.shift();
      if (waiter) waiter(f);
      else queued.push(f);
    }
  });
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  socket.on("error", () => {});
  const next = () => new Promise<Buffer>((resolve) => (queued.length ? resolve(queued.shift()!) : pending.push(resolve)));
  let answered = 0;
  let refused = 0;
  for (let sent = 0; sent < count; sent += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - sent) }, () => fuzzMessage(rand));
    socket.write(Buffer.concat(batch.map((m) => encodeFrame(m.body))));
    for (const m of batch) {
      const reply = decodeResponse(await next());
      answered++;
      if (reply.kind === "error") refused++;
      else assert.ok(!m.mustFail, `an invalid request was answered as if valid`);
    }
  }
  socket.end();
  await closed;
  pending = [];
  return { answered, refused };
}

/** Bytes that break the framing: the daemon answers once with an error and hangs up. */
async function badFraming(path: string, bytes: Buffer): Promise<string> {
  const socket = createConnection(path);
  const chunks: Buffer[] = [];
  socket.on("data", (b) => chunks.push(b));
  socket.on("error", () => {});
  await new Promise((r) => socket.once("connect", r));
  socket.write(bytes);
  await new Promise((r) => socket.once("close", r));
  const [frame] = new FrameDecoder(1024 * 1024).push(Buffer.concat(chunks));
  const reply = decodeResponse(frame);
  assert.equal(reply.kind, "error");
  return reply.kind === "error" ? reply.error.message! : "";
}

async function status(pid: number): Promise<{ rssKiB: number; fds: number }> {
  const text = await readFile(`/proc/${pid}/status`, "utf8");
  return { rssKiB: Number(/VmRSS:\s+(\d+)/.exec(text)![1]), fds: (await readdir(`/proc/${pid}/fd`)).length };
}

describe("hostile clients", { timeout: 600_000 }, () => {
  let daemon: TestDaemon;

  before(async () => {
    daemon = await startDaemon({ config: { logging: { level: "warn" } } });
  });

  after(async () => {
    await daemon.stop();
  });

  it(`answers ${FRAMES} random and mutated frames one for one, refusing what is invalid, and stays bounded`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const before = await status(daemon.pid);
    const results = await Promise.all(
      Array.from({ length: CONNECTIONS }, (_, i) => fuzzConnection(daemon.socket, seededRandom(seed + i), FRAMES / CONNECTIONS)),
    );
    const answered = results.reduce((n, r) => n + r.answered, 0);
    assert.equal(answered, FRAMES, `seed ${seed}`);
    assert.ok(results.every((r) => r.refused > 0));
    // Whatever a mutated Create made is a real container, holding descriptors of its own while it
    // lives: they go first, then the daemon must be back to what it held (the harness checks the host).
    const c = await daemon.client();
    const made = (await c.call("List")).handles;
    for (const handle of made) await c.destroy(handle).catch(() => {});
    let afterwards = await status(daemon.pid);
    for (let waited = 0; afterwards.fds > before.fds + 2 && waited < 5000; waited += 100) {
      await new Promise((r) => setTimeout(r, 100));
      afterwards = await status(daemon.pid);
    }
    assert.ok(afterwards.rssKiB - before.rssKiB < 128 * 1024, `daemon grew from ${before.rssKiB} to ${afterwards.rssKiB} KiB (seed ${seed})`);
    assert.ok(afterwards.fds <= before.fds + 2, `file descriptors: ${before.fds} before, ${afterwards.fds} after, ${made.length} containers made (seed ${seed})`);
    assert.equal((await c.call("Echo", { message: "still here" })).message, "still here");
  });

  it("answers bad framing with one error, then hangs up", async () => {
    assert.match(await badFraming(daemon.socket, Buffer.from("GET / HTTP/1.1\r\n\r\n")), /not a number/);
    assert.match(await badFraming(daemon.socket, Buffer.from("99999999999999999999999\r\n")), /not a number/);
    assert.match(await badFraming(daemon.socket, Buffer.from("4294967296\r\n")), /exceeds the maximum/);
    assert.match(await badFraming(daemon.socket, Buffer.from("-5\r\n")), /not a number/);
  });

  it("serves others while connections stall mid-frame, trickle bytes, or shut their side early", async () => {
    const before = await status(daemon.pid);
    const sockets: Socket[] = [];
    const open = async (bytes: Buffer, end = false) => {
      const s = createConnection(daemon.socket);
      s.on("error", () => {});
      s.on("data", () => {});
      await new Promise((r) => s.once("connect", r));
      if (end) s.end(bytes);
      else s.write(bytes);
      sockets.push(s);
      return s;
    };
    const ping = encodeFrame(encodeRequest("Ping", {}));
    for (let i = 0; i < 100; i++) await open(Buffer.from("1")); // a prefix, never finished
    for (let i = 0; i < 100; i++) await open(Buffer.from("1000\r\nabc")); // a body, never finished
    const halfOpen = await Promise.all(
      Array.from({ length: 50 }, async () => {
        const chunks: Buffer[] = [];
        const s = await open(ping, true);
        s.on("data", (b) => chunks.push(b));
        await new Promise((r) => s.once("close", r));
        return decodeResponse(new FrameDecoder(1024).push(Buffer.concat(chunks))[0]).kind;
      }),
    );
    assert.deepEqual(new Set(halfOpen), new Set(["response"]), "a client that shut its side still gets its answer");
    // A byte at a time.
    const trickle = await open(Buffer.alloc(0));
    const answer = new Promise<Buffer>((resolve) => trickle.once("data", resolve));
    for (const byte of ping) {
      trickle.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(decodeResponse(new FrameDecoder(1024).push(await answer)[0]).kind, "response");
    const c = await daemon.client();
    assert.deepEqual({ ...(await c.call("Ping")) }, {});
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const afterwards = await status(daemon.pid);
    assert.ok(afterwards.fds <= before.fds + 2, `file descriptors: ${before.fds} before, ${afterwards.fds} after`);
  });
});

// Garden's HTTP API, the same way: requests made and mutated at random,
// each on a connection of its own, then stalled and silent ones.
const HTTP_REQUESTS = 3000;
const HTTP_CONCURRENCY = 16;
const HTTP_TEMPLATES = [
  "GET /ping HTTP/1.1\r\nHost: g\r\n\r\n",
  "GET /containers?a=b HTTP/1.1\r\nHost: g\r\n\r\n",
  "GET /containers/nope/info HTTP/1.1\r\nHost: g\r\n\r\n",
  "GET /containers/bulk_info?handles=nope,x HTTP/1.1\r\nHost: g\r\n\r\n",
  "GET /containers/bulk_metrics?handles=nope HTTP/1.1\r\nHost: g\r\n\r\n",
  'POST /containers HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{"rootfs":"/no/such/rootfs"}\n',
  'POST /containers HTTP/1.1\r\nHost: g\r\nContent-Length: 20\r\n\r\n{"grace_time":"x"}\r\n',
  'PUT /containers/nope/properties/k HTTP/1.1\r\nHost: g\r\nContent-Length: 13\r\n\r\n{"value":"v"}',
  "DELETE /containers/nope HTTP/1.1\r\nHost: g\r\n\r\n",
  'POST /containers/nope/processes HTTP/1.1\r\nHost: g\r\nContent-Length: 17\r\n\r\n{"path":"/bin/x"}',
  "GET /containers/nope/processes/7 HTTP/1.1\r\nHost: g\r\n\r\n",
  'POST /containers/nope/net/out HTTP/1.1\r\nHost: g\r\nContent-Length: 16\r\n\r\n{"protocol":999}',
];

function mutatedHttp(rand: () => number): Buffer {
  const kind = rand();
  if (kind < 0.15) return randomBytes(rand, 512);
  const bytes = Buffer.from(pick(rand, HTTP_TEMPLATES), "latin1");
  if (kind < 0.45) return bytes;
  if (kind < 0.7) {
    for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n; i++) bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
    return bytes;
  }
  if (kind < 0.85) return bytes.subarray(0, Math.floor(rand() * bytes.length));
  return Buffer.concat([bytes, randomBytes(rand, 64)]);
}

/** The status line of the one answer (or "" when the connection was closed unanswered). */
function httpExchange(path: string, bytes: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    let got = "";
    s.on("data", (b) => {
      got += b.toString("latin1");
      // The status line is all this asks; a kept-alive connection is let go then.
      if (got.includes("\r\n")) s.destroy();
    });
    s.on("error", () => {});
    s.on("close", () => resolve(got.split("\r\n")[0]));
    s.write(bytes);
    // Not a half-close (it drops a request in Node's HTTP server): the client waits, then goes.
    setTimeout(() => s.destroy(), 400);
  });
}

describe("hostile HTTP clients (Garden's API)", { timeout: 600_000 }, () => {
  let daemon: TestDaemon;
  let sock: string;

  before(async () => {
    daemon = await startDaemon({ config: { logging: { level: "warn" } } });
    sock = `${daemon.dir}/garden.sock`;
  });

  after(async () => {
    await daemon.stop();
  });

  it(`answers ${HTTP_REQUESTS} random and mutated requests with HTTP or a hang-up, and stays bounded`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const rand = seededRandom(seed);
    const before = await status(daemon.pid);
    const statuses = new Map<string, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: HTTP_CONCURRENCY }, async () => {
        while (next < HTTP_REQUESTS) {
          next++;
          const line = await httpExchange(sock, mutatedHttp(rand));
          const code = line === "" ? "none" : (/^HTTP\/1\.1 (\d{3})/.exec(line)?.[1] ?? `garbled: ${line}`);
          statuses.set(code, (statuses.get(code) ?? 0) + 1);
        }
      }),
    );
    const codes = [...statuses.keys()];
    assert.deepEqual(codes.filter((c) => c.startsWith("garbled")), [], `seed ${seed}`);
    assert.ok(statuses.get("200") && statuses.get("404") && statuses.get("400"), `seed ${seed}: ${JSON.stringify([...statuses])}`);
    await new Promise((r) => setTimeout(r, 300));
    const afterwards = await status(daemon.pid);
    assert.ok(afterwards.rssKiB - before.rssKiB < 128 * 1024, `daemon grew from ${before.rssKiB} to ${afterwards.rssKiB} KiB (seed ${seed})`);
    assert.ok(afterwards.fds <= before.fds + 2, `file descriptors: ${before.fds} before, ${afterwards.fds} after`);
    assert.match(await httpExchange(sock, Buffer.from("GET /ping HTTP/1.1\r\nHost: g\r\n\r\n")), /^HTTP\/1\.1 200/);
  });

  it("serves others while connections stall mid-request or mid-stream", async () => {
    const before = await status(daemon.pid);
    const stalled: Socket[] = [];
    for (const bytes of ["GET /conta", "POST /containers HTTP/1.1\r\nContent-Length: 100\r\n\r\n{", "POST /containers/x/processes HTTP/1.1\r\nContent-Le"]) {
      for (let i = 0; i < 50; i++) {
        const s = createConnection(sock);
        s.on("error", () => {});
        s.write(bytes);
        stalled.push(s);
      }
    }
    assert.match(await httpExchange(sock, Buffer.from("GET /ping HTTP/1.1\r\nHost: g\r\n\r\n")), /^HTTP\/1\.1 200/);
    const c = await daemon.client();
    const h = await c.create();
    assert.match(await httpExchange(sock, Buffer.from(`GET /containers/${h}/info HTTP/1.1\r\nHost: g\r\n\r\n`)), /^HTTP\/1\.1 200/);
    for (const s of stalled) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const afterwards = await status(daemon.pid);
    assert.ok(afterwards.fds <= before.fds + 4, `file descriptors: ${before.fds} before, ${afterwards.fds} after`);
  });
});
