// A job's output in Warden's string fields (StreamResponse.data,
// LinkResponse.stdout and stderr) as the bytes the job wrote. A protobuf
// string and bytes field look alike on the wire (length-delimited), so the
// bytes go out untouched: no decoding as UTF-8 on the way out (which would
// mangle binary output and a character split between two reads) and none
// on the way in for a client that wants bytes. The other fields are encoded
// by the generated code; the output fields are appended (field order does
// not matter to a protobuf decoder).
import protobuf from "protobufjs/minimal.js";
import type { FrameBody } from "./frame.js";
import { warden } from "./gen/warden.js";
import { MessageType } from "./messages.js";

const LENGTH_DELIMITED = 2;

/** A varint-headed field or envelope start, as protobuf writes them. */
function tagged(field: number, length: number): Uint8Array {
  return protobuf.Writer.create().uint32((field << 3) | LENGTH_DELIMITED).uint32(length).finish();
}

/**
 * Message{type, payload} whose payload is the generated encoding of the other
 * fields, then each output field as bytes: in pieces, the output's own
 * buffers among them, so megabytes of output are not copied into the frame.
 */
function withBytes(type: number, head: Uint8Array, fields: Array<[number, Uint8Array | undefined]>): Uint8Array[] {
  const payload: Uint8Array[] = [head];
  let length = head.length;
  for (const [field, bytes] of fields) {
    if (bytes === undefined) continue;
    const tag = tagged(field, bytes.length);
    payload.push(tag, bytes);
    length += tag.length + bytes.length;
  }
  const envelope = protobuf.Writer.create().uint32(1 << 3).uint32(type).finish();
  return [envelope, tagged(2, length), ...payload];
}

/** A StreamResponse frame body of one chunk of output. */
export function encodeStreamChunk(name: "stdout" | "stderr", data: Uint8Array): FrameBody {
  return withBytes(MessageType.Stream, warden.StreamResponse.encode({ name }).finish(), [[2, data]]);
}

/** A LinkResponse (or RunResponse: the same fields) with stdout and stderr as bytes. */
export function encodeLinkWithOutput(
  name: "Link" | "Run",
  response: Omit<warden.LinkResponse.$Properties, "stdout" | "stderr">,
  stdout: Uint8Array,
  stderr: Uint8Array,
): FrameBody {
  return withBytes(MessageType[name], warden.LinkResponse.encode(response).finish(), [
    [2, stdout],
    [3, stderr],
  ]);
}

/** A StreamResponse as a client that wants the output's bytes reads it. */
export interface StreamChunk {
  name?: string;
  data?: Buffer;
  exit_status?: number;
  info?: warden.InfoResponse;
}

/** Decodes a StreamResponse payload with `data` as bytes; only fields on the wire are set. */
export function decodeStreamChunk(payload: Uint8Array): StreamChunk {
  const reader = protobuf.Reader.create(payload);
  const chunk: StreamChunk = {};
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    switch (tag >>> 3) {
      case 1:
        chunk.name = reader.string();
        break;
      case 2: {
        const bytes = reader.bytes();
        chunk.data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        break;
      }
      case 3:
        chunk.exit_status = reader.uint32();
        break;
      case 4:
        chunk.info = warden.InfoResponse.decode(reader, reader.uint32());
        break;
      default:
        reader.skipType(tag & 7);
    }
  }
  return chunk;
}
