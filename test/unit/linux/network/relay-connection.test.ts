// A relay process as a duplex stream, with stand-ins for warden-relay: what
// is written comes back through it, its failure is the stream's error with
// what it said, and destroying the stream ends it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { relayConnection } from "../../../../src/linux/network/relay-connection.js";

describe("a relay connection", () => {
  it("carries bytes both ways and ends when the relay's output does", async () => {
    const stream = relayConnection(spawn("cat", [], { stdio: ["pipe", "pipe", "pipe"] }));
    const got: Buffer[] = [];
    stream.on("data", (d: Buffer) => got.push(d));
    const ended = new Promise<void>((r) => stream.once("end", () => r()));
    stream.end(Buffer.from([0, 1, 255]));
    await ended;
    assert.deepEqual(Buffer.concat(got), Buffer.from([0, 1, 255]));
  });

  it("fails with what the relay said when it could not connect", async () => {
    const stream = relayConnection(spawn("sh", ["-c", "echo 'warden-relay: connect: Connection refused' >&2; exit 1"], { stdio: ["pipe", "pipe", "pipe"] }));
    stream.resume();
    const err = await new Promise<Error>((r) => stream.once("error", r));
    assert.equal(err.message, "connect: Connection refused");
  });

  it("ends the relay when the stream is destroyed", async () => {
    const child = spawn("sleep", ["60"], { stdio: ["pipe", "pipe", "pipe"] });
    const stream = relayConnection(child);
    const exited = new Promise<string | null>((r) => child.once("exit", (_code, signal) => r(signal)));
    stream.destroy();
    assert.equal(await exited, "SIGKILL");
  });
});
