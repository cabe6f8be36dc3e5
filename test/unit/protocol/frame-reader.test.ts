import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeFrame, FrameError } from "../../../src/protocol/frame.js";
import { FrameReader } from "../../../src/protocol/frame-reader.js";

/** Feeds `bytes` as a socket would: each read at most `step` bytes, into whatever the reader points at. */
function feed(reader: FrameReader, bytes: Buffer, step: number): { targets: number[] } {
  const targets: number[] = [];
  for (let at = 0; at < bytes.length; ) {
    const target = reader.target();
    targets.push(target.length);
    const n = Math.min(step, target.length, bytes.length - at);
    bytes.copy(target, 0, at, at + n);
    at += n;
    reader.wrote(n);
  }
  return { targets };
}

const payloads = [Buffer.from("hello"), Buffer.alloc(0), Buffer.alloc(100_000, 7), Buffer.from("x".repeat(20_000)), Buffer.alloc(70_000, 1), Buffer.from("tail")];
const stream = Buffer.concat(payloads.map(encodeFrame));

describe("frames read off a socket in place", () => {
  for (const step of [1, 3, 22, 4096, 65536, 1 << 20]) {
    it(`hands out every frame whole however the bytes are split (reads of ${step} bytes)`, () => {
      const frames: Buffer[] = [];
      feed(new FrameReader(1 << 20, (f) => frames.push(f)), stream, step);
      assert.equal(frames.length, payloads.length);
      for (const [i, p] of payloads.entries()) assert.ok(frames[i].equals(p), `frame ${i}`);
    });
  }

  it("reads a large body straight into its own buffer, not through the scratch buffer", () => {
    const frames: Buffer[] = [];
    const reader = new FrameReader(1 << 20, (f) => frames.push(f));
    const big = encodeFrame(Buffer.alloc(500_000, 3));
    const { targets } = feed(reader, big, 1 << 20);
    // The first read takes the prefix and the start of the body; the kernel is then pointed at the rest of the body.
    assert.equal(targets[1], 500_000 - (65536 - "500000\r\n".length));
    assert.equal(frames.length, 1);
    assert.equal(frames[0].length, 500_000);
    // A frame handed out stays as it was while later ones are read.
    feed(reader, encodeFrame(Buffer.alloc(30_000, 9)), 1 << 20);
    assert.ok(frames[0].every((b) => b === 3));
  });

  it("refuses a prefix that is no number, one too long, a frame over the maximum, a missing CRLF; then takes nothing more", () => {
    const bad = [Buffer.from("12a\r\n"), Buffer.from("1".repeat(30)), Buffer.from("2000\r\n"), Buffer.from("2\r\nabXY3\r\n"), Buffer.from("\r\n")];
    for (const bytes of bad) {
      const reader = new FrameReader(1000, () => {});
      assert.throws(() => feed(reader, bytes, 64), FrameError, bytes.toString());
      assert.throws(() => reader.wrote(0), FrameError);
    }
  });
});
