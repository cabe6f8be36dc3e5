// One client connection: frames in, requests answered one at a time in the
// order they came (Warden serializes per connection), responses written with
// backpressure. A client that pipelines without reading is paused, so it
// cannot make us buffer without bound.
import type { Socket } from "node:net";
import { asCoreError } from "../../core/errors.js";
import type { Logger } from "../../core/interfaces/logger.js";
import { encodeFrame, FrameDecoder, FrameError, frameParts, type FrameBody } from "../../protocol/frame.js";
import { decodeRequest, DecodeError, encodeError, type DecodedRequest } from "../../protocol/messages.js";
import { wardenMessage } from "./errors.js";
import { drained } from "../../util/drained.js";

/** What a request produced: one frame, or several (Stream). */
export type Reply = FrameBody | AsyncIterable<FrameBody>;

export interface RequestHandler {
  /** `closed` aborts when the client goes away, so waits on its behalf (Link, Stream) can end. */
  handle(request: DecodedRequest, conn: number, closed: AbortSignal): Promise<Reply>;
  /** A connection came, or went. */
  opened(conn: number): void;
  closed(conn: number): void;
}

// Requests decoded but not yet answered; past either bound we stop reading the socket.
const MAX_QUEUED = 64;
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** Requests received and not yet answered, over all connections. */
export class InFlight {
  count = 0;
  constructor(readonly max: number) {}

  /** Takes a place, or says no when all are taken. */
  take(): boolean {
    if (this.count >= this.max) return false;
    this.count++;
    return true;
  }

  give(): void {
    this.count--;
  }
}

// A request turned away because too many are in flight: its frame is dropped
// at once (bounding memory), its error answered in its turn (keeping order).
const REFUSED = Buffer.alloc(0);

// Requests that wait on a job rather than do work: a drain does not wait for them.
const WAITING = new Set(["Link", "Run", "Stream"]);

export class Connection {
  private readonly decoder: FrameDecoder;
  private readonly queue: Buffer[] = [];
  private queuedBytes = 0;
  private processing = false;
  private closed = false;
  private paused = false;
  private ended = false;
  private closing = false;
  /** The type of the request being answered. */
  private current: string | undefined;
  private readonly gone = new AbortController();

