// Warden's rules as the dispatcher applies them over the core, without a
// socket: holds, the order of checks, jobs, LimitDisk with and without quotas.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import type { Reply } from "../../../../src/api/warden/connection.js";
import { Dispatcher } from "../../../../src/api/warden/dispatch.js";
import { wardenMessage } from "../../../../src/api/warden/errors.js";
import { asCoreError } from "../../../../src/core/errors.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { decodeRequest, decodeResponse, encodeRequest, has, toLong, type CommandName, type Requests, type Responses } from "../../../../src/protocol/messages.js";
import type { FrameBody } from "../../../../src/protocol/frame.js";
import { settle } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

const JOBS = { containerUser: "vcap", outputLimit: 100, containerRlimits: {}, lang: "C" };

// A frame built in pieces is read as the pieces one after another.
const whole = (body: FrameBody): Uint8Array => (body instanceof Uint8Array ? body : Buffer.concat(body));

async function frames(reply: Reply): Promise<Uint8Array[]> {
  if (reply instanceof Uint8Array || Array.isArray(reply)) return [whole(reply as FrameBody)];
  const out: Uint8Array[] = [];
  for await (const f of reply as AsyncIterable<FrameBody>) out.push(whole(f));
  return out;
}

describe("the Warden dispatcher", () => {
  let m: FakeMachine;
  let s: ContainerService;
  let d: Dispatcher;
  let conn = 0;
  const gone = new AbortController();

  async function call<K extends CommandName>(name: K, request: Partial<Requests[K]>, on = conn, via = d): Promise<Responses[K]> {
    let reply;
    try {
      reply = decodeResponse((await frames(await via.handle(decodeRequest(encodeRequest(name, request)), on, gone.signal)))[0]);
    } catch (err) {
      // As the connection answers: the error's code in Warden's words.
      throw new Error(wardenMessage(asCoreError(err)));
    }
    if (reply.kind === "error") throw new Error(reply.error.message ?? "");
    return reply.response as Responses[K];
  }

  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout"] });
    m = new FakeMachine();
    s = m.service({ graceTime: 1 });
    d = new Dispatcher(s, JOBS);
    d.opened(++conn);
  });
  afterEach(() => mock.timers.reset());

  it("holds a container for the connection that made it, until the connection closes", async () => {
    const { handle } = await call("Create", {});
    mock.timers.tick(5000);
    await settle();
    assert.deepEqual(s.list(), [handle]);
    d.closed(conn);
    mock.timers.tick(1000);
    await settle();
    assert.deepEqual(s.list(), []);
  });

  it("holds a container for a connection that names it in any request, even one that fails", async () => {
    const { handle } = await call("Create", {});
    const other = ++conn;
    await assert.rejects(call("Link", { handle, job_id: 999 }, other), /no such job/);
    d.closed(conn - 1);
    mock.timers.tick(5000);
    await settle();
    assert.deepEqual(s.list(), [handle], "the second connection holds it");
    d.closed(other);
    mock.timers.tick(1000);
    await settle();
    assert.deepEqual(s.list(), []);
  });

  it("checks the handle and the state before it reads a NetOut rule, as Warden did", async () => {
    await assert.rejects(call("NetOut", { handle: "nope" }), /unknown handle/);
    const { handle } = await call("Create", {});
    await assert.rejects(call("NetOut", { handle }), /Please specify network, port, and\/or port_range\./);
    await call("Stop", { handle, kill: true });
    await assert.rejects(call("NetOut", { handle }), /current state is 'stopped'/);
  });

  it("runs a job as /bin/bash with the script as stdin, reports 255 for a signal, and forgets it once linked", async () => {
    const { handle } = await call("Create", {});
    const { job_id } = await call("Spawn", { handle, script: "kill -9 $$" });
    const job = m.runtime.started.at(-1)!;
    assert.deepEqual([job.launch.path, job.launch.stdin], ["/bin/bash", { kind: "data", data: Buffer.from("kill -9 $$") }]);
    job.write("stdout", "partial");
    job.end({ kind: "signaled", signal: 9 });
    const link = await call("Link", { handle, job_id });
    assert.deepEqual([link.exit_status, link.stdout, link.stderr], [255, "partial", ""]);
    await assert.rejects(call("Link", { handle, job_id }), /no such job/);
  });

  it("adds Warden's output event to the container when a job past its cap is linked, not before", async () => {
    const { handle } = await call("Create", {});
    const { job_id } = await call("Spawn", { handle, script: "yes" });
    m.runtime.started.at(-1)!.write("stdout", "y".repeat(200));
    await settle();
    assert.deepEqual((await call("Info", { handle })).events, [], "not before the Link");
    assert.equal((await call("Link", { handle, job_id })).exit_status, 255);
    assert.deepEqual((await call("Info", { handle })).events, ["command exceeded maximum output"]);
  });

  it("answers LimitDisk with all twelve fields, and with nothing when quotas are off", async () => {
    const { handle } = await call("Create", {});
    const held = await call("LimitDisk", { handle, byte: toLong(10n * 1024n * 1024n + 1n), inode: toLong(100) });
    assert.equal(Number(held.byte_hard), 10 * 1024 * 1024 + 1024, "rounded up to a 1024-byte block");
    assert.equal(Number(held.block_limit), 10241);
    assert.equal(Number(held.inode_hard), 0, "inodes are not enforced, and not pretended");
    const off = new Dispatcher(new FakeMachine().service({}, { quota: false }), JOBS);
    off.opened(1);
    const { handle: h } = await call("Create", {}, 1, off);
    const none = await call("LimitDisk", { handle: h, byte: toLong(1000) }, 1, off);
    assert.equal(has(none, "byte_hard"), false);
  });
});
