// Warden's framing read straight off a socket (net's `onread`): the socket
// asks where its next read goes. Prefixes and small frames go through one
// scratch buffer; a large frame's body (megabytes of a job's output) is read
// by the kernel straight into a buffer of its own, handed out as it is.
// Nothing is allocated per read and no large body is copied: a client
// streaming 50 MB kept V8's collector busier than its own work with the
// 64 KiB buffers of each read and the copies that joined them into frames.
import { FrameError } from "./frame.js";

const CR = 0x0d;
const LF = 0x0a;
// 20 digits cover every uint64; a longer prefix is garbage.
const MAX_PREFIX = 22;
// Bodies at least this long are read into their own buffer.
const LARGE_BODY = 16 * 1024;
const SCRATCH_BYTES = 64 * 1024;

export class FrameReader {
  private scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  /** Unconsumed bytes of the scratch buffer: [start, end). */
  private start = 0;
  private end = 0;
  /** A large body being read in place, and how much of it is there. */
  private body: Buffer | undefined;
  private filled = 0;
  /** The CRLF after a body is still to come. */
  private trailer = false;
  private failed = false;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onFrame: (frame: Buffer) => void,
  ) {}

  /** Where the socket's next read goes. */
  target(): Buffer {
    if (this.body) return this.body.subarray(this.filled);
    if (this.end === this.scratch.length) this.compact();
    return this.scratch.subarray(this.end);
  }

  /** `n` bytes were read into the last target; frames complete now are handed out. Throws FrameError on garbage, after which it takes nothing. */
  wrote(n: number): void {
    if (this.failed) throw new FrameError("reader already failed");
    if (this.body) {
      this.filled += n;
      if (this.filled < this.body.length) return;
      const body = this.body;
      this.body = undefined;
      this.trailer = true;
      this.onFrame(body);
      return;
    }
    this.end += n;
    try {
      this.parse();
    } catch (err) {
      this.failed = true;
      throw err;
    }
  }

  private parse(): void {
    const s = this.scratch;
    for (;;) {
      if (this.trailer) {
        if (this.end - this.start < 2) return;
        if (s[this.start] !== CR || s[this.start + 1] !== LF) throw new FrameError("frame is not terminated by CRLF");
        this.start += 2;
        this.trailer = false;
      }
      if (this.start === this.end) {
        this.start = this.end = 0;
        return;
      }
      const limit = Math.min(this.end, this.start + MAX_PREFIX);
      let crlf = -1;
      for (let i = this.start; i < limit; i++) {
        const c = s[i];
        if (c === CR) {
          crlf = i;
          break;
        }
        if (c < 0x30 || c > 0x39) throw new FrameError("frame length prefix is not a number");
      }
      if (crlf < 0) {
        if (limit - this.start >= MAX_PREFIX) throw new FrameError("frame length prefix is not a number");
        return;
      }
      if (crlf + 1 >= this.end) return;
      if (crlf === this.start || s[crlf + 1] !== LF) throw new FrameError("frame length prefix is not a number");
      const length = Number(s.toString("latin1", this.start, crlf));
      if (length > this.maxFrameBytes) throw new FrameError(`frame of ${length} bytes exceeds the maximum of ${this.maxFrameBytes} bytes`);
      const from = crlf + 2;
      const there = this.end - from;
      if (there >= length) {
        // Whole in the scratch buffer: copied out, the scratch is used again.
        this.start = from + length;
        this.trailer = true;
        this.onFrame(Buffer.from(s.subarray(from, from + length)));
        continue;
      }
      if (length >= LARGE_BODY || from - this.start + length > s.length) {
        // The rest of it is read in place.
        this.body = Buffer.allocUnsafe(length);
        s.copy(this.body, 0, from, this.end);
        this.filled = there;
        this.start = this.end = 0;
        return;
      }
      // A small frame not all there: the scratch buffer keeps it, at its start.
      this.compact();
      return;
    }
  }

  private compact(): void {
    if (this.start === 0) return;
    this.scratch.copy(this.scratch, 0, this.start, this.end);
    this.end -= this.start;
    this.start = 0;
  }
}
