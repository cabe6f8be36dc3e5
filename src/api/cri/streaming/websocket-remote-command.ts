// A remote command over WebSocket, subprotocol v5.channel.k8s.io: every
// message is binary, its first byte the channel (0 stdin, 1 stdout,
// 2 stderr, 3 error, 4 resize; 255 from the client half-closes the channel
// named by the next byte). The session ends with the Status on channel 3
// and a close with code 1000 (anything else fails the client).
import type { WebSocket } from "ws";
import { commandInput, failureStatus, serveRemoteCommand, type AttachedProcess } from "./remote-command.js";
import type { StreamFlags } from "./spdy-remote-command.js";

export const V5_PROTOCOL = "v5.channel.k8s.io";
const Channel = { stdin: 0, stdout: 1, stderr: 2, error: 3, resize: 4, close: 255 } as const;
const NORMAL_CLOSURE = 1000;

export function serveWebSocketRemoteCommand(
  ws: WebSocket,
  flags: StreamFlags,
  start: () => Promise<AttachedProcess>,
  onError: (err: unknown) => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const aborter = new AbortController();
    ws.once("close", () => {
      aborter.abort();
      resolve();
    });
    ws.on("error", onError);
    const send = (channel: number, data: Buffer) =>
      new Promise<void>((done) => {
        if (ws.readyState !== ws.OPEN) return done();
        ws.send(Buffer.concat([Buffer.of(channel), data]), { binary: true }, () => done());
      });

    const input = commandInput(onError);
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary || data.length === 0) return;
      const payload = data.subarray(1);
      switch (data[0]) {
        case Channel.stdin:
          if (flags.stdin && payload.length) input.stdin(Buffer.from(payload));
          return;
        case Channel.resize:
          if (flags.tty) input.resize(Buffer.from(payload));
          return;
        case Channel.close:
          if (payload[0] === Channel.stdin && flags.stdin) input.stdinEnd();
          return;
        default:
          // Output channels are ours; anything else is ignored, as the kubelet does.
          return;
      }
    });

    const finish = async (status: Record<string, unknown>) => {
      await send(Channel.error, Buffer.from(JSON.stringify(status)));
      if (ws.readyState === ws.OPEN) ws.close(NORMAL_CLOSURE);
    };

    void (async () => {
      let process: AttachedProcess;
      try {
        process = await start();
      } catch (err) {
        await finish(failureStatus(err instanceof Error ? err.message : String(err)));
        return;
      }
      input.attach(process);
      await serveRemoteCommand(process, {
        ...(flags.stdout ? { stdout: (data: Buffer) => send(Channel.stdout, data) } : {}),
        ...(flags.stderr && !flags.tty ? { stderr: (data: Buffer) => send(Channel.stderr, data) } : {}),
        closed: aborter.signal,
        finish,
      });
    })();
  });
}
