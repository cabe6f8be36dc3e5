// SPDY/3.1 framing (draft 3.1): the frames Kubernetes' streaming clients
// send and expect, as bytes. A frame is 8 bytes of head and a payload of up
// to 2^24-1 bytes; a control frame's head carries the version (3) and a
// type, a data frame's the stream it belongs to. Header blocks are built and
// read here uncompressed; their zlib context is the session's.

export const SPDY_VERSION = 3;
export const FLAG_FIN = 0x01;
const HEAD_BYTES = 8;
export const MAX_PAYLOAD = 0xffffff;

export const ControlType = {
  SYN_STREAM: 1,
  SYN_REPLY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  HEADERS: 8,
  WINDOW_UPDATE: 9,
} as const;

/** RST_STREAM's status codes. */
export const RstStatus = { PROTOCOL_ERROR: 1, INVALID_STREAM: 2, REFUSED_STREAM: 3, CANCEL: 5, INTERNAL_ERROR: 6, STREAM_IN_USE: 8, STREAM_ALREADY_CLOSED: 9 } as const;

export type SpdyFrame =
  | { control: false; streamId: number; flags: number; data: Buffer }
  | { control: true; version: number; type: number; flags: number; payload: Buffer };

export class SpdyProtocolError extends Error {}

/** Cuts a byte stream into frames; bytes of a frame not yet complete wait for the next chunk. */
export class FrameReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  push(chunk: Buffer): SpdyFrame[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: SpdyFrame[] = [];
    if (this.pendingBytes < HEAD_BYTES) return frames;
    let buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    let at = 0;
    while (buf.length - at >= HEAD_BYTES) {
      const length = buf.readUInt32BE(at + 4) & MAX_PAYLOAD;
      if (buf.length - at < HEAD_BYTES + length) break;
      const first = buf.readUInt32BE(at);
      const flags = buf[at + 4]!;
      const body = buf.subarray(at + HEAD_BYTES, at + HEAD_BYTES + length);
      if (first & 0x80000000) frames.push({ control: true, version: (first >>> 16) & 0x7fff, type: first & 0xffff, flags, payload: body });
      else frames.push({ control: false, streamId: first & 0x7fffffff, flags, data: body });
      at += HEAD_BYTES + length;
    }
    buf = buf.subarray(at);
    this.pending = buf.length ? [buf] : [];
    this.pendingBytes = buf.length;
    return frames;
  }
}

function head(first: number, flags: number, length: number): Buffer {
  if (length > MAX_PAYLOAD) throw new SpdyProtocolError(`a frame of ${length} bytes is too long`);
  const out = Buffer.alloc(HEAD_BYTES);
  out.writeUInt32BE(first >>> 0, 0);
  // Flags in the top byte make the value negative as a 32-bit int: >>> 0.
  out.writeUInt32BE((((flags & 0xff) << 24) | length) >>> 0, 4);
  return out;
}

export function controlFrame(type: number, flags: number, payload: Buffer): Buffer[] {
  return [head((0x80000000 | (SPDY_VERSION << 16) | type) >>> 0, flags, payload.length), payload];
}

/** A data frame's pieces: its head and the data as it is (not copied). */
export function dataFrame(streamId: number, flags: number, data: Buffer): Buffer[] {
  return data.length ? [head(streamId & 0x7fffffff, flags, data.length), data] : [head(streamId & 0x7fffffff, flags, 0)];
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

export function synReplyPayload(streamId: number, compressedHeaders: Buffer): Buffer {
  return Buffer.concat([u32(streamId & 0x7fffffff), compressedHeaders]);
}

export function rstStreamPayload(streamId: number, status: number): Buffer {
  return Buffer.concat([u32(streamId & 0x7fffffff), u32(status)]);
}

export function goAwayPayload(lastStreamId: number, status = 0): Buffer {
  return Buffer.concat([u32(lastStreamId & 0x7fffffff), u32(status)]);
}

/** SYN_STREAM: the stream's id, then (after the associated id, priority and slot) its header block. */
export function parseSynStream(payload: Buffer): { streamId: number; headerBlock: Buffer } {
  if (payload.length < 10) throw new SpdyProtocolError("SYN_STREAM shorter than 10 bytes");
  return { streamId: payload.readUInt32BE(0) & 0x7fffffff, headerBlock: payload.subarray(10) };
}

/** The stream id at the start of RST_STREAM, HEADERS, WINDOW_UPDATE and SYN_REPLY. */
export function streamIdOf(payload: Buffer): number {
  if (payload.length < 4) throw new SpdyProtocolError("control frame too short for a stream id");
  return payload.readUInt32BE(0) & 0x7fffffff;
}

export type HeaderBlock = Map<string, string[]>;

/** An uncompressed header block: a count, then each name and value after its length; a value's parts are NUL-joined. */
export function encodeHeaderBlock(headers: HeaderBlock): Buffer {
  const parts: Buffer[] = [u32(headers.size)];
  for (const [name, values] of headers) {
    const n = Buffer.from(name.toLowerCase(), "utf8");
    const v = Buffer.from(values.join("\0"), "utf8");
    parts.push(u32(n.length), n, u32(v.length), v);
  }
  return Buffer.concat(parts);
}

export function decodeHeaderBlock(block: Buffer): HeaderBlock {
  const headers: HeaderBlock = new Map();
  const need = (at: number, n: number) => {
    if (at + n > block.length) throw new SpdyProtocolError("header block cut short");
  };
  need(0, 4);
  const count = block.readUInt32BE(0);
  let at = 4;
  for (let i = 0; i < count; i++) {
    need(at, 4);
    const nameLength = block.readUInt32BE(at);
    need(at + 4, nameLength + 4);
    const name = block.toString("utf8", at + 4, at + 4 + nameLength).toLowerCase();
    at += 4 + nameLength;
    const valueLength = block.readUInt32BE(at);
    need(at + 4, valueLength);
    const value = block.toString("utf8", at + 4, at + 4 + valueLength);
    at += 4 + valueLength;
    headers.set(name, [...(headers.get(name) ?? []), ...value.split("\0")]);
  }
  return headers;
}
