// The unix socket listener. It refuses to take over a socket another daemon
// still answers on, and removes a stale one.
import { chmod, lstat, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../../core/interfaces/logger.js";
import { encodeFrame } from "../../protocol/frame.js";
import { encodeError } from "../../protocol/messages.js";
import { Connection, InFlight, type RequestHandler } from "./connection.js";

export interface ServerOptions {
  path: string;
  permissions: number;
  maxFrameBytes: number;
  /** Connections open at once; one more is told so and closed. */
  maxConnections?: number;
  /** Requests received and not yet answered, over all connections; past it a request is answered with an error. */
  maxRequestsInFlight?: number;
  handler: RequestHandler;
  logger: Logger;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export class WardenServer {
  private server: Server | undefined;
  private readonly connections = new Set<Connection>();
  private readonly inFlight: InFlight;
  private lastConnection = 0;

  constructor(private readonly options: ServerOptions) {
    this.inFlight = new InFlight(options.maxRequestsInFlight ?? Infinity);
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  async listen(): Promise<void> {
    const { path } = this.options;
    try {
      const st = await lstat(path);
      if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
      if (await answers(path)) throw new Error(`another server is listening on ${path}`);
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    // Half-open: a client may send its requests and shut its side; it still gets the answers.
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    await chmod(path, this.options.permissions);
  }

  private accept(socket: Socket): void {
    const max = this.options.maxConnections ?? Infinity;
    if (this.connections.size >= max) {
      const message = `too many connections (server.max_connections is ${max})`;
      this.options.logger.warn({ code: "TOO_MANY_CONNECTIONS", connections: this.connections.size }, message);
      socket.on("error", () => {});
      socket.end(encodeFrame(encodeError(message, "TOO_MANY_CONNECTIONS")));
      return;
    }
    const id = ++this.lastConnection;
    this.options.handler.opened(id);
    const conn = new Connection(
      socket,
      id,
      this.options.handler,
      this.options.maxFrameBytes,
      this.options.logger,
      (c) => {
        this.connections.delete(c);
        this.options.handler.closed(c.id);
      },
      this.inFlight,
    );
    this.connections.add(conn);
  }

  /**
   * Stops accepting (the socket goes) and closes connections as Warden's
   * drain does: at once when idle or waiting on a job, after their current
   * request otherwise. Resolves when none is left, or after `timeoutMs`,
   * when the rest are cut.
   */
  async drain(timeoutMs: number): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const listening = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await unlink(this.options.path).catch(() => {});
    for (const c of this.connections) c.drain();
    const deadline = Date.now() + timeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (this.connections.size > 0) {
      this.options.logger.warn({ connections: this.connections.size }, "drain timed out; closing the rest");
      for (const c of this.connections) c.close();
    }
    await listening;
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const c of this.connections) c.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.options.path).catch(() => {});
  }
}
