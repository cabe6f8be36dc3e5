// The CRI's streaming server: Exec, Attach and PortForward answer a URL of
// this server, good once and for a minute; the client upgrades a request
// to it, to SPDY/3.1 (POST, the default of every Kubernetes client) or to a
// WebSocket (GET: v5.channel.k8s.io for exec and attach, SPDY frames
// tunnelled in binary messages for port forwarding). Everything the session
// needs is behind the URL's token, as the clients send nothing else.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { status as grpcStatus } from "@grpc/grpc-js";
import { WebSocketServer, type WebSocket } from "ws";
import type { Logger } from "../../../core/interfaces/logger.js";
import { drained } from "../../../util/drained.js";
import { CriRequestError } from "../errors.js";
import { PORT_FORWARD_PROTOCOL, servePortForward, type PortDialer } from "./port-forward.js";
import type { AttachedProcess } from "./remote-command.js";
import { serveSpdyRemoteCommand, type StreamFlags } from "./spdy-remote-command.js";
import { SpdySession, type ByteTransport } from "./spdy-session.js";
import { serveWebSocketRemoteCommand, V5_PROTOCOL } from "./websocket-remote-command.js";

export type StreamRequest =
  | { kind: "exec" | "attach"; containerId: string; flags: StreamFlags; start: () => Promise<AttachedProcess> }
  | { kind: "portforward"; sandboxId: string; dial: PortDialer };

const TOKEN_TTL_MS = 60_000;
/** URLs kept waiting for their clients at most. */
export const MAX_PENDING_STREAMS = 4096;
// Remote-command versions spoken over SPDY, best first (v5 and v4 are the same there: v5's close signal is WebSocket's).
const SPDY_COMMAND_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"];
const TUNNELLED_PORT_FORWARD = `SPDY/3.1+${PORT_FORWARD_PROTOCOL}`;

export interface StreamingServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** How long a URL is good for (default a minute, as the kubelet's). */
  urlTtlMs?: number;
}

function headerList(value: string | string[] | undefined): string[] {
  const all = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return all.flatMap((v) => v.split(",")).map((v) => v.trim()).filter(Boolean);
}