  constructor(
    private readonly socket: Socket,
    readonly id: number,
    private readonly handler: RequestHandler,
    maxFrameBytes: number,
    private readonly log: Logger,
    private readonly onClose: (conn: Connection) => void,
    private readonly inFlight: InFlight = new InFlight(Infinity),
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
    socket.on("data", (chunk) => this.onData(chunk));
    // The client shut its side: answer what it sent, then shut ours. Waits
    // on its behalf (Link, Stream) end as if it had gone, as Warden's did: a
    // job's output must not count as delivered to a client that may have left.
    socket.on("end", () => {
      this.ended = true;
      this.gone.abort();
      if (!this.processing && this.queue.length === 0) socket.end();
    });
    socket.on("error", (err) => this.log.debug({ conn: id, err: err.message }, "connection error"));
    socket.on("close", () => {
      this.closed = true;
      this.gone.abort();
      for (const f of this.queue) if (f !== REFUSED) this.inFlight.give();
      this.queue.length = 0;
      this.onClose(this);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** True while a request is being answered. */
  get busy(): boolean {
    return this.processing;
  }

  close(): void {
    this.socket.destroy();
  }

  /** Ends the connection after the request being answered, if any; what was queued behind it is dropped. */
  closeWhenIdle(): void {
    this.closing = true;
    for (const f of this.queue) if (f !== REFUSED) this.inFlight.give();
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.socket.pause();
    if (!this.processing) this.socket.end();
  }

  /**
   * Warden's drain: an idle connection, or one waiting in Link, Run or
   * Stream (the job goes on; it can be linked again after the restart), is
   * closed now; one answering anything else is closed once that is answered.
   */
  drain(): void {
    if (!this.processing || (this.current !== undefined && WAITING.has(this.current))) this.close();
    else this.closeWhenIdle();
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    let frames: Buffer[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      // The stream cannot be resynchronized: say why, then hang up.
      this.log.warn({ conn: this.id, err: err.message }, "bad frame; closing connection");
      this.socket.pause();
      for (const f of this.queue) if (f !== REFUSED) this.inFlight.give();
      this.queue.length = 0;
      this.queuedBytes = 0;
      this.socket.end(encodeFrame(encodeError(err.message, "FRAME_INVALID")));
      return;
    }
    for (const f of frames) {
      if (this.inFlight.take()) {
        this.queuedBytes += f.length;
        this.queue.push(f);
      } else {
        this.queue.push(REFUSED);
      }
    }
    if ((this.queue.length >= MAX_QUEUED || this.queuedBytes >= MAX_QUEUED_BYTES) && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    void this.work();
  }

  private async work(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const frame = this.queue.shift()!;
        this.queuedBytes -= frame.length;
        if (this.paused && !this.closing && this.queue.length < MAX_QUEUED / 2 && this.queuedBytes < MAX_QUEUED_BYTES / 2) {
          this.paused = false;
          this.socket.resume();
        }
        if (frame === REFUSED) {
          const message = `too many requests in flight (server.max_requests_in_flight is ${this.inFlight.max}); try again`;
          this.log.warn({ conn: this.id, code: "TOO_MANY_REQUESTS" }, message);
          await this.write(encodeError(message, "TOO_MANY_REQUESTS"));
          continue;
        }
        try {
          await this.answer(frame);
        } catch (err) {
          // A bug of ours must not take the daemon down; this connection cannot go on.
          this.log.error({ conn: this.id, err: err instanceof Error ? err.stack : String(err) }, "cannot answer; closing connection");
          this.socket.destroy();
          return;
        } finally {
          this.inFlight.give();
        }
      }
    } finally {
      this.processing = false;
      this.current = undefined;
      if ((this.ended || this.closing) && this.queue.length === 0 && !this.closed) this.socket.end();
    }
  }

  private async answer(frame: Buffer): Promise<void> {
    let request: DecodedRequest;
    try {
      request = decodeRequest(frame);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.log.info({ conn: this.id, err: err.message }, "undecodable request");
      await this.write(encodeError(err.message, "DECODE_FAILED"));
      return;
    }
    const started = Date.now();
    this.current = request.name;
    const handle = (request.request as { handle?: string }).handle;
    this.log.debug({ conn: this.id, type: request.name, handle }, "request received");
    let reply: Reply;
    try {
      reply = await this.handler.handle(request, this.id, this.gone.signal);
    } catch (err) {
      if (this.closed) return;
      const e = asCoreError(err);
      const message = wardenMessage(e);
      this.log.info({ conn: this.id, type: request.name, handle, code: e.code, err: e.message, detail: e.detail }, "request failed");
      await this.write(encodeError(message, e.detail));
      return;
    }
    if (reply instanceof Uint8Array || Array.isArray(reply)) {
      await this.write(reply as FrameBody);
    } else {
      await this.writeAll(reply as AsyncIterable<FrameBody>, request.name, handle);
    }
    this.log.debug({ conn: this.id, type: request.name, handle, ms: Date.now() - started }, "request answered");
  }

  private async writeAll(frames: AsyncIterable<FrameBody>, type: string, handle?: string): Promise<void> {
    const iterator = frames[Symbol.asyncIterator]();
    try {
      for (;;) {
        const { value, done } = await iterator.next();
        if (done) break;
        if (this.closed) break;
        await this.write(value);
      }
    } catch (err) {
      if (this.closed) return;
      const e = asCoreError(err);
      this.log.info({ conn: this.id, type, handle, code: e.code, err: e.message }, "stream failed");
      await this.write(encodeError(wardenMessage(e), e.detail));
    } finally {
      await iterator.return?.();
    }
  }

  private write(message: FrameBody): Promise<void> {
    if (this.closed || this.socket.destroyed) return Promise.resolve();
    const parts = frameParts(message);
    // Corked, the pieces of a frame leave in one writev.
    if (parts.length > 1) this.socket.cork();
    let ok = true;
    for (const part of parts) ok = this.socket.write(part);
    if (parts.length > 1) this.socket.uncork();
    if (ok) return Promise.resolve();
    return drained(this.socket);
  }
}
