// Garden's process routes over hijacked connections (garden's
// transport/payload.go and server/request_handling.go):
//
//   POST /containers/:handle/processes               Run: 201, then {"process_id","stream_id"}
//   GET  /containers/:handle/processes/:pid          Attach: 200, then the same
//   GET  .../processes/:pid/attaches/:sid/stdout      the process's stdout, raw, until it ends
//   GET  .../processes/:pid/attaches/:sid/stderr      its stderr
//
// On Run and Attach the client then sends {"source":0,"data":"..."} (stdin;
// no data closes it), {"tty":{"window_size":...}} and {"signal":0|1}; the
// server ends with {"exit_status":N} (128+N for a signal) or {"error":"..."}.
// A process outlives its connections; any number of clients may attach.
import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import type { Logger } from "../../core/interfaces/logger.js";
import type { ProcessExit } from "../../core/interfaces/runtime.js";
import type { ContainerService, ProcessRef } from "../../core/service/container-service.js";
import { gardenError } from "./errors.js";
import { writeHead, writeJson, type RawRequest } from "./raw-http.js";
import { parse, processSpec, processSpecSchema } from "./wire.js";

const RUN = /^\/containers\/([^/]+)\/processes$/;
const ATTACH = /^\/containers\/([^/]+)\/processes\/([^/]+)$/;
const OUTPUT = /^\/containers\/([^/]+)\/processes\/([^/]+)\/attaches\/[^/]+\/(stdout|stderr)$/;
const MAX_FRAME = 1024 * 1024;

/** Whether a request line is one of the hijacked routes. */
export function isProcessRoute(method: string, path: string): boolean {
  return (method === "POST" && RUN.test(path)) || (method === "GET" && (ATTACH.test(path) || OUTPUT.test(path)));
}

/** Garden's exit status: the code, or 128 + the signal. */
export function exitStatus(exit: ProcessExit): number {
  if (exit.kind === "exited") return exit.code;
  if (exit.kind === "signaled") return 128 + exit.signal;
  return 255;
}

const decode = (segment: string) => {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
};

export class GardenProcesses {
  constructor(
    private readonly service: ContainerService,
    private readonly log: Logger,
  ) {}

  async handle(socket: Socket, request: RawRequest, rest: Buffer): Promise<void> {
    const { method, path } = request;
    let m: RegExpExecArray | null;
    if (method === "POST" && (m = RUN.exec(path))) return this.run(socket, decode(m[1]), request.body, rest);
    if (method === "GET" && (m = OUTPUT.exec(path))) return this.output(socket, decode(m[1]), decode(m[2]), m[3] as "stdout" | "stderr");
    if (method === "GET" && (m = ATTACH.exec(path))) return this.attach(socket, decode(m[1]), decode(m[2]), rest);
  }

  private fail(socket: Socket, err: unknown): void {
    const { status, body } = gardenError(err);
    writeJson(socket, status, `${JSON.stringify(body)}\n`);
  }

  private async run(socket: Socket, handle: string, body: Buffer, rest: Buffer): Promise<void> {
    let release: (() => void) | undefined;
    let ref: ProcessRef;
    try {
      release = this.service.hold(handle);
      let json: unknown;
      try {
        json = JSON.parse(body.toString("utf8"));
      } catch {
        throw new SyntaxError("the process spec is not JSON");
      }
      ref = await this.service.run(handle, processSpec(parse(processSpecSchema, json, "the process spec")));
    } catch (err) {
      release?.();
      if (err instanceof SyntaxError) return writeJson(socket, 400, `${JSON.stringify({ Type: "", Message: err.message, Handle: "", ProcessID: "", Binary: "" })}\n`);
      return this.fail(socket, err);
    }
    writeHead(socket, 201, "application/json");
    await this.converse(socket, ref, rest, true, release);
  }

  /** The process, with a hold on its container; undefined once the client was told why not. */
  private held(socket: Socket, handle: string, pid: string): { ref: ProcessRef; release: () => void } | undefined {
    let release: (() => void) | undefined;
    try {
      release = this.service.hold(handle);
      return { ref: this.service.process(handle, pid), release };
    } catch (err) {
      release?.();
      this.fail(socket, err);
      return undefined;
    }
  }

