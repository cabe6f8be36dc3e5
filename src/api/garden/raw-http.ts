// The little of HTTP/1.1 Garden's process routes need. Garden's Go client
// "hijacks" their connections: it reads the response head, then the same
// connection carries newline-delimited JSON both ways (Run, Attach) or the
// raw bytes of a stream (stdout, stderr) until it closes. Node's HTTP server
// cannot hand a connection over after a response, so these requests are
// read here, from a fresh connection (the client dials one per hijack).
import type { Socket } from "node:net";

export interface RawRequest {
  method: string;
  /** The path, without the query. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
}

const MAX_HEAD = 64 * 1024;
const MAX_BODY = 1024 * 1024;

/** Where the request head ends in what was read so far, or -1. */
export function headEnd(buffer: Buffer): number {
  return buffer.indexOf("\r\n\r\n");
}

/** The request line's method and path, from the first bytes of a connection (undefined until a line is there). */
export function requestLine(buffer: Buffer): { method: string; path: string } | undefined {
  const eol = buffer.indexOf("\r\n");
  if (eol < 0) return undefined;
  const [method, target] = buffer.subarray(0, eol).toString("latin1").split(" ");
  if (!method || !target) return { method: method ?? "", path: "" };
  return { method, path: target.split("?")[0] };
}

export class RawRequestError extends Error {}

/**
 * Reads one request (head and a Content-Length body) from `socket`, given
 * what was read of it already. Resolves with the request and whatever
 * followed it (the client's first frames).
 */
export async function readRawRequest(socket: Socket, initial: Buffer): Promise<{ request: RawRequest; rest: Buffer }> {
  let buffer = initial;
  const more = () =>
    new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        cleanup();
        buffer = Buffer.concat([buffer, chunk]);
        resolve();
      };
      const onEnd = () => {
        cleanup();
        reject(new RawRequestError("the connection closed in the middle of a request"));
      };
      const cleanup = () => {
        socket.off("data", onData);
        socket.off("end", onEnd);
        socket.off("close", onEnd);
        socket.pause();
      };
      socket.on("data", onData);
      socket.on("end", onEnd);
      socket.on("close", onEnd);
      socket.resume();
    });
  while (headEnd(buffer) < 0) {
    if (buffer.length > MAX_HEAD) throw new RawRequestError("request head too large");
    await more();
  }
  const end = headEnd(buffer);
  const lines = buffer.subarray(0, end).toString("latin1").split("\r\n");
  const [method, target] = lines[0].split(" ");
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (headers["transfer-encoding"]) throw new RawRequestError("a chunked body is not taken on this route");
  const length = Number(headers["content-length"] ?? 0);
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_BODY) throw new RawRequestError("bad Content-Length");
  buffer = buffer.subarray(end + 4);
  while (buffer.length < length) await more();
  const url = new URL(target ?? "/", "http://garden");
  return {
    request: { method, path: url.pathname, query: url.searchParams, headers, body: buffer.subarray(0, length) },
    rest: buffer.subarray(length),
  };
}

const REASONS: Record<number, string> = { 200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error" };

// Go's httputil.ClientConn, which the client hijacks with, answers "persistent connection closed"
// to a response that will close its connection: one with "Connection: close", or with neither a
// length nor chunked encoding. Go's own server, hijacked after WriteHeader, sends its head as
// chunked; so does this one, and then speaks the hijacked protocol, not chunks.

/** A response head; what follows is the hijacked conversation, until the connection closes. */
export function writeHead(socket: Socket, status: number, contentType: string): void {
  socket.write(`HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\nContent-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\n\r\n`);
}

/** A whole JSON response, then the connection closes. */
export function writeJson(socket: Socket, status: number, body: string): void {
  const bytes = Buffer.from(body);
  socket.end(
    Buffer.concat([
      Buffer.from(`HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`),
      bytes,
    ]),
  );
}
