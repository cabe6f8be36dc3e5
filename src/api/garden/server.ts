// Garden's HTTP API on a unix socket and, when configured, on TCP. Each
// connection's first request line says where it goes: the process routes,
// whose connections the client hijacks, are read by raw-http.ts; everything
// else goes to Node's HTTP server. Garden's API has no authentication: who
// reaches it is root on the host, so TCP is off unless configured.
import { chmod, rm } from "node:fs/promises";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Logger } from "../../core/interfaces/logger.js";
import type { ContainerService } from "../../core/service/container-service.js";
import { GardenProcesses, isProcessRoute } from "./processes.js";
import { readRawRequest, requestLine, RawRequestError, writeJson } from "./raw-http.js";
import { GardenRoutes, type GardenRoutesConfig } from "./routes.js";

export interface GardenServerOptions extends GardenRoutesConfig {
  socketPath?: string;
  socketPermissions: number;
  bindIp?: string;
  bindPort?: number;
  service: ContainerService;
  logger: Logger;
  maxConnections: number;
}

// A client that says nothing for this long is let go.
const HEAD_TIMEOUT_MS = 30_000;
const MAX_FIRST_LINE = 16 * 1024;

export class GardenServer {
  private readonly http: HttpServer;
  private readonly listeners: NetServer[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly routes: GardenRoutes;
  private readonly processes: GardenProcesses;

  constructor(private readonly options: GardenServerOptions) {
    this.routes = new GardenRoutes(options.service, options);
    this.processes = new GardenProcesses(options.service, options.logger.child({ api: "garden" }));
    this.http = createHttpServer((req, res) => void this.routes.serve(req, res));
    this.http.headersTimeout = HEAD_TIMEOUT_MS;
    this.http.requestTimeout = 0; // StreamIn and StreamOut may take long; silence is bounded by the socket timeout
    this.http.keepAliveTimeout = 5_000;
    this.http.on("clientError", (_err, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
  }

  /** Where it listens, for the log. */
  get addresses(): string[] {
    return [
      ...(this.options.socketPath ? [this.options.socketPath] : []),
      ...(this.options.bindPort !== undefined ? [`${this.options.bindIp ?? "127.0.0.1"}:${this.options.bindPort}`] : []),
    ];
  }

  async listen(): Promise<void> {
    const { socketPath, bindPort } = this.options;
    if (socketPath) {
      await rm(socketPath, { force: true });
      await this.start((s) => s.listen(socketPath));
      await chmod(socketPath, this.options.socketPermissions);
    }
    if (bindPort !== undefined) await this.start((s) => s.listen(bindPort, this.options.bindIp ?? "127.0.0.1"));
  }

  private async start(listen: (s: NetServer) => void): Promise<void> {
    // No Nagle: frames and small answers go out at once (Go, the usual client, sets TCP_NODELAY too).
    const server = createNetServer({ noDelay: true }, (socket) => this.accept(socket));
    server.maxConnections = this.options.maxConnections;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.once("listening", () => {
        server.off("error", reject);
        resolve();
      });
      listen(server);
    });
    this.listeners.push(server);
  }

  async close(): Promise<void> {
    await Promise.all(this.listeners.map((s) => new Promise((r) => s.close(r))));
    for (const socket of this.sockets) socket.destroy();
    this.http.closeAllConnections();
    if (this.options.socketPath) await rm(this.options.socketPath, { force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => {});
    socket.setTimeout(HEAD_TIMEOUT_MS, () => socket.destroy());
    let seen = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const line = requestLine(seen);
      if (!line) {
        if (seen.length > MAX_FIRST_LINE) socket.destroy();
        return;
      }
      socket.off("data", onData);
      socket.pause();
      if (isProcessRoute(line.method, line.path)) void this.raw(socket, seen);
      else {
        socket.setTimeout(0);
        socket.unshift(seen);
        this.http.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
  }

  private async raw(socket: Socket, seen: Buffer): Promise<void> {
    try {
      const { request, rest } = await readRawRequest(socket, seen);
      // A hijacked conversation may be silent for as long as its process runs.
      socket.setTimeout(0);
      await this.processes.handle(socket, request, rest);
    } catch (err) {
      if (err instanceof RawRequestError && socket.writable) {
        writeJson(socket, 400, `${JSON.stringify({ Type: "", Message: err.message, Handle: "", ProcessID: "", Binary: "" })}\n`);
      } else {
        this.options.logger.warn({ err: String(err) }, "a Garden process request failed");
        socket.destroy();
      }
    }
  }
}
