// The envelope and the table from message type to request and response codecs.
import Long from "long";
import protobuf from "protobufjs/minimal.js";
import { warden } from "./gen/warden.js";

export { warden };
export const MessageType = warden.Message.Type;
export type MessageType = warden.Message.Type;

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

export interface Requests {
  Create: warden.CreateRequest;
  Stop: warden.StopRequest;
  Destroy: warden.DestroyRequest;
  Info: warden.InfoRequest;
  Spawn: warden.SpawnRequest;
  Link: warden.LinkRequest;
  Run: warden.RunRequest;
  Stream: warden.StreamRequest;
  NetIn: warden.NetInRequest;
  NetOut: warden.NetOutRequest;
  CopyIn: warden.CopyInRequest;
  CopyOut: warden.CopyOutRequest;
  LimitMemory: warden.LimitMemoryRequest;
  LimitDisk: warden.LimitDiskRequest;
  LimitBandwidth: warden.LimitBandwidthRequest;
  LimitCpu: warden.LimitCpuRequest;
  Ping: warden.PingRequest;
  List: warden.ListRequest;
  Echo: warden.EchoRequest;
}

/** Decoded responses: every field present, absent ones at their proto2 default. */
export interface Responses {
  Create: warden.CreateResponse;
  Stop: warden.StopResponse;
  Destroy: warden.DestroyResponse;
  Info: warden.InfoResponse;
  Spawn: warden.SpawnResponse;
  Link: warden.LinkResponse;
  Run: warden.RunResponse;
  Stream: warden.StreamResponse;
  NetIn: warden.NetInResponse;
  NetOut: warden.NetOutResponse;
  CopyIn: warden.CopyInResponse;
  CopyOut: warden.CopyOutResponse;
  LimitMemory: warden.LimitMemoryResponse;
  LimitDisk: warden.LimitDiskResponse;
  LimitBandwidth: warden.LimitBandwidthResponse;
  LimitCpu: warden.LimitCpuResponse;
  Ping: warden.PingResponse;
  List: warden.ListResponse;
  Echo: warden.EchoResponse;
}

/** What a response is built from: any field may be left out. */
export interface ResponseProperties {
  Create: warden.CreateResponse.$Properties;
  Stop: warden.StopResponse.$Properties;
  Destroy: warden.DestroyResponse.$Properties;
  Info: warden.InfoResponse.$Properties;
  Spawn: warden.SpawnResponse.$Properties;
  Link: warden.LinkResponse.$Properties;
  Run: warden.RunResponse.$Properties;
  Stream: warden.StreamResponse.$Properties;
  NetIn: warden.NetInResponse.$Properties;
  NetOut: warden.NetOutResponse.$Properties;
  CopyIn: warden.CopyInResponse.$Properties;
  CopyOut: warden.CopyOutResponse.$Properties;
  LimitMemory: warden.LimitMemoryResponse.$Properties;
  LimitDisk: warden.LimitDiskResponse.$Properties;
  LimitBandwidth: warden.LimitBandwidthResponse.$Properties;
  LimitCpu: warden.LimitCpuResponse.$Properties;
  Ping: warden.PingResponse.$Properties;
  List: warden.ListResponse.$Properties;
  Echo: warden.EchoResponse.$Properties;
}

export type CommandName = keyof Requests;

interface Entry {
  name: CommandName;
  request: Codec<any>;
  response: Codec<any>;
}

const entries: Entry[] = [
  { name: "Create", request: warden.CreateRequest, response: warden.CreateResponse },
  { name: "Stop", request: warden.StopRequest, response: warden.StopResponse },
  { name: "Destroy", request: warden.DestroyRequest, response: warden.DestroyResponse },
  { name: "Info", request: warden.InfoRequest, response: warden.InfoResponse },
  { name: "Spawn", request: warden.SpawnRequest, response: warden.SpawnResponse },
  { name: "Link", request: warden.LinkRequest, response: warden.LinkResponse },
  { name: "Run", request: warden.RunRequest, response: warden.RunResponse },
  { name: "Stream", request: warden.StreamRequest, response: warden.StreamResponse },
  { name: "NetIn", request: warden.NetInRequest, response: warden.NetInResponse },
  { name: "NetOut", request: warden.NetOutRequest, response: warden.NetOutResponse },
  { name: "CopyIn", request: warden.CopyInRequest, response: warden.CopyInResponse },
  { name: "CopyOut", request: warden.CopyOutRequest, response: warden.CopyOutResponse },
  { name: "LimitMemory", request: warden.LimitMemoryRequest, response: warden.LimitMemoryResponse },
  { name: "LimitDisk", request: warden.LimitDiskRequest, response: warden.LimitDiskResponse },
  { name: "LimitBandwidth", request: warden.LimitBandwidthRequest, response: warden.LimitBandwidthResponse },
  { name: "LimitCpu", request: warden.LimitCpuRequest, response: warden.LimitCpuResponse },
  { name: "Ping", request: warden.PingRequest, response: warden.PingResponse },
  { name: "List", request: warden.ListRequest, response: warden.ListResponse },
  { name: "Echo", request: warden.EchoRequest, response: warden.EchoResponse },
];

