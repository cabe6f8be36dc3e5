import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeFrame, FrameDecoder, FrameError, frameParts } from "../../../src/protocol/frame.js";

const frames = [Buffer.from("hello"), Buffer.alloc(0), Buffer.from([0, 1, 2, 13, 10, 255]), Buffer.alloc(70_000, 7)];
const wire = Buffer.concat(frames.map((f) => encodeFrame(f)));

describe("frame codec", () => {
  it("writes the length, CRLF, the bytes and CRLF", () => {
    assert.equal(encodeFrame(Buffer.from("abc")).toString("latin1"), "3\r\nabc\r\n");
  });

  it("decodes frames that arrive coalesced in one chunk", () => {
    assert.deepEqual(new FrameDecoder(1 << 20).push(wire), frames);
  });

  it("decodes frames that arrive byte by byte", () => {
    const decoder = new FrameDecoder(1 << 20);
    const out: Buffer[] = [];
    for (const byte of wire) out.push(...decoder.push(Buffer.from([byte])));
    assert.deepEqual(out, frames);
  });

  it("decodes frames split at every position", () => {
    for (let cut = 0; cut <= wire.length; cut += 997) {
      const decoder = new FrameDecoder(1 << 20);
      const out = [...decoder.push(wire.subarray(0, cut)), ...decoder.push(wire.subarray(cut))];
      assert.deepEqual(out, frames, `cut at ${cut}`);
    }
  });

  it("holds nothing after complete frames", () => {
    const decoder = new FrameDecoder(1 << 20);
    decoder.push(wire);
    assert.equal(decoder.pendingBytes, 0);
  });

  it("refuses a length prefix that is not a number at once", () => {
    assert.throws(() => new FrameDecoder(100).push(Buffer.from("GET / HTTP/1.1\r\n")), FrameError);
    assert.throws(() => new FrameDecoder(100).push(Buffer.from("x")), FrameError);
    assert.throws(() => new FrameDecoder(100).push(Buffer.from("-5\r\n")), FrameError);
    assert.throws(() => new FrameDecoder(100).push(Buffer.from("\r\n")), FrameError);
  });

  it("refuses a length over the maximum before reading the body", () => {
    assert.throws(() => new FrameDecoder(100).push(Buffer.from("101\r\n")), /exceeds the maximum of 100/);
    assert.deepEqual(new FrameDecoder(100).push(encodeFrame(Buffer.alloc(100))).length, 1);
  });

  it("refuses an endless prefix without buffering it", () => {
    const decoder = new FrameDecoder(100);
    assert.deepEqual(decoder.push(Buffer.from("1234567890")), []);
    assert.throws(() => decoder.push(Buffer.from("12345678901234567890")), /not a number/);
  });

  it("refuses a frame not terminated by CRLF", () => {
    assert.throws(() => new FrameDecoder(100).push(Buffer.from("3\r\nabcXY")), /not terminated by CRLF/);
  });

  it("waits for a prefix whose CR has come but not its LF", () => {
    const decoder = new FrameDecoder(100);
    assert.deepEqual(decoder.push(Buffer.from("3\r")), []);
    assert.deepEqual(decoder.push(Buffer.from("\nabc\r\n")), [Buffer.from("abc")]);
  });

  it("hands a large frame out as the bytes it arrived in, and copies a small one out of its chunk", () => {
    const big = Buffer.alloc(100_000, 1);
    const chunk = Buffer.concat([encodeFrame(big), encodeFrame(Buffer.from("small"))]);
    const [bigOut, smallOut] = new FrameDecoder(1 << 20).push(chunk);
    assert.deepEqual(bigOut, big);
    assert.equal(bigOut.buffer, chunk.buffer, "the large frame is a view of the chunk");
    assert.equal(smallOut.toString(), "small");
    assert.notEqual(smallOut.buffer, chunk.buffer, "the small one holds its own bytes");
  });
});

describe("frames in parts", () => {
  it("go out as the same bytes as the body in one piece", () => {
    const pieces = [Buffer.from([8, 1]), Buffer.alloc(0), Buffer.alloc(40_000, 9), Buffer.from("tail"), Buffer.alloc(20_000, 3)];
    assert.deepEqual(Buffer.concat(frameParts(pieces)), encodeFrame(Buffer.concat(pieces)));
    assert.deepEqual(Buffer.concat(frameParts(Buffer.from("one"))), encodeFrame(Buffer.from("one")));
  });

  it("write a large piece as it is, and merge the small ones around it", () => {
    const data = Buffer.alloc(1 << 20, 7);
    const parts = frameParts([Buffer.from([8, 1]), Buffer.from([18, 5]), data]);
    assert.equal(parts.length, 3, "the head, the data, the CRLF");
    assert.equal(parts[1], data, "the data is not copied");
    assert.deepEqual(new FrameDecoder(2 << 20).push(Buffer.concat(parts)), [Buffer.concat([Buffer.from([8, 1, 18, 5]), data])]);
  });
});
