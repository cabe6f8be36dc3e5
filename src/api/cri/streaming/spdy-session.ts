// The server's side of one SPDY/3.1 session, as Kubernetes' clients
// (moby/spdystream) speak it: the client opens every stream (odd ids) and
// waits for each one's SYN_REPLY before opening the next, so a stream is
// answered as soon as it arrives; pings are echoed. Header blocks go through
// one zlib context per direction, primed with SPDY's dictionary, so every
// block is inflated in order, also those of frames nothing else is done
// with. Flow-control windows are not kept: the clients neither send
// WINDOW_UPDATE nor wait for one.
import { EventEmitter } from "node:events";
import { constants as zlibConstants, createDeflate, createInflate, type Deflate, type Inflate } from "node:zlib";
import { SPDY3_DICTIONARY } from "./spdy-dictionary.js";
import {
  ControlType,
  FLAG_FIN,
  FrameReader,
  MAX_PAYLOAD,
  RstStatus,
  SPDY_VERSION,
  SpdyProtocolError,
  controlFrame,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  goAwayPayload,
  parseSynStream,
  rstStreamPayload,
  streamIdOf,
  synReplyPayload,
  type HeaderBlock,
  type SpdyFrame,
} from "./spdy-frames.js";

/** Where the session's bytes go: a socket, or WebSocket messages. `write` resolves when more may be written. */
export interface ByteTransport {
  write(pieces: Buffer[]): Promise<void>;
  close(): void;
}

// A header block larger than this once inflated is refused (a small frame could otherwise inflate to gigabytes).
const MAX_HEADER_BYTES = 1024 * 1024;

