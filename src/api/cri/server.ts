// The CRI front end's gRPC server: runtime.v1's RuntimeService and
// ImageService on a unix socket (config `cri.socket`), the way a kubelet,
// crictl or critest dials it. Each call is decoded by the generated codec,
// answered by its handler, and a failure becomes a gRPC status (errors.ts);
// a method without a handler answers UNIMPLEMENTED, as the API expects of
// optional methods. The server knows gRPC, not Linux.
import { chmod, rm } from "node:fs/promises";
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "../../core/interfaces/logger.js";
import { imageService, runtimeService, type ImageHandlers, type RuntimeHandlers } from "./codec.js";
import { criError } from "./errors.js";

// Bigger requests than this are refused by gRPC before they are decoded.
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;
// What a response may carry: ExecSync's output is capped below it (16 MiB per stream, as the API asks).
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const SHUTDOWN_GRACE_MS = 2000;

export interface CriServerOptions {
  socketPath: string;
  socketPermissions?: number;
  runtime: RuntimeHandlers;
  images: ImageHandlers;
  logger: Logger;
}

type Unary = (request: unknown) => Promise<unknown>;

export class CriServer {
  private readonly server = new Server({
    "grpc.max_receive_message_length": MAX_REQUEST_BYTES,
    "grpc.max_send_message_length": MAX_RESPONSE_BYTES,
  });
  private listening = false;

  constructor(private readonly options: CriServerOptions) {
    this.server.addService(runtimeService, this.implement(Object.keys(runtimeService), options.runtime as Record<string, Unary | undefined>));
    this.server.addService(imageService, this.implement(Object.keys(imageService), options.images as Record<string, Unary | undefined>));
  }

  private implement(names: string[], handlers: Record<string, Unary | undefined>): UntypedServiceImplementation {
    const log = this.options.logger;
    const out: UntypedServiceImplementation = {};
    for (const name of names) {
      const handler = handlers[name];
      out[name] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        if (!handler) {
          callback({ code: status.UNIMPLEMENTED, details: `${name} is not implemented` });
          return;
        }
        const started = Date.now();
        handler(call.request).then(
          (response) => {
            log.debug({ api: "cri", method: name, ms: Date.now() - started }, "request answered");
            callback(null, response);
          },
          (err: unknown) => {
            const e = criError(err);
            log.info({ api: "cri", method: name, code: status[e.code], err: e.details }, "request failed");
            callback(e);
          },
        );
      };
    }
    return out;
  }

  async listen(): Promise<void> {
    const path = this.options.socketPath;
    // A socket left by a daemon that died is in the way; a live one answers Warden's socket first.
    await rm(path, { force: true });
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(`unix://${path}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    if (this.options.socketPermissions !== undefined) await chmod(path, this.options.socketPermissions);
    this.listening = true;
  }

  /** Stops taking calls; calls under way get a moment to finish. */
  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    await rm(this.options.socketPath, { force: true });
  }
}
