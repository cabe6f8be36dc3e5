// Backpressure for a stream written by hand: the writer waits until the
// stream takes more, or is gone (then there is nothing left to wait for).
import type { Writable } from "node:stream";

/** Resolves when `w` drains, closes or fails. */
export function drained(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      w.off("drain", done);
      w.off("close", done);
      w.off("error", done);
      resolve();
    };
    w.on("drain", done);
    w.on("close", done);
    w.on("error", done);
  });
}
