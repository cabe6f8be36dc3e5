// A hand-written AttachedProcess: output and the end are pushed by the test,
// what the client sent (stdin, its end, sizes) and an abandonment recorded.
import type { AttachedProcess, OutputName } from "../../../../../src/api/cri/streaming/remote-command.js";

export class FakeProcess implements AttachedProcess {
  readonly stdin: Buffer[] = [];
  stdinClosed = false;
  readonly sizes: Array<{ rows: number; columns: number }> = [];
  abandoned = false;
  private queue: Array<{ stream: OutputName; data: Buffer } | { end: number | undefined }> = [];
  private wake: (() => void) | undefined;

  emit(stream: OutputName, text: string | Buffer): void {
    this.queue.push({ stream, data: Buffer.from(text) });
    this.wake?.();
  }

  end(code: number | undefined): void {
    this.queue.push({ end: code });
    this.wake?.();
  }

  async *output(closed: AbortSignal): AsyncGenerator<{ stream: OutputName; data: Buffer }, number | undefined> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        if ("end" in next) return next.end;
        yield next;
        continue;
      }
      if (closed.aborted) throw new DOMException("the client went away", "AbortError");
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        closed.addEventListener("abort", () => resolve(), { once: true });
      });
      this.wake = undefined;
    }
  }

  async writeStdin(data: Buffer): Promise<void> {
    this.stdin.push(data);
  }

  async closeStdin(): Promise<void> {
    this.stdinClosed = true;
  }

  async resize(size: { rows: number; columns: number }): Promise<void> {
    this.sizes.push(size);
  }

  async abandon(): Promise<void> {
    this.abandoned = true;
  }
}
