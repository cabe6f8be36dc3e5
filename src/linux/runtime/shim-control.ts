// The daemon's side of a shim's ctl.sock (see src/shim/warden-shim.c):
// frames of [type: 1 byte][length: 4 bytes, big-endian][payload]. One
// connection per process, opened when first needed. The connection that
// sent "attach stdin" owns standard input: when it closes (this daemon
// went away), the shim closes it too.
import { closeSync, openSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { drained } from "../../util/drained.js";

export const FRAME = { attachStdin: "i", data: "d", eof: "e", signal: "s", winsize: "w", reopenLog: "l" } as const;
type FrameType = (typeof FRAME)[keyof typeof FRAME];

/** Stdin goes in pieces no larger than the shim takes in one frame. */
export const MAX_FRAME_DATA = 512 * 1024;
// sun_path holds 107 bytes and a NUL.
const MAX_SOCKET_PATH = 107;

export function encodeFrame(type: FrameType, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, "latin1");
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

export function signalFrame(signal: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(signal);
  return encodeFrame(FRAME.signal, payload);
}

export function winsizeFrame(rows: number, columns: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt16BE(Math.min(rows, 0xffff), 0);
  payload.writeUInt16BE(Math.min(columns, 0xffff), 2);
  return encodeFrame(FRAME.winsize, payload);
}

/** A shim that is gone: the process has ended, nothing is left to tell. */
export class ShimGone extends Error {
  constructor(cause: unknown) {
    super(`the process's supervisor is gone: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "ShimGone";
  }
}

export class ShimControl {
  private socket: Promise<Socket> | undefined;
  private closed = false;

  constructor(private readonly dir: string) {}

  private connection(): Promise<Socket> {
    this.socket ??= new Promise<Socket>((resolve, reject) => {
      // A long directory is reached through a descriptor of it, so the path stays short.
      let dirFd: number | undefined;
      let path = join(this.dir, "ctl.sock");
      if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
        dirFd = openSync(this.dir, "r");
        path = `/proc/self/fd/${dirFd}/ctl.sock`;
      }
      const socket = connect(path);
      const done = () => {
        if (dirFd !== undefined) closeSync(dirFd);
        dirFd = undefined;
      };
      socket.once("connect", () => {
        done();
        socket.on("error", () => {});
        resolve(socket);
      });
      socket.once("error", (err) => {
        done();
        reject(new ShimGone(err));
      });
    });
    return this.socket;
  }

  private async send(frame: Buffer): Promise<void> {
    if (this.closed) throw new ShimGone("closed");
    const socket = await this.connection();
    if (socket.destroyed) throw new ShimGone("the connection closed");
    if (socket.write(frame)) return;
    await drained(socket);
  }

  attachStdin(): Promise<void> {
    return this.send(encodeFrame(FRAME.attachStdin));
  }

  async stdin(data: Buffer): Promise<void> {
    for (let at = 0; at < data.length; at += MAX_FRAME_DATA) {
      await this.send(encodeFrame(FRAME.data, data.subarray(at, at + MAX_FRAME_DATA)));
    }
  }

  closeStdin(): Promise<void> {
    return this.send(encodeFrame(FRAME.eof));
  }

  signal(signal: number): Promise<void> {
    return this.send(signalFrame(signal));
  }

  resize(rows: number, columns: number): Promise<void> {
    return this.send(winsizeFrame(rows, columns));
  }

  /** The shim opens its container log again (at its path: the old file was moved away). */
  reopenLog(): Promise<void> {
    return this.send(encodeFrame(FRAME.reopenLog));
  }

  close(): void {
    this.closed = true;
    void this.socket?.then(
      (s) => s.end(),
      () => {},
    );
  }
}
