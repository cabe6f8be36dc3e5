// Container records as JSON files in their depot directories, written
// atomically: a temporary file, fsync, rename. A daemon killed mid-write
// leaves the old record or the new one, never half of one.
import { open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Depot } from "../core/interfaces/depot.js";
import type { ContainerRecord, StateStore } from "../core/interfaces/state-store.js";

const RECORD = "state.json";
// Counters an earlier daemon may have written though this one never saved them.
const KNOWN_COUNTERS = ["process-seq", "job-ids"];

async function writeAtomically(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, "w", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}

export class FileStateStore implements StateStore {
  // Writes of one container go one after another; the last one wins.
  private readonly chains = new Map<string, Promise<void>>();
  private readonly counters = new Set<string>();

  constructor(
    private readonly depot: Depot,
    /** Where daemon-wide counters live (the depot's root). */
    private readonly root: string,
  ) {}

  save(record: ContainerRecord): Promise<void> {
    const text = `${JSON.stringify(record, null, 1)}\n`;
    const path = join(this.depot.path(record.id), RECORD);
    const previous = this.chains.get(record.id) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(() => writeAtomically(path, text));
    this.chains.set(record.id, next);
    void next.finally(() => {
      if (this.chains.get(record.id) === next) this.chains.delete(record.id);
    }).catch(() => {});
    return next;
  }

  async load(id: string): Promise<ContainerRecord | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.depot.path(id), RECORD), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
    return JSON.parse(text) as ContainerRecord;
  }

  async loadCounter(name: string): Promise<number> {
    try {
      const n = Number((await readFile(join(this.root, `.${name}`), "utf8")).trim());
      return Number.isSafeInteger(n) && n >= 0 ? n : 0;
    } catch {
      return 0;
    }
  }

  saveCounter(name: string, value: number): Promise<void> {
    this.counters.add(name);
    return writeAtomically(join(this.root, `.${name}`), `${value}\n`);
  }

  async clearCounters(): Promise<void> {
    for (const name of [...this.counters, ...KNOWN_COUNTERS]) await rm(join(this.root, `.${name}`), { force: true });
    this.counters.clear();
  }
}
