// A typed Warden client over the same codec as the server. Requests may be
// pipelined; responses are matched in order, as Warden's protocol answers them.
import { createConnection, type Socket } from "node:net";
import { FrameDecoder } from "../protocol/frame.js";
import { encodeFrame } from "../protocol/frame.js";
import {
  decodeResponse,
  encodeRequest,
  has,
  type CommandName,
  type Requests,
  type Responses,
  warden,
} from "../protocol/messages.js";

/** The server answered with an ErrorResponse. */
export class ServerError extends Error {
  constructor(
    message: string,
    readonly data?: string,
  ) {
    super(message);
    this.name = "ServerError";
  }
}

export class ConnectionClosedError extends Error {
  constructor() {
    super("connection closed");
    this.name = "ConnectionClosedError";
  }
}

interface Waiter {
  /** Returns true when this frame was the waiter's last. */
  onFrame(frame: Uint8Array): boolean;
  onClose(err: Error): void;
}

const MAX_RESPONSE_FRAME = 1024 * 1024 * 1024;

export type StreamResponse = warden.StreamResponse;

export class WardenClient {
  private readonly waiters: Waiter[] = [];
  private readonly decoder = new FrameDecoder(MAX_RESPONSE_FRAME);
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk) => {
      let frames: Buffer[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        const waiter = this.waiters[0];
        if (!waiter) continue;
        if (waiter.onFrame(frame)) this.waiters.shift();
      }
    });
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => this.fail(new ConnectionClosedError()));
  }

  static connect(path: string): Promise<WardenClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new WardenClient(socket));
      });
      socket.once("error", reject);
    });
  }

  private fail(err: Error): void {
    this.closedError ??= err;
    for (const w of this.waiters.splice(0)) w.onClose(err);
  }

  private send(frame: Uint8Array, waiter: Waiter): void {
    if (this.closedError) {
      waiter.onClose(this.closedError);
      return;
    }
    this.waiters.push(waiter);
    this.socket.write(encodeFrame(frame));
  }

  /** Sends raw bytes (tests of bad input); the next frame read answers them. */
  sendRaw(bytes: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      this.waiters.push({ onFrame: (f) => (resolve(f), true), onClose: reject });
      this.socket.write(bytes);
    });
  }

  call<K extends CommandName>(name: K, request: Partial<Requests[K]> = {}): Promise<Responses[K]> {
    return new Promise((resolve, reject) => {
      this.send(encodeRequest(name, request), {
        onFrame: (frame) => {
          try {
            const decoded = decodeResponse(frame);
            if (decoded.kind === "error") reject(new ServerError(decoded.error.message ?? "", decoded.error.data ?? undefined));
            else resolve(decoded.response as Responses[K]);
          } catch (err) {
            reject(err);
          }
          return true;
        },
        onClose: reject,
      });
    });
  }

  /** Every StreamResponse until the one with exit_status. */
  async *stream(handle: string, jobId: number): AsyncGenerator<StreamResponse> {
    const queue: Array<{ value?: StreamResponse; error?: Error; last?: boolean }> = [];
    let wake: (() => void) | undefined;
    const push = (item: (typeof queue)[number]) => {
      queue.push(item);
      wake?.();
    };
    this.send(encodeRequest("Stream", { handle, job_id: jobId }), {
      onFrame: (frame) => {
        try {
          const decoded = decodeResponse(frame);
          if (decoded.kind === "error") {
            push({ error: new ServerError(decoded.error.message ?? "", decoded.error.data ?? undefined) });
            return true;
          }
          const response = decoded.response as StreamResponse;
          const last = has(response as object, "exit_status" as never);
          push({ value: response, last });
          return last;
        } catch (err) {
          push({ error: err as Error });
          return true;
        }
      },
      onClose: (err) => push({ error: err }),
    });
    for (;;) {
      if (queue.length === 0) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      const item = queue.shift()!;
      if (item.error) throw item.error;
      yield item.value!;
      if (item.last) return;
    }
  }

  // Conveniences for the common calls.
  async create(request: Partial<Requests["Create"]> = {}): Promise<string> {
    return (await this.call("Create", request)).handle;
  }

  run(handle: string, script: string, options: Partial<Requests["Run"]> = {}): Promise<Responses["Run"]> {
    return this.call("Run", { handle, script, ...options });
  }

  async spawn(handle: string, script: string, options: Partial<Requests["Spawn"]> = {}): Promise<number> {
    return (await this.call("Spawn", { handle, script, ...options })).job_id;
  }

  link(handle: string, jobId: number): Promise<Responses["Link"]> {
    return this.call("Link", { handle, job_id: jobId });
  }

  async destroy(handle: string): Promise<void> {
    await this.call("Destroy", { handle });
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  /** Resolves once the server closed the connection. */
  closed(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once("close", () => resolve()));
  }
}
