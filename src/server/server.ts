// The unix socket listener. It refuses to take over a socket another daemon
// still answers on, and removes a stale one.
import { chmod, lstat, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../core/interfaces.js";
import { Connection, type RequestHandler } from "./connection.js";

export interface ServerOptions {
  path: string;
  permissions: number;
  maxFrameBytes: number;
  handler: RequestHandler;
  logger: Logger;
  onOpen: () => number;
  onClose: (conn: number) => void;
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

  constructor(private readonly options: ServerOptions) {}

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
    const server = createServer((socket) => this.accept(socket));
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
    const id = this.options.onOpen();
    const conn = new Connection(socket, id, this.options.handler, this.options.maxFrameBytes, this.options.logger, (c) => {
      this.connections.delete(c);
      this.options.onClose(c.id);
    });
    this.connections.add(conn);
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