const byName = new Map<CommandName, Entry>(entries.map((e) => [e.name, e]));
const byType = new Map<number, Entry>(entries.map((e) => [MessageType[e.name], e]));

export function commandNames(): CommandName[] {
  return entries.map((e) => e.name);
}

export function commandOfType(type: number): CommandName | undefined {
  return byType.get(type)?.name;
}

/** Thrown when bytes on the wire are not a valid message; the connection stays usable. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecodeError";
  }
}

export type DecodedRequest = {
  [K in CommandName]: { name: K; type: MessageType; request: Requests[K] };
}[CommandName];

export function decodeRequest(frame: Uint8Array): DecodedRequest {
  let envelope: warden.Message;
  try {
    envelope = warden.Message.decode(frame);
  } catch (err) {
    // proto2 drops an enum value it does not know, so an unknown type reads
    // as a missing one; name the number the client sent instead.
    const type = rawType(frame);
    if (type !== undefined && !byType.has(type)) throw new DecodeError(`Unknown request type: ${type}`);
    throw new DecodeError(`Cannot decode Message: ${err instanceof Error ? err.message : String(err)}`);
  }
  const entry = byType.get(envelope.type);
  if (!entry) throw new DecodeError(`Unknown request type: ${envelope.type}`);
  const request = decodeWith(entry.request, envelope.payload, `${entry.name}Request`);
  return { name: entry.name, type: envelope.type, request } as DecodedRequest;
}

/** The varint in field 1 of an envelope, read with the library's reader. */
function rawType(frame: Uint8Array): number | undefined {
  try {
    const reader = protobuf.Reader.create(frame);
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag >>> 3 === 1 && (tag & 7) === 0) return reader.int32();
      reader.skipType(tag & 7);
    }
  } catch {
    // not protobuf at all
  }
  return undefined;
}

function decodeWith<T>(codec: Codec<T>, bytes: Uint8Array, what: string): T {
  try {
    return codec.decode(bytes);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new DecodeError(`Cannot decode ${what}: ${detail}`);
  }
}

export function encodeResponse<K extends CommandName>(name: K, response: ResponseProperties[K]): Uint8Array {
  const entry = byName.get(name)!;
  const payload = entry.response.encode(response).finish();
  return warden.Message.encode({ type: MessageType[name], payload }).finish();
}

export function encodeError(message: string, data?: string): Uint8Array {
  const error: warden.ErrorResponse.$Properties = { message };
  if (data !== undefined) error.data = data;
  const payload = warden.ErrorResponse.encode(error).finish();
  return warden.Message.encode({ type: MessageType.Error, payload }).finish();
}

export function encodeRequest<K extends CommandName>(name: K, request: Partial<Requests[K]>): Uint8Array {
  const entry = byName.get(name)!;
  const payload = entry.request.encode(request).finish();
  return warden.Message.encode({ type: MessageType[name], payload }).finish();
}

export type DecodedResponse =
  | { [K in CommandName]: { kind: "response"; name: K; response: Responses[K] } }[CommandName]
  | { kind: "error"; error: warden.ErrorResponse.$Properties };

export function decodeResponse(frame: Uint8Array): DecodedResponse {
  const envelope = decodeWith(warden.Message, frame, "Message");
  if (envelope.type === MessageType.Error) {
    return { kind: "error", error: decodeWith(warden.ErrorResponse, envelope.payload, "ErrorResponse") };
  }
  const entry = byType.get(envelope.type);
  if (!entry) throw new DecodeError(`Unknown response type: ${envelope.type}`);
  const response = decodeWith(entry.response, envelope.payload, `${entry.name}Response`);
  return { kind: "response", name: entry.name, response } as DecodedResponse;
}

/** True when the field was on the wire (protobufjs keeps defaults on the prototype). */
export function has<T extends object>(message: T, field: keyof T & string): boolean {
  return Object.prototype.hasOwnProperty.call(message, field);
}

export function toLong(value: number | bigint): Long {
  return Long.fromString(BigInt(value).toString(), true);
}

export function fromLong(value: Long | number): bigint {
  return typeof value === "number" ? BigInt(value) : BigInt(value.toUnsigned().toString());
}
