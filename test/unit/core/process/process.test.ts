import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Process, type OutputChunk } from "../../../../src/core/process/process.js";
import type { OutputPolicy } from "../../../../src/core/process/spec.js";
import { FakeProcess, FakeProcessLog, nullLogger, settle } from "../../../fakes/fakes.js";

function make(output: OutputPolicy, extra: { log?: FakeProcessLog; logFromNow?: boolean } = {}) {
  const handle = new FakeProcess("c", {
    seq: 1, path: "/p", args: [], env: [], dir: "/", rlimits: {}, stdin: { kind: "none" }, discardOutput: output.kind === "discard", meta: {},
    user: { name: "root", uid: 0, gid: 0, groups: [], home: "/root" },
  });
  const process = new Process("1", 1, handle, { output, logger: nullLogger, log: extra.log?.open("t"), logFromNow: extra.logFromNow, checkIntervalMs: 0 });
  return { handle, process };
}

async function drain(process: Process): Promise<{ text: string; end: unknown }> {
  const it = process.attach();
  let text = "";
  for (;;) {
    const n = await it.next();
    if (n.done) return { text, end: n.value };
    text += `${n.value.stream}:${n.value.data.toString()} `;
  }
}

describe("a process's output", () => {
  it("kills a process past its cap (stdout and stderr together) and keeps what came before", async () => {
    const { handle, process } = make({ kind: "kill", limit: 100 });
    handle.write("stdout", "a".repeat(60));
    handle.write("stderr", "b".repeat(60));
    const { result, stdout, stderr } = await process.collect();
    assert.equal(handle.killed, true);
    assert.deepEqual(result, { exit: { kind: "signaled", signal: 9 }, outputExceeded: true });
    assert.equal(stdout.length + stderr.length, 100);
  });

  it("streams no more than the cap under the kill policy", async () => {
    const { handle, process } = make({ kind: "kill", limit: 10 });
    handle.write("stdout", "0123456789abcdef");
    const { text } = await drain(process);
    assert.equal(text, "stdout:0123456789 ");
  });

  it("keeps nothing and caps nothing when discarding", async () => {
    const { handle, process } = make({ kind: "discard" });
    handle.write("stdout", "a".repeat(500));
    await settle();
    assert.equal(handle.killed, false);
    handle.exit(0);
    const { stdout, result } = await process.collect();
    assert.deepEqual([stdout.length, result.outputExceeded], [0, false]);
    assert.deepEqual(await drain(process), { text: "", end: result });
  });

  it("keeps the recent bytes of each stream, never handing out freed ones, even to a reader caught mid-read", async () => {
    const { handle, process } = make({ kind: "keep-recent", limit: 10 });
    const reader = process.attach();
    handle.write("stdout", "0123456789");
    assert.equal(((await reader.next()).value as OutputChunk).data.toString(), "0123456789");
    handle.write("stdout", "abcdefghijklmnopqrstu");
    await settle();
    assert.equal(handle.discarded.stdout, 21, "past twice the limit, all but the last ten go");
    const rest = await reader.next();
    assert.equal((rest.value as OutputChunk).data.toString(), "lmnopqrstu", "the reader skips what was freed");
    handle.exit(0);
    assert.equal((await process.collect()).stdout.toString(), "lmnopqrstu");
  });

  it("replays the kept output to each new attacher, and each sees the end", async () => {
    const { handle, process } = make({ kind: "keep-recent", limit: 1000 });
    handle.write("stdout", "abc");
    handle.write("stderr", "err");
    const first = drain(process);
    const second = drain(process);
    handle.exit(4);
    const expected = { text: "stdout:abc stderr:err ", end: { exit: { kind: "exited", code: 4 }, outputExceeded: false } };
    assert.deepEqual(await first, expected);
    assert.deepEqual(await second, expected);
  });

  it("ends an attach when the client goes away, with an AbortError", async () => {
    const { process } = make({ kind: "keep-recent", limit: 1000 });
    const closed = new AbortController();
    const it = process.attach(closed.signal);
    const waiting = it.next();
    closed.abort();
    await assert.rejects(waiting, { name: "AbortError" });
    await process.idle();
  });

  it("waits for its readers before its files may go", async () => {
    const { handle, process } = make({ kind: "keep-recent", limit: 1000 });
    const it = process.attach();
    const reading = it.next();
    let idle = false;
    void process.idle().then(() => (idle = true));
    await settle();
    assert.equal(idle, false);
    handle.exit(0);
    await reading;
    await settle();
    assert.equal(idle, true);
  });

  it("forwards only what comes after a restart to the log of a process found again", async () => {
    const log = new FakeProcessLog();
    const { handle } = (() => {
      const handle = new FakeProcess("c", {
        seq: 1, path: "/p", args: [], env: [], dir: "/", rlimits: {}, stdin: { kind: "none" }, discardOutput: false, meta: {},
        user: { name: "root", uid: 0, gid: 0, groups: [], home: "/root" },
      });
      handle.write("stdout", "before restart\n");
      new Process("1", 1, handle, { output: { kind: "keep-recent", limit: 1000 }, logger: nullLogger, log: log.open("t"), logFromNow: true });
      return { handle };
    })();
    await settle();
    handle.write("stdout", "after\n");
    handle.exit(0);
    await settle(30);
    assert.deepEqual(log.lines.map((l) => l.line), ["after"]);
  });
});
