// A relay process (warden-relay) as one duplex stream: what is written goes
// to its stdin, what it prints comes out; ending the write side ends its
// stdin (a half-close). A relay that fails (a port that takes no connection)
// makes the stream fail with what the relay said; destroying the stream
// ends the relay.
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { Duplex } from "node:stream";

class RelayStream extends Duplex {
  private stderr = "";

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    super({ allowHalfOpen: true });
    child.stdout.on("data", (d: Buffer) => {
      if (!this.push(d)) child.stdout.pause();
    });
    child.stdout.on("end", () => this.push(null));
    child.stderr.on("data", (d: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += d.toString();
    });
    // Its own end says what happened; a write into a relay that is gone is no news.
    child.stdin.on("error", () => {});
    child.stdout.on("error", () => {});
    child.on("error", (err) => this.destroy(err));
    // "close", not "exit": by then all it said on stderr is read.
    child.on("close", (code) => {
      if (code !== 0 && !this.destroyed) this.destroy(new Error(this.stderr.trim().replace(/^warden-relay: /, "") || `the relay ended with ${code}`));
    });
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.child.stdin.destroyed) return done();
    this.child.stdin.write(chunk, () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.child.stdin.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    done(err);
  }
}

export function relayConnection(child: ChildProcessWithoutNullStreams): Duplex {
  return new RelayStream(child);
}