// Runs `input` through a zlib stream kept open across calls, with a sync flush: the output for exactly this input.
function zlibStep(z: Deflate | Inflate, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_HEADER_BYTES) z.destroy(new SpdyProtocolError(`a header block inflates past ${MAX_HEADER_BYTES} bytes`));
      else chunks.push(chunk);
    };
    const onError = (err: Error) => {
      z.off("data", onData);
      reject(err);
    };
    z.on("data", onData);
    z.once("error", onError);
    z.write(input);
    z.flush(zlibConstants.Z_SYNC_FLUSH, () => {
      z.off("data", onData);
      z.off("error", onError);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** One stream the client opened. Events: `data` (Buffer), `end` (the client half-closed it), `close` (reset, or the session ended). */
export class SpdyStream extends EventEmitter {
  private localEnded = false;
  private remoteEnded = false;
  private closed = false;

  constructor(
    private readonly session: SpdySession,
    readonly id: number,
    readonly headers: HeaderBlock,
  ) {
    super();
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase())?.[0];
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves when the bytes are handed to the transport (backpressure for the writer). */
  async write(data: Buffer): Promise<void> {
    if (this.localEnded || this.closed) return;
    for (let at = 0; at < data.length; at += MAX_PAYLOAD) {
      await this.session.send(() => dataFrame(this.id, 0, data.subarray(at, at + MAX_PAYLOAD)));
    }
  }

  /** Half-closes our side (a DATA frame with FIN). */
  async end(): Promise<void> {
    if (this.localEnded || this.closed) return;
    this.localEnded = true;
    await this.session.send(() => dataFrame(this.id, FLAG_FIN, Buffer.alloc(0)));
    this.settle();
  }

  /** Aborts the stream both ways. */
  async reset(status: number = RstStatus.CANCEL): Promise<void> {
    if (this.closed) return;
    this.localEnded = true;
    this.close();
    await this.session.send(() => controlFrame(ControlType.RST_STREAM, 0, rstStreamPayload(this.id, status)));
  }

  /** @internal */
  deliver(data: Buffer, fin: boolean): void {
    if (this.remoteEnded || this.closed) return;
    if (data.length) this.emit("data", data);
    if (fin) {
      this.remoteEnded = true;
      this.emit("end");
      this.settle();
    }
  }

  /** @internal the client reset it, or the session is gone */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.session.forget(this.id);
    if (!this.remoteEnded) {
      this.remoteEnded = true;
      this.emit("end");
    }
    this.emit("close");
  }

  private settle(): void {
    if (this.localEnded && this.remoteEnded) this.close();
  }
}

export class SpdySession extends EventEmitter {
  private readonly reader = new FrameReader();
  private readonly inflater: Inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
  private readonly deflater: Deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  private readonly streams = new Map<number, SpdyStream>();
  private inbound: Promise<void> = Promise.resolve();
  private outbound: Promise<void> = Promise.resolve();
  private lastStreamId = 0;
  private ended = false;

  /** Events: `stream` (each stream the client opens, once answered), `close`, `protocolError`. */
  constructor(private readonly transport: ByteTransport) {
    super();
    // Errors surface through zlibStep; these keep an unexpected one from being unhandled.
    this.inflater.on("error", () => {});
    this.deflater.on("error", () => {});
  }

  get isClosed(): boolean {
    return this.ended;
  }

  /** Bytes from the client. */
  receive(chunk: Buffer): void {
    if (this.ended) return;
    let frames: SpdyFrame[];
    try {
      frames = this.reader.push(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    for (const frame of frames) this.inbound = this.inbound.then(() => (this.ended ? undefined : this.handle(frame))).catch((err: unknown) => this.fail(err));
  }

  /** @internal Frames leave in the order asked for; a builder runs in turn, so header blocks are compressed in that order too. */
  send(build: () => Buffer[] | Promise<Buffer[]>): Promise<void> {
    const step = this.outbound.then(async () => {
      if (this.ended) return;
      await this.transport.write(await build());
    });
    this.outbound = step.catch(() => {});
    return step.catch((err: unknown) => this.fail(err));
  }

  /** @internal */
  forget(id: number): void {
    this.streams.delete(id);
  }

  /** Says goodbye (GOAWAY), lets what is queued go, and closes the transport. */
  async close(): Promise<void> {
    if (this.ended) return;
    await this.send(() => controlFrame(ControlType.GOAWAY, 0, goAwayPayload(this.lastStreamId)));
    this.shutDown();
  }

  /** The transport is gone (or broke): every stream is closed. */
  shutDown(): void {
    if (this.ended) return;
    this.ended = true;
    for (const stream of [...this.streams.values()]) stream.close();
    this.transport.close();
    this.inflater.destroy();
    this.deflater.destroy();
    this.emit("close");
  }

  private fail(err: unknown): void {
    if (this.ended) return;
    this.emit("protocolError", err);
    this.shutDown();
  }

  private async handle(frame: SpdyFrame): Promise<void> {
    if (!frame.control) {
      const stream = this.streams.get(frame.streamId);
      if (stream) stream.deliver(frame.data, (frame.flags & FLAG_FIN) !== 0);
      else await this.send(() => controlFrame(ControlType.RST_STREAM, 0, rstStreamPayload(frame.streamId, RstStatus.INVALID_STREAM)));
      return;
    }
    if (frame.version !== SPDY_VERSION) throw new SpdyProtocolError(`SPDY version ${frame.version} is not spoken here (3 is)`);
    switch (frame.type) {
      case ControlType.SYN_STREAM:
        return this.openStream(frame.payload, frame.flags);
      case ControlType.SYN_REPLY:
      case ControlType.HEADERS:
        // Nothing to do with them, but their blocks move the zlib context on.
        await zlibStep(this.inflater, frame.payload.subarray(4));
        return;
      case ControlType.RST_STREAM:
        this.streams.get(streamIdOf(frame.payload))?.close();
        return;
      case ControlType.PING:
        await this.send(() => controlFrame(ControlType.PING, 0, Buffer.from(frame.payload)));
        return;
      case ControlType.GOAWAY:
        this.shutDown();
        return;
      default:
        // SETTINGS, WINDOW_UPDATE and unknown types: nothing kept, nothing owed.
        return;
    }
  }

  private async openStream(payload: Buffer, flags: number): Promise<void> {
    const { streamId, headerBlock } = parseSynStream(payload);
    const headers = decodeHeaderBlock(await zlibStep(this.inflater, headerBlock));
    if (streamId % 2 === 0 || streamId <= this.lastStreamId) {
      throw new SpdyProtocolError(`stream id ${streamId} is not a new client stream`);
    }
    this.lastStreamId = streamId;
    const stream = new SpdyStream(this, streamId, headers);
    this.streams.set(streamId, stream);
    await this.send(async () => controlFrame(ControlType.SYN_REPLY, 0, synReplyPayload(streamId, await zlibStep(this.deflater, encodeHeaderBlock(new Map())))));
    this.emit("stream", stream);
    if (flags & FLAG_FIN) stream.deliver(Buffer.alloc(0), true);
  }
}
