// SpawnerRunner with warden-spawn as built: the same contract as running the
// commands as our own children, without forking this process.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CommandError } from "../../../src/linux/command.js";
import { SpawnerRunner } from "../../../src/linux/spawner.js";

const SPAWN = fileURLToPath(new URL("../../../bin/warden-spawn", import.meta.url));

describe("commands through warden-spawn", () => {
  let runner: SpawnerRunner;
  let dir: string;
  before(async () => {
    runner = new SpawnerRunner(SPAWN);
    dir = await mkdtemp(join(tmpdir(), "wspawn-"));
  });
  after(async () => {
    runner.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a command found in PATH, with its arguments, in a directory, with input, and gives its output", async () => {
    const r = await runner.run(["sh", "-c", 'printf "%s|" "$1" "$(pwd)"; cat; echo err >&2', "sh", "a b"], { cwd: dir, input: "in\n" });
    assert.deepEqual(r, { code: 0, stdout: `a b|${dir}|in\n`, stderr: "err\n" });
  });

  it("gives an environment of its own when asked, else ours", async () => {
    assert.equal((await runner.run(["sh", "-c", "echo $ONLY:$HOME"], { env: { ONLY: "x", PATH: "/usr/bin:/bin" } })).stdout, "x:\n");
    assert.equal((await runner.run(["sh", "-c", "echo $HOME"])).stdout, `${process.env.HOME}\n`);
  });

  it("fails with the exit code and stderr, unless the code is one of okCodes", async () => {
    await assert.rejects(runner.run(["sh", "-c", "echo why >&2; exit 3"]), (err: CommandError) => {
      assert.equal(err.code, 3);
      assert.equal(err.stderr, "why\n");
      assert.match(err.message, /exited with 3: why/);
      return true;
    });
    assert.equal((await runner.run(["sh", "-c", "exit 3"], { okCodes: [3] })).code, 3);
  });

  it("says when a program is not there, or a signal killed it, or it ran past its time", async () => {
    await assert.rejects(runner.run(["no-such-program-here"]), /no-such-program-here: No such file or directory/);
    await assert.rejects(runner.run(["sh", "-c", "kill -TERM $$"]), /killed by SIGTERM/);
    await assert.rejects(runner.run(["sleep", "5"], { timeoutMs: 50 }), /timed out after 50 ms/);
  });

  it("runs many at once, each answered with its own output, and bounds what it keeps", async () => {
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => runner.run(["sh", "-c", `sleep 0.0${i % 5}; echo ${i}`])));
    assert.deepEqual(results.map((r) => r.stdout), Array.from({ length: 40 }, (_, i) => `${i}\n`));
    const big = await runner.run(["head", "-c", String(3 * 1024 * 1024), "/dev/zero"]);
    assert.equal(big.stdout.length, 1024 * 1024);
  });

  it("starts the helper again after it died, failing only what it was running", async () => {
    const running = runner.run(["sleep", "5"]);
    const helperPid = Number((await runner.run(["sh", "-c", "echo $PPID"])).stdout);
    process.kill(helperPid, "SIGKILL");
    await assert.rejects(running, /warden-spawn ended/);
    assert.equal((await runner.run(["echo", "again"])).stdout, "again\n");
  });
});
