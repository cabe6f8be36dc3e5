// Warden's framing: `<decimal length>\r\n<length bytes>\r\n`.

const CRLF = Buffer.from("\r\n");

// The longest prefix we accept: 20 digits covers every uint64, anything
// longer is garbage and must not make us buffer without bound.
const MAX_PREFIX_DIGITS = 20;

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameError";
  }
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const prefix = Buffer.from(`${payload.length}\r\n`, "latin1");
  return Buffer.concat([prefix, payload, CRLF], prefix.length + payload.length + 2);
}

/** A frame's body as it is built: one buffer, or pieces that follow each other (a job's output among them). */
export type FrameBody = Uint8Array | readonly Uint8Array[];

// Pieces at least this long go out as they are; shorter ones are merged with
// their neighbours, so a frame is a few buffers for one writev.
const SEPARATE_BYTES = 16 * 1024;

/**
 * A frame as buffers to write one after another: a large piece of the body
 * (megabytes of output) is not copied into a frame of its own.
 */
export function frameParts(body: FrameBody): Uint8Array[] {
  if (body instanceof Uint8Array) return [encodeFrame(body)];
  const length = body.reduce((n, p) => n + p.length, 0);
  const out: Uint8Array[] = [];
  let small: Uint8Array[] = [Buffer.from(`${length}\r\n`, "latin1")];
  const flush = () => {
    if (small.length > 0) out.push(small.length === 1 ? small[0] : Buffer.concat(small));
    small = [];
  };
  for (const part of body) {
    if (part.length >= SEPARATE_BYTES) {
      flush();
      out.push(part);
    } else if (part.length > 0) {
      small.push(part);
    }
  }
  small.push(CRLF);
  flush();
  return out;
}

/**
 * Splits a byte stream into frame payloads. Bytes may arrive split or
 * coalesced in any way. A bad length prefix is fatal for the stream (there is
 * no way to find the next frame), so push() throws FrameError and the decoder
 * must not be used again.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  // Length of the frame whose body we are waiting for, or -1 while reading a prefix.
  private bodyLength = -1;
  private failed = false;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held while waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw new FrameError("decoder already failed");
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Buffer[] = [];
    try {
      for (;;) {
        const frame = this.next();
        if (!frame) break;
        frames.push(frame);
      }
    } catch (err) {
      this.failed = true;
      this.chunks = [];
      this.buffered = 0;
      throw err;
    }
    return frames;
  }

  private next(): Buffer | undefined {
    if (this.bodyLength < 0) {
      const head = this.peek(Math.min(this.buffered, MAX_PREFIX_DIGITS + 2));
      const crlf = head.indexOf(CRLF);
      if (crlf < 0) {
        if (head.length >= MAX_PREFIX_DIGITS + 2) throw new FrameError("frame length prefix is not a number");
        const bad = head.subarray(0, head.length - (head[head.length - 1] === 0x0d ? 1 : 0));
        if (!/^[0-9]*$/.test(bad.toString("latin1"))) throw new FrameError("frame length prefix is not a number");
        return undefined;
      }
      const text = head.subarray(0, crlf).toString("latin1");
      if (!/^[0-9]+$/.test(text)) throw new FrameError("frame length prefix is not a number");
      const length = Number(text);
      if (length > this.maxFrameBytes) {
        throw new FrameError(`frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes} bytes`);
      }
      this.consume(crlf + 2);
      this.bodyLength = length;
    }
    if (this.buffered < this.bodyLength + 2) return undefined;
    const body = this.take(this.bodyLength);
    const trailer = this.take(2);
    if (!trailer.equals(CRLF)) throw new FrameError("frame is not terminated by CRLF");
    this.bodyLength = -1;
    return body;
  }

  // Merges only as many leading chunks as n needs, so many small buffered
  // frames are not copied over and over.
  private peek(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    let count = 0;
    let i = 0;
    while (count < n) count += this.chunks[i++].length;
    const merged = Buffer.concat(this.chunks.slice(0, i), count);
    this.chunks.splice(0, i, merged);
    return merged.subarray(0, n);
  }

  // A small frame is copied out, so it does not keep the whole chunk it came
  // in alive; a large one is handed out as it lies (megabytes of output).
  private take(n: number): Buffer {
    const view = this.peek(n);
    const out = n >= SEPARATE_BYTES ? view : Buffer.from(view);
    this.consume(n);
    return out;
  }

  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.chunks[0];
      if (first.length <= n) {
        n -= first.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = first.subarray(n);
        n = 0;
      }
    }
  }
}
