// nft scripts asked for at about the same time go to the kernel as one
// transaction: one `nft -f` instead of one each. A restart recovering
// hundreds of containers, or many clients adding rules at once, pays for one
// process instead of hundreds. If the batch fails (one script is bad, and a
// transaction is all or nothing), each script is tried on its own, so each
// caller gets its own answer.
interface Pending {
  script: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class NftBatcher {
  private queue: Pending[] = [];
  private scheduled = false;

  /** `apply` hands one script to the kernel (nft -f). */
  constructor(private readonly apply: (script: string) => Promise<unknown>) {}

  run(script: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ script, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    if (batch.length === 1) {
      await this.apply(batch[0].script).then(() => batch[0].resolve(), batch[0].reject);
      return;
    }
    try {
      await this.apply(batch.map((p) => p.script).join(""));
      for (const p of batch) p.resolve();
    } catch {
      for (const p of batch) await this.apply(p.script).then(() => p.resolve(), p.reject);
    }
  }
}
