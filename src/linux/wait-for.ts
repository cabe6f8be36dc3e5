// Waits for something to appear in a directory: inotify (fs.watch) wakes us
// at once, a slow poll covers events the watch cannot see (a file written
// before the watch existed, a process that died).
import { watch } from "node:fs";

export class WaitTimeout extends Error {
  constructor(what: string, ms: number) {
    super(`timed out after ${ms} ms waiting for ${what}`);
    this.name = "WaitTimeout";
  }
}

export function waitFor<T>(
  dir: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs: number; pollMs?: number; what: string },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let running = false;
    let again = false;
    const watcher = watch(dir, () => void tick());
    watcher.on("error", () => {
      /* the directory went away; the poll or the timeout ends the wait */
    });
    const poll = setInterval(() => void tick(), options.pollMs ?? 50);
    const timer = setTimeout(() => finish(new WaitTimeout(options.what, options.timeoutMs)), options.timeoutMs);

    function finish(err: unknown, value?: T): void {
      if (done) return;
      done = true;
      watcher.close();
      clearInterval(poll);
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(value as T);
    }

    async function tick(): Promise<void> {
      if (done) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        const value = await check();
        if (value !== undefined) finish(undefined, value);
      } catch (err) {
        finish(err);
      } finally {
        running = false;
      }
      if (again && !done) {
        again = false;
        void tick();
      }
    }

    void tick();
  });
}
