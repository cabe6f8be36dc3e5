// A job's output in Warden's messages, built in pieces around the output's
// own buffers: what a client decodes, field for field and byte for byte.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import protobuf from "protobufjs/minimal.js";
import { warden } from "../../../src/protocol/gen/warden.js";
import { MessageType } from "../../../src/protocol/messages.js";
import { decodeStreamChunk, encodeLinkWithOutput, encodeStreamChunk } from "../../../src/protocol/output-bytes.js";

const whole = (body: Uint8Array | readonly Uint8Array[]) => (body instanceof Uint8Array ? body : Buffer.concat(body));
// Every byte value, and a UTF-8 character cut in two.
const binary = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from("é").subarray(0, 1)]);

describe("output in Warden's messages", () => {
  it("a Stream chunk carries the name and the bytes as they are, without copying them", () => {
    const data = Buffer.concat([binary, Buffer.alloc(100_000, 0xff)]);
    const body = encodeStreamChunk("stderr", data);
    assert.ok(Array.isArray(body) && body.includes(data), "the data is one of the pieces");
    const message = warden.Message.decode(whole(body));
    assert.equal(message.type, MessageType.Stream);
    const chunk = decodeStreamChunk(message.payload);
    assert.equal(chunk.name, "stderr");
    assert.deepEqual(chunk.data, data);
    assert.equal(chunk.exit_status, undefined);
  });

  it("a Link response carries both outputs as bytes beside the generated fields", () => {
    const body = encodeLinkWithOutput("Run", { exit_status: 3 }, binary, Buffer.alloc(0));
    const message = warden.Message.decode(whole(body));
    assert.equal(message.type, MessageType.Run);
    assert.equal(warden.LinkResponse.decode(message.payload).exit_status, 3);
    // The generated decoder would read the outputs as text: they are read as bytes here.
    const fields = new Map<number, Buffer>();
    const reader = protobuf.Reader.create(message.payload);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 2 || tag >>> 3 === 3) fields.set(tag >>> 3, Buffer.from(reader.bytes()));
      else reader.skipType(tag & 7);
    }
    assert.deepEqual(fields.get(2), binary);
    assert.deepEqual(fields.get(3), Buffer.alloc(0));
  });
});
