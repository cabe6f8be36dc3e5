import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Process } from "../../../../src/core/process/process.js";
import { MAX_ENDED_PROCESSES, ProcessTable } from "../../../../src/core/process/process-table.js";

const fake = (id: string, running: boolean) => ({ id, running }) as unknown as Process;

describe("process table", () => {
  it("finds processes by id and lists the running ones", () => {
    const t = new ProcessTable();
    t.add(fake("a", true));
    t.add(fake("b", false));
    assert.equal(t.get("a")!.id, "a");
    assert.equal(t.isRunning("a"), true);
    assert.equal(t.isRunning("b"), false);
    assert.deepEqual(t.runningIds(), ["a"]);
  });

  it("replaces an ended process under the same id, handing it back", () => {
    const t = new ProcessTable();
    const old = fake("web", false);
    t.add(old);
    const next = fake("web", true);
    assert.deepEqual(t.add(next), [old]);
    assert.equal(t.get("web"), next);
    assert.equal(t.delete(old), false, "the old one is not the one under the id any more");
    assert.equal(t.delete(next), true);
    assert.equal(t.size, 0);
  });

  it("keeps a bounded number of ended processes, dropping the oldest", () => {
    const t = new ProcessTable();
    for (let i = 0; i < MAX_ENDED_PROCESSES; i++) t.add(fake(`e${i}`, false));
    t.add(fake("r", true));
    const dropped = t.add(fake("one-more", false));
    assert.deepEqual(dropped.map((p) => p.id), ["e0"]);
    assert.equal(t.size, MAX_ENDED_PROCESSES + 1);
  });
});
