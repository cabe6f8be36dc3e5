// SPDY/3.1 frames as bytes: the head's bits, frames cut anywhere by the
// transport, header blocks, and the dictionary both ends prime zlib with.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SPDY3_DICTIONARY } from "../../../../../src/api/cri/streaming/spdy-dictionary.js";
import {
  ControlType,
  FLAG_FIN,
  FrameReader,
  SpdyProtocolError,
  controlFrame,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
} from "../../../../../src/api/cri/streaming/spdy-frames.js";

function adler32(bytes: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

describe("SPDY/3.1 frames", () => {
  it("writes a control frame's head: control bit, version 3, type, flags and length", () => {
    const bytes = Buffer.concat(controlFrame(ControlType.PING, FLAG_FIN, Buffer.from([0, 0, 0, 7])));
    assert.equal(bytes.toString("hex"), "80030006" + "01000004" + "00000007");
  });

  it("writes a data frame's head with the stream id and FIN, and leaves the data uncopied", () => {
    const data = Buffer.from("hello");
    const pieces = dataFrame(5, FLAG_FIN, data);
    assert.equal(pieces[0]!.toString("hex"), "00000005" + "01000005");
    assert.equal(pieces[1], data);
    assert.equal(Buffer.concat(dataFrame(3, FLAG_FIN, Buffer.alloc(0))).toString("hex"), "00000003" + "01000000");
  });

  it("reads frames however the bytes are cut, one byte at a time included", () => {
    const bytes = Buffer.concat([
      ...controlFrame(ControlType.PING, 0, Buffer.from([0, 0, 0, 1])),
      ...dataFrame(1, 0, Buffer.from("abc")),
      ...dataFrame(1, FLAG_FIN, Buffer.alloc(0)),
    ]);
    for (const size of [1, 3, 7, bytes.length]) {
      const reader = new FrameReader();
      const frames = [];
      for (let at = 0; at < bytes.length; at += size) frames.push(...reader.push(bytes.subarray(at, at + size)));
      assert.equal(frames.length, 3, `chunks of ${size}`);
      assert.deepEqual(frames[0], { control: true, version: 3, type: ControlType.PING, flags: 0, payload: Buffer.from([0, 0, 0, 1]) });
      assert.deepEqual(frames[1], { control: false, streamId: 1, flags: 0, data: Buffer.from("abc") });
      assert.deepEqual(frames[2], { control: false, streamId: 1, flags: FLAG_FIN, data: Buffer.alloc(0) });
    }
  });

  it("encodes and decodes a header block: lowercased names, NUL-joined values", () => {
    const block = encodeHeaderBlock(new Map([["StreamType", ["error"]], ["port", ["80", "81"]]]));
    assert.equal(block.readUInt32BE(0), 2);
    const back = decodeHeaderBlock(block);
    assert.deepEqual([...back], [["streamtype", ["error"]], ["port", ["80", "81"]]]);
  });

  it("refuses a header block cut short", () => {
    const block = encodeHeaderBlock(new Map([["streamtype", ["stdout"]]]));
    assert.throws(() => decodeHeaderBlock(block.subarray(0, block.length - 2)), SpdyProtocolError);
    assert.throws(() => decodeHeaderBlock(Buffer.from([0, 0, 0, 1])), SpdyProtocolError);
  });

  it("has the spec's dictionary: 1423 bytes, whose Adler-32 is the id Go's zlib checks", () => {
    assert.equal(SPDY3_DICTIONARY.length, 1423);
    assert.equal(SPDY3_DICTIONARY.subarray(0, 11).toString("latin1"), "\0\0\0\x07options");
    assert.equal(SPDY3_DICTIONARY.subarray(-6).toString("latin1"), "enq=0.");
    // The dictionary id in the zlib header of every SPDY/3 header stream; Go's client (critest) refuses any other.
    assert.equal(adler32(SPDY3_DICTIONARY).toString(16), "e3c6a7c2");
  });
});
