// The processes of one container, by id. An id is unique among running
// processes; one that ended keeps its id until it is forgotten or replaced.
import type { Process } from "./process.js";

/** Ended processes kept per container for late attachers; the oldest go first past it. */
export const MAX_ENDED_PROCESSES = 1000;

export class ProcessTable {
  private readonly byId = new Map<string, Process>();

  get(id: string): Process | undefined {
    return this.byId.get(id);
  }

  /** Whether a running process has this id. */
  isRunning(id: string): boolean {
    return this.byId.get(id)?.running ?? false;
  }

  /** Adds a process; returns one that ended under the same id, now replaced, and ended ones beyond the bound. */
  add(process: Process): Process[] {
    const dropped: Process[] = [];
    const previous = this.byId.get(process.id);
    if (previous) {
      this.byId.delete(process.id);
      dropped.push(previous);
    }
    this.byId.set(process.id, process);
    const ended = [...this.byId.values()].filter((p) => !p.running);
    for (const p of ended.slice(0, Math.max(0, ended.length - MAX_ENDED_PROCESSES))) {
      this.byId.delete(p.id);
      dropped.push(p);
    }
    return dropped;
  }

  /** Removes the process if it is this one (not a later one under the same id). */
  delete(process: Process): boolean {
    if (this.byId.get(process.id) !== process) return false;
    this.byId.delete(process.id);
    return true;
  }

  runningIds(): string[] {
    return [...this.byId.values()].filter((p) => p.running).map((p) => p.id);
  }

  all(): Process[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }
}
