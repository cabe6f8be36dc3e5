// Port forwarding over SPDY (also when the SPDY bytes ride in WebSocket
// messages): for each connection the client opens two streams with the same
// `port` and `requestid` headers, `error` then `data`. `data` is piped to
// the port in the pod's network; when either side is done the other is
// told, and `error` is ended, empty when all went well, with the reason
// when it did not (the client reports it and drops the session).
import type { Duplex } from "node:stream";
import type { SpdySession, SpdyStream } from "./spdy-session.js";

export const PORT_FORWARD_PROTOCOL = "portforward.k8s.io";

/** Opens a TCP connection to `port` in the pod's network. */
export type PortDialer = (port: number) => Duplex;

interface Pair {
  error?: SpdyStream;
  /** The connection is over (the error stream ends when it is there). */
  finished?: boolean;
  /** Why forwarding failed. */
  failure?: string;
  ended?: boolean;
}

export function servePortForward(session: SpdySession, dial: PortDialer): void {
  const pairs = new Map<string, Pair>();
  const pairOf = (id: string) => {
    let pair = pairs.get(id);
    if (!pair) pairs.set(id, (pair = {}));
    return pair;
  };
  // The error stream ends once per connection: with the failure's text, or empty.
  const settle = (id: string, failure?: string) => {
    const pair = pairOf(id);
    pair.finished = true;
    if (failure !== undefined) pair.failure ??= failure;
    if (!pair.error || pair.ended) return;
    pair.ended = true;
    const error = pair.error;
    void (async () => {
      if (pair.failure) await error.write(Buffer.from(pair.failure));
      await error.end();
      pairs.delete(id);
    })();
  };

  session.on("stream", (stream: SpdyStream) => {
    const type = stream.header("streamtype");
    const requestId = stream.header("requestid") ?? "";
    const port = Number(stream.header("port"));
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      void stream.reset();
      return;
    }
    if (type === "error") {
      const pair = pairOf(requestId);
      pair.error = stream;
      if (pair.finished) settle(requestId);
      return;
    }
    if (type !== "data") {
      void stream.reset();
      return;
    }
    let failed = false;
    let socket: Duplex;
    try {
      socket = dial(port);
    } catch (err) {
      // The pod went away meanwhile, say.
      settle(requestId, `error forwarding port ${port}: ${err instanceof Error ? err.message : String(err)}`);
      void stream.reset();
      return;
    }
    socket.on("data", (data: Buffer) => {
      socket.pause();
      void stream.write(data).then(() => socket.resume());
    });
    socket.on("end", () => {
      void stream.end().then(() => settle(requestId));
    });
    socket.on("error", (err) => {
      failed = true;
      settle(requestId, `error forwarding port ${port}: ${err.message}`);
      void stream.reset();
    });
    socket.on("close", () => {
      if (!failed) void stream.end().then(() => settle(requestId));
    });
    stream.on("data", (data: Buffer) => {
      if (!socket.destroyed) socket.write(data);
    });
    stream.on("end", () => {
      if (!socket.destroyed) socket.end();
    });
    stream.on("close", () => {
      socket.destroy();
      settle(requestId);
    });
  });
  session.once("close", () => pairs.clear());
}
