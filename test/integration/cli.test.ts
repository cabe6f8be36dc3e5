// bin/warden against a real daemon.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO, startDaemon, type TestDaemon } from "./harness.js";

function warden(socket: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO, "bin/warden"), "--socket", socket, "--", ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("warden CLI", () => {
  let daemon: TestDaemon;
  before(async () => (daemon = await startDaemon()));
  after(() => daemon.stop());

  it("creates, runs with the job's exit status as its own, inspects and destroys", async () => {
    const created = await warden(daemon.socket, "create", "--handle", "cli");
    assert.equal(created.stdout, "handle : cli\n");
    const run = await warden(daemon.socket, "run", "--handle", "cli", "--script", "echo out; echo err >&2; exit 7");
    assert.deepEqual(run, { code: 7, stdout: "out\n", stderr: "err\n" });
    const info = await warden(daemon.socket, "info", "--handle", "cli");
    assert.match(info.stdout, /^state : active$/m);
    assert.equal((await warden(daemon.socket, "destroy", "--handle", "cli")).code, 0);
  });

  it("prints the server's error and fails", async () => {
    const r = await warden(daemon.socket, "info", "--handle", "nope");
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "unknown handle\n");
  });

  it("refuses a bad flag before sending anything", async () => {
    const r = await warden(daemon.socket, "info");
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "Missing required flag: '--handle'.\n");
  });
});
