// A remote command over SPDY: the client opens one stream per channel, named
// by its `streamtype` header (error, stdin, stdout, stderr, resize), one at
// a time. Once every stream the request asked for is there, the command
// runs; the session ends with the Status on `error`, every stream we hold
// half-closed and the connection closed, as the kubelet does.
import { commandInput, failureStatus, serveRemoteCommand, type AttachedProcess } from "./remote-command.js";
import type { SpdySession, SpdyStream } from "./spdy-session.js";

/** What the request asked for (the streams the client will open). */
export interface StreamFlags {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

// How long the client has to open every stream it should (the kubelet's figure).
const STREAMS_TIMEOUT_MS = 30_000;

export function expectedStreams(flags: StreamFlags): string[] {
  return [
    "error",
    ...(flags.stdin ? ["stdin"] : []),
    ...(flags.stdout ? ["stdout"] : []),
    // On a terminal stderr is stdout.
    ...(flags.stderr && !flags.tty ? ["stderr"] : []),
    ...(flags.tty ? ["resize"] : []),
  ];
}

/**
 * Waits for the request's streams on `session`, then runs the process
 * `start` gives and serves it. Resolves when the session is over.
 */
export function serveSpdyRemoteCommand(
  session: SpdySession,
  flags: StreamFlags,
  start: () => Promise<AttachedProcess>,
  onError: (err: unknown) => void,
  streamsTimeoutMs = STREAMS_TIMEOUT_MS,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const wanted = new Set(expectedStreams(flags));
    const streams = new Map<string, SpdyStream>();
    const aborter = new AbortController();
    // A client that never opens every stream it should holds nothing for long.
    const timer = setTimeout(() => void session.close(), streamsTimeoutMs);
    session.once("close", () => {
      clearTimeout(timer);
      aborter.abort();
      resolve();
    });
    const input = commandInput(onError);

    session.on("stream", (stream: SpdyStream) => {
      const type = stream.header("streamtype") ?? "";
      if (!wanted.has(type) || streams.has(type)) {
        void stream.reset();
        return;
      }
      streams.set(type, stream);
      if (type === "stdin") {
        stream.on("data", (data: Buffer) => input.stdin(data));
        stream.on("end", () => input.stdinEnd());
      } else if (type === "resize") {
        stream.on("data", (data: Buffer) => input.resize(data));
      }
      if (streams.size === wanted.size) {
        clearTimeout(timer);
        void run();
      }
    });

    const run = async () => {
      const errorStream = streams.get("error")!;
      let process: AttachedProcess;
      try {
        process = await start();
      } catch (err) {
        await errorStream.write(Buffer.from(JSON.stringify(failureStatus(err instanceof Error ? err.message : String(err)))));
        await endAll();
        return;
      }
      input.attach(process);
      const writer = (name: string) => {
        const stream = streams.get(name);
        return stream ? (data: Buffer) => stream.write(data) : undefined;
      };
      const stdout = writer("stdout");
      const stderr = writer("stderr");
      await serveRemoteCommand(process, {
        ...(stdout ? { stdout } : {}),
        ...(stderr ? { stderr } : {}),
        closed: aborter.signal,
        finish: async (status) => {
          await errorStream.write(Buffer.from(JSON.stringify(status)));
          await endAll();
        },
      });
    };

    const endAll = async () => {
      for (const stream of streams.values()) await stream.end();
      await session.close();
    };
  });
}
