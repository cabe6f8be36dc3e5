// A SPDY/3.1 client for the tests, written from the draft as a client sees
// it (its own zlib contexts with the dictionary, odd stream ids): what the
// server under test sends is parsed back into frames and per-stream data.
import { constants as zlibConstants, createDeflate, createInflate, type Deflate, type Inflate } from "node:zlib";
import { SPDY3_DICTIONARY } from "../../../../../src/api/cri/streaming/spdy-dictionary.js";
import {
  ControlType,
  FLAG_FIN,
  FrameReader,
  controlFrame,
  dataFrame,
  decodeHeaderBlock,
  encodeHeaderBlock,
  type SpdyFrame,
} from "../../../../../src/api/cri/streaming/spdy-frames.js";

function step(z: Deflate | Inflate, input: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const onData = (c: Buffer) => chunks.push(c);
    z.on("data", onData);
    z.write(input);
    z.flush(zlibConstants.Z_SYNC_FLUSH, () => {
      z.off("data", onData);
      resolve(Buffer.concat(chunks));
    });
  });
}

export interface ClientStream {
  id: number;
  data: Buffer[];
  finished: boolean;
  reset: boolean;
  replied: boolean;
}

export class SpdyTestClient {
  private readonly deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  private readonly inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
  private readonly reader = new FrameReader();
  private nextId = 1;
  private chain: Promise<void> = Promise.resolve();
  readonly streams = new Map<number, ClientStream>();
  readonly pings: number[] = [];
  goAway = false;
  private waiters: Array<() => void> = [];

  /** `send` takes the bytes the client writes to the server. */
  constructor(private readonly send: (bytes: Buffer) => void) {}

  /** Bytes from the server. */
  receive(chunk: Buffer): void {
    for (const frame of this.reader.push(chunk)) this.chain = this.chain.then(() => this.handle(frame));
  }

  private async handle(frame: SpdyFrame): Promise<void> {
    if (!frame.control) {
      const s = this.streams.get(frame.streamId);
      if (s) {
        if (frame.data.length) s.data.push(Buffer.from(frame.data));
        if (frame.flags & FLAG_FIN) s.finished = true;
      }
    } else if (frame.type === ControlType.SYN_REPLY) {
      const id = frame.payload.readUInt32BE(0) & 0x7fffffff;
      decodeHeaderBlock(await step(this.inflate, frame.payload.subarray(4)));
      const s = this.streams.get(id);
      if (s) s.replied = true;
    } else if (frame.type === ControlType.RST_STREAM) {
      const s = this.streams.get(frame.payload.readUInt32BE(0) & 0x7fffffff);
      if (s) s.reset = true;
    } else if (frame.type === ControlType.PING) {
      this.pings.push(frame.payload.readUInt32BE(0));
    } else if (frame.type === ControlType.GOAWAY) {
      this.goAway = true;
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Resolves once `test` holds (checked after every frame), or rejects after `ms`. */
  until(test: () => boolean, what: string, ms = 3000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
      const check = () => {
        if (test()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  /** Opens a stream with these headers and waits for its reply, as spdystream does. */
  async open(headers: Record<string, string>, fin = false): Promise<ClientStream> {
    const id = this.nextId;
    this.nextId += 2;
    const stream: ClientStream = { id, data: [], finished: false, reset: false, replied: false };
    this.streams.set(id, stream);
    const block = await step(this.deflate, encodeHeaderBlock(new Map(Object.entries(headers).map(([k, v]) => [k, [v]]))));
    const head = Buffer.alloc(10);
    head.writeUInt32BE(id, 0);
    this.write(controlFrame(ControlType.SYN_STREAM, fin ? FLAG_FIN : 0, Buffer.concat([head, block])));
    await this.until(() => stream.replied || stream.reset, `the reply to stream ${id}`);
    return stream;
  }

  data(stream: ClientStream, bytes: Buffer, fin = false): void {
    this.write(dataFrame(stream.id, fin ? FLAG_FIN : 0, bytes));
  }

  reset(stream: ClientStream): void {
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(stream.id, 0);
    payload.writeUInt32BE(5, 4);
    this.write(controlFrame(ControlType.RST_STREAM, 0, payload));
  }

  ping(id: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32BE(id);
    this.write(controlFrame(ControlType.PING, 0, payload));
  }

  raw(bytes: Buffer): void {
    this.send(bytes);
  }

  private write(pieces: Buffer[]): void {
    this.send(Buffer.concat(pieces));
  }

  close(): void {
    this.deflate.destroy();
    this.inflate.destroy();
  }
}

export const text = (s: ClientStream) => Buffer.concat(s.data).toString("utf8");
