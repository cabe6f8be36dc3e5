import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodeFrame, MAX_FRAME_DATA, ShimControl, ShimGone, signalFrame, winsizeFrame } from "../../../../src/linux/runtime/shim-control.js";

describe("the shim's control frames", () => {
  it("are a type, a big-endian length, and the payload", () => {
    assert.deepEqual([...encodeFrame("d", Buffer.from("hi"))], [0x64, 0, 0, 0, 2, 0x68, 0x69]);
    assert.deepEqual([...encodeFrame("e")], [0x65, 0, 0, 0, 0]);
    assert.deepEqual([...signalFrame(15)], [0x73, 0, 0, 0, 4, 0, 0, 0, 15]);
    assert.deepEqual([...winsizeFrame(50, 132)], [0x77, 0, 0, 0, 4, 0, 50, 0, 132]);
  });
});

describe("talking to a shim", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "wctl-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  it("sends what it is asked, in order, on one connection, stdin in pieces the shim takes", async () => {
    const long = join(dir, "a".repeat(90));
    await import("node:fs/promises").then((fs) => fs.mkdir(long));
    const received: Buffer[] = [];
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.on("data", (b) => received.push(b));
    });
    // Too long for a socket's address: the shim binds it from its own directory, as here.
    const cwd = process.cwd();
    process.chdir(long);
    try {
      await new Promise<void>((r) => server.listen("ctl.sock", r));
    } finally {
      process.chdir(cwd);
    }
    const control = new ShimControl(long);
    await control.attachStdin();
    await control.stdin(Buffer.alloc(MAX_FRAME_DATA + 10, 1));
    await control.signal(9);
    await control.resize(1, 2);
    control.close();
    await new Promise<void>((r) => server.close(() => r()));
    const all = Buffer.concat(received);
    assert.equal(connections, 1, "one connection, reached through a short path for a long directory");
    assert.deepEqual([...all.subarray(0, 5)], [0x69, 0, 0, 0, 0]);
    assert.equal(all[5], 0x64);
    assert.equal(all.readUInt32BE(6), MAX_FRAME_DATA);
    const second = 5 + 5 + MAX_FRAME_DATA;
    assert.deepEqual([all[second], all.readUInt32BE(second + 1)], [0x64, 10]);
    assert.deepEqual([...all.subarray(second + 15)], [...signalFrame(9), ...winsizeFrame(1, 2)]);
  });

  it("says the shim is gone when nobody listens", async () => {
    await assert.rejects(new ShimControl(join(dir, "none")).signal(15), ShimGone);
  });
});
