// Milliseconds per phase of an operation, for its log line.
export class PhaseTimer {
  private readonly started = performance.now();
  private readonly phases: Record<string, number> = {};

  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      this.phases[name] = Math.round(performance.now() - t);
    }
  }

  summary(): { ms: number; phases: Record<string, number> } {
    return { ms: Math.round(performance.now() - this.started), phases: this.phases };
  }
}

/** Resolves with the promise's value, or with undefined once `ms` have passed. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
