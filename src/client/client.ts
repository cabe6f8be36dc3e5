// A typed Warden client over the same codec as the server. Requests may be
// pipelined; responses are matched in order, as Warden's protocol answers them.
import { createConnection, type Socket } from "node:net";
import { FrameReader } from "../protocol/frame-reader.js";
import { encodeFrame } from "../protocol/frame.js";
import {
  decodeResponse,
  encodeRequest,
  has,
  MessageType,
  type CommandName,
  type Requests,
  type Responses,
  toLong,
  warden,
} from "../protocol/messages.js";
import { decodeStreamChunk, type StreamChunk } from "../protocol/output-bytes.js";

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

export type StreamResponse = StreamChunk;

/** Where a daemon listens: a unix socket's path, or a TCP host and port. */
export type Endpoint = string | { host: string; port: number };

/** Reads go where the reader says (see FrameReader): no buffer per read, no copies of large frames. */
interface ReadInto {
  target(): Buffer;
  wrote(n: number): void;
}

function open(endpoint: Endpoint, reader: ReadInto): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const onread = {
      buffer: () => reader.target(),
      callback: (n: number) => {
        reader.wrote(n);
        return true;
      },
    };
    const socket = typeof endpoint === "string" ? createConnection({ path: endpoint, onread }) : createConnection({ ...endpoint, onread });
    socket.once("connect", () => {
      socket.off("error", reject);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

export class WardenClient {
  private readonly waiters: Waiter[] = [];
  private closedError: Error | undefined;
  private socket!: Socket;

  private constructor(readonly endpoint: Endpoint) {}

  /** Connects to a unix socket path (Warden's default is /tmp/warden.sock) or to { host, port }. */
  static async connect(endpoint: Endpoint = "/tmp/warden.sock"): Promise<WardenClient> {
    const client = new WardenClient(endpoint);
    client.socket = await client.openSocket();
    client.attach(client.socket);
    return client;
  }

  /** A connection whose frames go to this client's waiters while it is the client's socket. */
  private openSocket(): Promise<Socket> {
    let socket: Socket | undefined;
    const frames = new FrameReader(MAX_RESPONSE_FRAME, (frame) => {
      if (socket !== this.socket) return;
      const waiter = this.waiters[0];
      if (waiter?.onFrame(frame)) this.waiters.shift();
    });
    const reader: ReadInto = {
      target: () => frames.target(),
      wrote: (n) => {
        try {
          frames.wrote(n);
        } catch (err) {
          if (socket === this.socket) this.fail(err as Error);
          socket?.destroy();
        }
      },
    };
    return open(this.endpoint, reader).then((s) => (socket = s));
  }

  private attach(socket: Socket): void {
    socket.on("error", (err) => socket === this.socket && this.fail(err));
    socket.on("close", () => socket === this.socket && this.fail(new ConnectionClosedError()));
  }

  /** Whether the connection is up (false once the server or we closed it). */
  get connected(): boolean {
    return this.closedError === undefined;
  }

  /**
   * Opens a new connection to the same endpoint, as Warden's client's
   * `reconnect`. Requests still waiting on the old one fail with
   * ConnectionClosedError; their jobs go on in the daemon and can be linked again.
   */
  async reconnect(): Promise<void> {
    const old = this.socket;
    const socket = await this.openSocket();
    this.fail(new ConnectionClosedError());
    this.socket = socket;
    this.closedError = undefined;
    this.attach(socket);
    old.destroy();
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

  /** Every StreamResponse until the one with exit_status; `data` is the job's bytes as it wrote them. */
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
          const envelope = warden.Message.decode(frame);
          if (envelope.type !== MessageType.Stream) {
            const decoded = decodeResponse(frame);
            const error = decoded.kind === "error" ? new ServerError(decoded.error.message ?? "", decoded.error.data ?? undefined) : new Error(`a ${decoded.name} response to Stream`);
            push({ error });
            return true;
          }
          const response = decodeStreamChunk(envelope.payload);
          const last = has(response, "exit_status");
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

  // One method per command. The request's fields as an object (names as in
  // warden.proto); the response as its typed object, or the one value it
  // is there for (Create's handle, Spawn's job id, List's handles).

  async ping(): Promise<void> {
    await this.call("Ping");
  }

  async echo(message: string): Promise<string> {
    return (await this.call("Echo", { message })).message;
  }

  async list(): Promise<string[]> {
    return (await this.call("List")).handles;
  }

  async create(request: Partial<Requests["Create"]> = {}): Promise<string> {
    return (await this.call("Create", request)).handle;
  }

  info(handle: string): Promise<Responses["Info"]> {
    return this.call("Info", { handle });
  }

  async stop(handle: string, options: Partial<Requests["Stop"]> = {}): Promise<void> {
    await this.call("Stop", { handle, ...options });
  }

  async destroy(handle: string): Promise<void> {
    await this.call("Destroy", { handle });
  }

  async spawn(handle: string, script: string, options: Partial<Requests["Spawn"]> = {}): Promise<number> {
    return (await this.call("Spawn", { handle, script, ...options })).job_id;
  }

  link(handle: string, jobId: number): Promise<Responses["Link"]> {
    return this.call("Link", { handle, job_id: jobId });
  }

  run(handle: string, script: string, options: Partial<Requests["Run"]> = {}): Promise<Responses["Run"]> {
    return this.call("Run", { handle, script, ...options });
  }

  netIn(handle: string, options: Partial<Requests["NetIn"]> = {}): Promise<Responses["NetIn"]> {
    return this.call("NetIn", { handle, ...options });
  }

  async netOut(handle: string, options: Partial<Requests["NetOut"]>): Promise<void> {
    await this.call("NetOut", { handle, ...options });
  }

  async copyIn(handle: string, srcPath: string, dstPath: string): Promise<void> {
    await this.call("CopyIn", { handle, src_path: srcPath, dst_path: dstPath });
  }

  async copyOut(handle: string, srcPath: string, dstPath: string, owner?: string): Promise<void> {
    await this.call("CopyOut", { handle, src_path: srcPath, dst_path: dstPath, ...(owner === undefined ? {} : { owner }) });
  }

  /** Sets the limit when given; answers with the limit in force either way. */
  limitMemory(handle: string, limitInBytes?: number | bigint): Promise<Responses["LimitMemory"]> {
    return this.call("LimitMemory", { handle, ...(limitInBytes === undefined ? {} : { limit_in_bytes: toLong(limitInBytes) }) });
  }

  limitDisk(handle: string, limits: Partial<Requests["LimitDisk"]> = {}): Promise<Responses["LimitDisk"]> {
    return this.call("LimitDisk", { handle, ...limits });
  }

  limitBandwidth(handle: string, rate: number | bigint, burst: number | bigint): Promise<Responses["LimitBandwidth"]> {
    return this.call("LimitBandwidth", { handle, rate: toLong(rate), burst: toLong(burst) });
  }

  limitCpu(handle: string, limitInShares?: number | bigint): Promise<Responses["LimitCpu"]> {
    return this.call("LimitCpu", { handle, ...(limitInShares === undefined ? {} : { limit_in_shares: toLong(limitInShares) }) });
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
