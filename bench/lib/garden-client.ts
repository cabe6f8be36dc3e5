// A small Garden client speaking the wire protocol as Garden's Go client
// does: JSON routes over kept-alive HTTP, and Run as a hijacked connection
// ({"process_id","stream_id"}, then the stdout and stderr attach streams,
// then {"exit_status":N}). For measuring any Garden server side by side.
import { Agent, request } from "node:http";
import { createConnection, type Socket } from "node:net";

export type GardenAddress = { socketPath: string } | { host: string; port: number };

export interface RunResult {
  exitStatus: number;
  stdout: string;
  stderr: string;
  /** Bytes of stdout, counted (with `countOnly`, stdout itself is not kept). */
  stdoutBytes: number;
}

export class GardenClient {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });

  constructor(private readonly address: GardenAddress) {}

  close(): void {
    this.agent.destroy();
  }

  private json(method: string, path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          ...this.address,
          agent: this.agent,
          method,
          path,
          headers: { "Content-Type": "application/json", ...(payload ? { "Content-Length": payload.length } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (b: Buffer) => chunks.push(b));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString();
            if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
            else resolve(text.trim() ? JSON.parse(text) : {});
          });
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
  }

  async create(spec: Record<string, unknown> = {}): Promise<string> {
    return ((await this.json("POST", "/containers", spec)) as { Handle: string }).Handle;
  }

  async destroy(handle: string): Promise<void> {
    await this.json("DELETE", `/containers/${encodeURIComponent(handle)}`);
  }

  private connect(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const s = "socketPath" in this.address ? createConnection(this.address.socketPath) : createConnection({ port: this.address.port, host: this.address.host, noDelay: true });
      s.once("connect", () => resolve(s));
      s.once("error", reject);
    });
  }

  /** Sends a request on a connection of its own, reads past the response head, and hands the connection over. */
  private async hijack(method: string, path: string, body?: string): Promise<{ socket: Socket; status: number; rest: Buffer }> {
    const socket = await this.connect();
    const head = `${method} ${path} HTTP/1.1\r\nHost: garden\r\nContent-Type: application/json\r\n${body !== undefined ? `Content-Length: ${Buffer.byteLength(body)}\r\n` : ""}\r\n`;
    socket.write(head + (body ?? ""));
    let buffer = Buffer.alloc(0);
    for (;;) {
      const chunk: Buffer = await new Promise((resolve, reject) => {
        socket.once("data", resolve);
        socket.once("error", reject);
        socket.once("close", () => reject(new Error(`${method} ${path}: closed before an answer`)));
      });
      socket.removeAllListeners("error").removeAllListeners("close");
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end >= 0) {
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(buffer.subarray(0, end).toString())?.[1] ?? 0);
        socket.pause();
        return { socket, status, rest: buffer.subarray(end + 4) };
      }
    }
  }

  private async readAll(socket: Socket, first: Buffer, countOnly = false): Promise<{ text: string; bytes: number }> {
    const chunks = countOnly ? [] : [first];
    let bytes = first.length;
    socket.on("data", (b: Buffer) => {
      bytes += b.length;
      if (!countOnly) chunks.push(b);
    });
    socket.resume();
    await new Promise((r) => socket.once("close", r));
    return { text: Buffer.concat(chunks).toString(), bytes };
  }

  /** Runs a process to its end: its output from the attach streams, and its exit status. */
  async run(handle: string, spec: { path: string; args?: string[]; user?: string }, options: { countOnly?: boolean } = {}): Promise<RunResult> {
    const h = encodeURIComponent(handle);
    const main = await this.hijack("POST", `/containers/${h}/processes`, JSON.stringify({ ...spec, user: spec.user ?? "root" }));
    if (main.status >= 300) throw new Error(`run: ${main.status} ${(await this.readAll(main.socket, main.rest)).text}`);
    const lines = new LineReader(main.socket, main.rest);
    const { process_id: pid, stream_id: sid } = (await lines.next()) as { process_id: string; stream_id: string };
    const attach = async (name: string) => {
      const s = await this.hijack("GET", `/containers/${h}/processes/${encodeURIComponent(pid)}/attaches/${encodeURIComponent(sid)}/${name}`);
      return this.readAll(s.socket, s.rest, name === "stdout" && options.countOnly);
    };
    const [stdout, stderr] = await Promise.all([attach("stdout"), attach("stderr")]);
    for (;;) {
      const payload = (await lines.next()) as { exit_status?: number; error?: string };
      if (payload.error) throw new Error(`run: ${payload.error}`);
      if (payload.exit_status !== undefined) {
        main.socket.destroy();
        return { exitStatus: payload.exit_status, stdout: stdout.text, stderr: stderr.text, stdoutBytes: stdout.bytes };
      }
    }
  }
}

/** Newline-delimited JSON off a socket. */
class LineReader {
  private buffer: Buffer;
  private waiting: (() => void) | undefined;
  private ended = false;

  constructor(socket: Socket, first: Buffer) {
    this.buffer = first;
    socket.on("data", (b: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, b]);
      this.waiting?.();
    });
    socket.on("close", () => {
      this.ended = true;
      this.waiting?.();
    });
    socket.resume();
  }

  async next(): Promise<unknown> {
    for (;;) {
      const nl = this.buffer.indexOf("\n");
      if (nl >= 0) {
        const line = this.buffer.subarray(0, nl).toString();
        this.buffer = this.buffer.subarray(nl + 1);
        if (line.trim()) return JSON.parse(line);
        continue;
      }
      if (this.ended) throw new Error("the process stream ended without an exit status");
      await new Promise<void>((r) => (this.waiting = r));
      this.waiting = undefined;
    }
  }
}