  private async attach(socket: Socket, handle: string, pid: string, rest: Buffer): Promise<void> {
    const held = this.held(socket, handle, pid);
    if (!held) return;
    writeHead(socket, 200, "application/json");
    await this.converse(socket, held.ref, rest, false, held.release);
  }

  /** The control conversation: frames in (stdin, window size, signals), the end out. */
  private async converse(socket: Socket, ref: ProcessRef, rest: Buffer, ownsStdin: boolean, release: () => void): Promise<void> {
    const log = this.log.child({ process: ref.id });
    socket.write(`${JSON.stringify({ process_id: ref.id, stream_id: randomUUID() })}\n`);
    let pending = rest.toString("utf8");
    let closed = false;
    // Frames are applied in order: stdin bytes, then the close that follows them.
    let queue = Promise.resolve();
    const apply = (line: string) => {
      let frame: { source?: number; data?: string; tty?: { window_size?: { columns?: number; rows?: number } }; signal?: number };
      try {
        frame = JSON.parse(line);
      } catch {
        log.warn({ frame: line.slice(0, 200) }, "a process frame that is not JSON; ignored");
        return;
      }
      queue = queue.then(async () => {
        try {
          if (frame.tty) {
            const size = frame.tty.window_size;
            if (size) await ref.resize({ columns: size.columns ?? 80, rows: size.rows ?? 24 });
          } else if (frame.source !== undefined) {
            if (typeof frame.data === "string") await ref.writeStdin(Buffer.from(frame.data, "utf8"));
            else await ref.closeStdin();
          } else if (frame.signal !== undefined) {
            await ref.signal(frame.signal === 1 ? "KILL" : "TERM");
          }
        } catch (err) {
          log.debug({ err: String(err) }, "a process frame could not be applied");
        }
      });
    };
    const feed = (text: string) => {
      pending += text;
      if (pending.length > MAX_FRAME && !pending.includes("\n")) {
        log.warn({}, "a process frame too large; closing the connection");
        socket.destroy();
        return;
      }
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line) apply(line);
      }
    };
    feed("");
    socket.setEncoding("utf8");
    socket.on("data", feed);
    const gone = new Promise<void>((resolve) => {
      const done = () => {
        closed = true;
        resolve();
      };
      socket.once("close", done);
      socket.once("end", done);
      socket.once("error", done);
    });
    socket.resume();
    const aborted = new AbortController();
    try {
      const outcome = await Promise.race([ref.wait(aborted.signal).then((r) => ({ result: r })), gone.then(() => undefined)]);
      if (outcome && !closed) {
        await queue;
        socket.end(`${JSON.stringify({ process_id: ref.id, exit_status: exitStatus(outcome.result.exit) })}\n`);
      }
    } catch (err) {
      if (!closed) socket.end(`${JSON.stringify({ process_id: ref.id, error: err instanceof Error ? err.message : String(err) })}\n`);
    } finally {
      aborted.abort();
      // The client that started the process left: its standard input ends, as Garden's does.
      if (closed && ownsStdin) await queue.then(() => ref.closeStdin()).catch(() => {});
      release();
    }
  }

  /** One stream of the process's output, from what is kept, until it ends. */
  private async output(socket: Socket, handle: string, pid: string, which: "stdout" | "stderr"): Promise<void> {
    const held = this.held(socket, handle, pid);
    if (!held) return;
    const { ref, release } = held;
    writeHead(socket, 200, "application/octet-stream");
    const aborted = new AbortController();
    socket.once("close", () => aborted.abort());
    try {
      for await (const chunk of ref.attach(aborted.signal)) {
        if (chunk.stream !== which) continue;
        if (!socket.write(chunk.data)) {
          await new Promise<void>((resolve) => {
            socket.once("drain", resolve);
            socket.once("close", resolve);
          });
        }
        if (aborted.signal.aborted) break;
      }
    } catch (err) {
      if (!aborted.signal.aborted) this.log.debug({ err: String(err), process: pid }, "an output stream ended early");
    } finally {
      release();
      socket.end();
    }
  }
}
