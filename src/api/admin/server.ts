// The daemon's admin channel: what Warden's protocol has no message for (the
// image store), as small JSON over HTTP on a unix socket beside Warden's,
// with the same permissions. `warden image ...` speaks it.
//
//   GET    /images                 [{name, id, size, holders}]
//   POST   /images/pull            {ref, username?, password?}: NDJSON lines
//                                  {"progress":{...}}, then {"image":{...}} or {"error":{...}}
//   DELETE /images/<ref or id>     {removed}
//   POST   /images/prune           {images, bytes}
//
// Errors are {"error":{code, message, detail?}} with a status for the code.
import { readBody } from "../http-body.js";
import { chmod, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { asCoreError, type ErrorCode } from "../../core/errors.js";
import type { Logger } from "../../core/interfaces/logger.js";
import type { ImageService } from "../../core/service/images.js";

const MAX_BODY = 64 * 1024;
const MAX_CONNECTIONS = 64;

const STATUS: Partial<Record<ErrorCode, number>> = {
  INVALID_REQUEST: 400,
  IMAGE_UNAUTHORIZED: 401,
  IMAGE_NOT_FOUND: 404,
  IMAGE_IN_USE: 409,
  IMAGE_INVALID: 422,
  DIGEST_MISMATCH: 502,
  REGISTRY_UNAVAILABLE: 502,
  SHUTTING_DOWN: 503,
};

export interface AdminServerOptions {
  path: string;
  permissions: number;
  images: ImageService;
  logger: Logger;
}

class BadRequest extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function errorBody(err: unknown): { status: number; body: object } {
  if (err instanceof BadRequest) return { status: err.status, body: { error: { code: "INVALID_REQUEST", message: err.message } } };
  const e = asCoreError(err);
  return { status: STATUS[e.code] ?? 500, body: { error: { code: e.code, message: e.message, ...(e.detail ? { detail: e.detail } : {}) } } };
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, MAX_BODY, () => new BadRequest(`the request body is larger than ${MAX_BODY} bytes`, 413));
  if (bytes.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new BadRequest("the request body is not JSON");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new BadRequest("the request body must be a JSON object");
  return value as Record<string, unknown>;
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new BadRequest(`${key} must be a string`);
  return v;
}

export class AdminServer {
  private server: Server | undefined;

  constructor(private readonly options: AdminServerOptions) {}

  async listen(): Promise<void> {
    await rm(this.options.path, { force: true });
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.maxConnections = MAX_CONNECTIONS;
    // A silent client holds a socket, not the daemon.
    this.server.requestTimeout = 60_000;
    this.server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.options.path, () => resolve());
    });
    await chmod(this.options.path, this.options.permissions);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(this.options.path, { force: true });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const log = this.options.logger;
    try {
      const url = new URL(req.url ?? "/", "http://admin");
      const route = `${req.method} ${url.pathname}`;
      if (route === "GET /images") return send(res, 200, await this.options.images.list());
      if (route === "POST /images/pull") return await this.pull(req, res);
      if (route === "POST /images/prune") return send(res, 200, await this.options.images.prune());
      if (req.method === "DELETE" && url.pathname.startsWith("/images/")) {
        const ref = decodeURIComponent(url.pathname.slice("/images/".length));
        return send(res, 200, { removed: await this.options.images.remove(ref) });
      }
      throw new BadRequest(`no route ${route}`, 404);
    } catch (err) {
      const { status, body } = errorBody(err);
      if (status >= 500) log.warn({ err: String(err), url: req.url }, "admin request failed");
      if (res.headersSent) res.end(`${JSON.stringify(body)}\n`);
      else send(res, status, body);
    }
  }

  private async pull(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    const ref = optionalString(body, "ref");
    if (!ref) throw new BadRequest("ref must name an image");
    const username = optionalString(body, "username");
    const password = optionalString(body, "password") ?? "";
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    const line = (value: object) => res.writable && res.write(`${JSON.stringify(value)}\n`);
    try {
      const image = await this.options.images.pull(ref, {
        credentials: username !== undefined ? { username, password } : undefined,
        onProgress: (progress) => line({ progress }),
      });
      res.end(`${JSON.stringify({ image: { name: image.name, id: image.id, layers: image.layers.length, config: image.config } })}\n`);
    } catch (err) {
      res.end(`${JSON.stringify(errorBody(err).body)}\n`);
    }
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}
