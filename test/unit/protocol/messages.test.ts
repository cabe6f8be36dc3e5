import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeRequest,
  decodeResponse,
  DecodeError,
  encodeError,
  encodeRequest,
  encodeResponse,
  MessageType,
  toLong,
  warden,
} from "../../../src/protocol/messages.js";

function envelope(type: number, payload: Uint8Array): Uint8Array {
  return warden.Message.encode({ type, payload }).finish();
}

describe("messages", () => {
  it("uses Warden's type numbers", () => {
    assert.deepEqual(
      [MessageType.Error, MessageType.Create, MessageType.Stream, MessageType.LimitCpu, MessageType.Echo],
      [1, 11, 24, 54, 93],
    );
  });

  it("round-trips a request with nested and repeated fields", () => {
    const bytes = encodeRequest("Create", {
      handle: "h",
      grace_time: 7,
      bind_mounts: [{ src_path: "/a", dst_path: "/b", mode: warden.CreateRequest.BindMount.Mode.RW }],
    });
    const decoded = decodeRequest(bytes);
    assert.equal(decoded.name, "Create");
    if (decoded.name !== "Create") return;
    assert.equal(decoded.request.handle, "h");
    assert.equal(decoded.request.grace_time, 7);
    assert.equal(decoded.request.bind_mounts[0].mode, 1);
  });

  it("keeps the field numbers of the NetIn request (host_port is 3)", () => {
    const payload = warden.NetInRequest.encode({ handle: "h", host_port: 80 }).finish();
    // field 3, varint: tag byte 0x18
    assert.ok(Buffer.from(payload).includes(Buffer.from([0x18, 80])));
  });

  it("fills proto2 defaults for absent optional fields", () => {
    const decoded = decodeRequest(encodeRequest("Stop", { handle: "h" }));
    assert.equal(decoded.name, "Stop");
    if (decoded.name === "Stop") assert.equal(decoded.request.kill, false);
  });

  it("refuses a request that lacks a required field", () => {
    // A Destroy request is a Spawn request without its script.
    const payload = warden.DestroyRequest.encode({ handle: "h" }).finish();
    assert.throws(() => decodeRequest(envelope(MessageType.Spawn, payload)), (err: unknown) => {
      assert.ok(err instanceof DecodeError);
      assert.match(err.message, /missing required 'script'/);
      return true;
    });
  });

  it("refuses an unknown message type", () => {
    assert.throws(() => decodeRequest(envelope(77, new Uint8Array())), /Unknown request type: 77/);
  });

  it("refuses a payload that is not protobuf", () => {
    assert.throws(() => decodeRequest(Buffer.from([0xff, 0xff, 0xff])), DecodeError);
    assert.throws(() => decodeRequest(envelope(MessageType.Echo, Buffer.from([0x0a, 0x50]))), DecodeError);
  });

  it("refuses an enum value outside the enum (proto2 drops it, so the field is missing)", () => {
    const payload = Buffer.from(
      warden.CreateRequest.encode({
        bind_mounts: [{ src_path: "/a", dst_path: "/b", mode: 9 as warden.CreateRequest.BindMount.Mode }],
      }).finish(),
    );
    assert.throws(() => decodeRequest(envelope(MessageType.Create, payload)), /missing required 'mode'/);
  });

  it("puts required fields on the wire even when empty", () => {
    const bytes = encodeResponse("Echo", { message: "" });
    const inner = warden.Message.decode(bytes).payload;
    assert.deepEqual([...inner], [0x0a, 0x00]);
  });

  it("answers with the request's type, and errors with type Error", () => {
    assert.equal(warden.Message.decode(encodeResponse("Ping", {})).type, MessageType.Ping);
    const err = decodeResponse(encodeError("unknown handle", "detail"));
    assert.equal(err.kind, "error");
    if (err.kind === "error") {
      assert.equal(err.error.message, "unknown handle");
      assert.equal(err.error.data, "detail");
    }
  });

  it("carries uint64 values beyond 2^53 exactly", () => {
    const max = 2n ** 64n - 1n;
    const bytes = encodeRequest("Spawn", { handle: "h", script: "x", rlimits: { nofile: toLong(max) } });
    const decoded = decodeRequest(bytes);
    if (decoded.name !== "Spawn") throw new Error("wrong type");
    assert.equal(decoded.request.rlimits!.nofile!.toUnsigned().toString(), max.toString());
  });
});