function refuse(socket: Duplex, code: number, reason: string, message: string): void {
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(message)}\r\nConnection: close\r\n\r\n${message}`);
}

function socketTransport(socket: Socket): ByteTransport {
  return {
    write: (pieces) =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) return resolve();
        socket.cork();
        for (const piece of pieces) socket.write(piece);
        socket.uncork();
        if (!socket.writableNeedDrain) return resolve();
        void drained(socket).then(resolve);
      }),
    close: () => socket.end(),
  };
}

function webSocketTransport(ws: WebSocket): ByteTransport {
  return {
    write: (pieces) =>
      new Promise<void>((resolve) => {
        if (ws.readyState !== ws.OPEN) return resolve();
        ws.send(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), { binary: true }, () => resolve());
      }),
    close: () => {
      if (ws.readyState === ws.OPEN) ws.close(1000);
    },
  };
}

export class StreamingServer {
  private readonly server: Server = createServer((_req, res) => {
    res.writeHead(400, { "Content-Type": "text/plain" }).end("this server takes protocol upgrades only (SPDY/3.1 or WebSocket)\n");
  });
  // The subprotocol each upgrade gets, chosen before the library sees the request (see upgrade()).
  private readonly chosen = new WeakMap<IncomingMessage, string>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 16 * 1024 * 1024,
    handleProtocols: (_offered, req) => this.chosen.get(req) ?? false,
  });
  private readonly pending = new Map<string, { request: StreamRequest; expires: number }>();
  private readonly sockets = new Set<Duplex>();
  private base = "";

  constructor(private readonly options: StreamingServerOptions) {
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    this.server.on("connection", (socket: Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.base = `http://${address.address}:${address.port}`;
  }

  /** A URL for the request, good once within a minute. */
  register(request: StreamRequest): string {
    const now = Date.now();
    for (const [token, entry] of this.pending) if (entry.expires <= now) this.pending.delete(token);
    if (this.pending.size >= MAX_PENDING_STREAMS) {
      throw new CriRequestError(`${MAX_PENDING_STREAMS} streaming requests are waiting for their clients already`, grpcStatus.RESOURCE_EXHAUSTED);
    }
    const token = randomBytes(18).toString("base64url");
    this.pending.set(token, { request, expires: now + (this.options.urlTtlMs ?? TOKEN_TTL_MS) });
    return `${this.base}/${request.kind}/${token}`;
  }

  async close(): Promise<void> {
    this.pending.clear();
    for (const ws of this.wss.clients) ws.terminate();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private take(req: IncomingMessage): StreamRequest | undefined {
    const match = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)$/.exec(new URL(req.url ?? "/", "http://x").pathname);
    if (!match) return undefined;
    const entry = this.pending.get(match[2]!);
    if (!entry || entry.request.kind !== match[1] || entry.expires <= Date.now()) return undefined;
    this.pending.delete(match[2]!);
    return entry.request;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    const request = this.take(req);
    if (!request) return refuse(socket, 404, "Not Found", "no such streaming session (the URL is good once, for a minute)\n");
    const log = this.options.logger.child({ api: "cri", stream: request.kind, ...(request.kind === "portforward" ? { handle: request.sandboxId } : { container: request.containerId }) });
    const onError = (err: unknown) => log.info({ err: err instanceof Error ? err.message : String(err) }, "streaming session error");
    const upgrade = (req.headers.upgrade ?? "").toLowerCase();

    if (upgrade === "websocket") {
      const wanted = request.kind === "portforward" ? TUNNELLED_PORT_FORWARD : V5_PROTOCOL;
      if (!headerList(req.headers["sec-websocket-protocol"]).includes(wanted)) {
        return refuse(socket, 400, "Bad Request", `the WebSocket subprotocol must be ${wanted}\n`);
      }
      // "SPDY/3.1+portforward.k8s.io" has a "/", which is no token character: the library would refuse
      // the header, so it sees a stand-in and answers the protocol chosen here.
      this.chosen.set(req, wanted);
      req.headers["sec-websocket-protocol"] = "chosen";
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        log.debug({ protocol: ws.protocol }, "streaming session started");
        if (request.kind === "portforward") {
          const session = new SpdySession(webSocketTransport(ws));
          session.on("protocolError", onError);
          ws.on("message", (data: Buffer, isBinary: boolean) => (isBinary ? session.receive(data) : session.shutDown()));
          ws.on("close", () => session.shutDown());
          ws.on("error", onError);
          servePortForward(session, request.dial);
        } else {
          void serveWebSocketRemoteCommand(ws, request.flags, request.start, onError).then(() => log.debug({}, "streaming session ended"));
        }
      });
      return;
    }

    if (upgrade === "spdy/3.1") {
      const offered = headerList(req.headers["x-stream-protocol-version"]);
      const protocol = request.kind === "portforward" ? (offered.includes(PORT_FORWARD_PROTOCOL) ? PORT_FORWARD_PROTOCOL : undefined) : SPDY_COMMAND_PROTOCOLS.find((p) => offered.includes(p));
      if (!protocol) return refuse(socket, 403, "Forbidden", `none of the offered stream protocols (${offered.join(", ")}) is spoken here\n`);
      const tcp = socket as Socket;
      tcp.setNoDelay(true);
      tcp.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`);
      const session = new SpdySession(socketTransport(tcp));
      session.on("protocolError", onError);
      tcp.on("data", (chunk: Buffer) => session.receive(chunk));
      tcp.on("close", () => session.shutDown());
      log.debug({ protocol }, "streaming session started");
      if (request.kind === "portforward") servePortForward(session, request.dial);
      else void serveSpdyRemoteCommand(session, request.flags, request.start, onError).then(() => log.debug({}, "streaming session ended"));
      if (head.length) session.receive(head);
      return;
    }
    refuse(socket, 400, "Bad Request", "upgrade to SPDY/3.1 or to a WebSocket\n");
  }
}
