// warden-shim (the C supervisor, as built) with a stand-in for the OCI
// runtime: a shell script that starts the "process" (the script in the
// process directory) in the background, writes its pid and exits, as
// `crun exec --detach` does. What the shim records, and how it answers
// its control socket, is checked without any container.
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { hostCommands } from "../../../../src/linux/command.js";
import { OciRuntimeCli } from "../../../../src/linux/runtime/oci-runtime.js";
import { ShimLauncher } from "../../../../src/linux/runtime/shim.js";
import { readShimExit, ShimProcess } from "../../../../src/linux/runtime/shim-process.js";

const SHIM = fileURLToPath(new URL("../../../../bin/warden-shim", import.meta.url));

// Fails like a runtime when the script says `fail`; otherwise runs it detached.
const FAKE_RUNTIME = `#!/bin/sh
log=""; pidfile=""
while [ $# -gt 0 ]; do
  case "$1" in
    --log=*) log="\${1#--log=}" ;;
    --pid-file) pidfile="$2"; shift ;;
  esac
  shift
done
if grep -q '^fail' script; then echo "executable file \\\`/nope\\\` not found in \\$PATH: No such file or directory" >> "$log"; exit 1; fi
# A background job's stdin is /dev/null before its redirections: keep ours on fd 3 first.
# Started from a subshell that exits at once, as a runtime's detached exec is: the shim (a subreaper)
# becomes its parent, and this shell can never reap it first (dash may, for its own background jobs).
exec 3<&0
( sh ./script <&3 3<&- & echo $! > "$pidfile" )
`;

describe("warden-shim", () => {
  let dir: string;
  let runtime: string;
  let launcher: ShimLauncher;
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wshim-"));
    runtime = join(dir, "fake-runtime");
    await writeFile(runtime, FAKE_RUNTIME);
    await chmod(runtime, 0o755);
    await writeFile(join(dir, "null"), "");
    const oci = new OciRuntimeCli({ name: "crun", path: runtime, stateRoot: join(dir, "state") }, hostCommands);
    launcher = new ShimLauncher({ path: SHIM, oci, nullDevice: join(dir, "null") });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function start(script: string, stdin: "none" | "file" | "pipe" = "none", logFile?: string): Promise<{ dir: string; process: ShimProcess }> {
    const pdir = join(dir, `p${++n}`);
    await import("node:fs/promises").then((fs) => fs.mkdir(pdir));
    await writeFile(join(pdir, "script"), script);
    await writeFile(join(pdir, "process.json"), "{}");
    if (stdin === "file") await writeFile(join(pdir, "stdin"), "from a file\n");
    await launcher.start({ containerId: "c1", dir: pdir, stdin, discardOutput: false, ...(logFile ? { logFile } : {}) }, "/bin/sh");
    const process = new ShimProcess({
      dir: pdir,
      ...(logFile ? { logFile } : {}),
      outputs: { stdout: join(pdir, "stdout"), stderr: join(pdir, "stderr") },
      killTree: async () => {},
      commands: hostCommands,
    });
    return { dir: pdir, process };
  }

  it("passes the runtime our state root, its log, a pid file and the process, detached", () => {
    const argv = launcher.argv({ containerId: "c1", dir: "/d", stdin: "pipe", tty: { rows: 24, columns: 80 }, discardOutput: true });
    assert.deepEqual(argv.slice(1), [
      "--runtime", runtime, "--runtime-arg", `--root=${join(dir, "state")}`, "--container", "c1",
      "--stdin", "pipe", "--null", join(dir, "null"), "--tty", "24", "80", "--discard",
    ]);
  });

  it("records an exit code and a death by signal as what they are", async () => {
    const exited = await start("echo out; echo err >&2; exit 137");
    assert.deepEqual(await exited.process.exited, { kind: "exited", code: 137 });
    assert.equal(await readFile(join(exited.dir, "stdout"), "utf8"), "out\n");
    assert.equal(await readFile(join(exited.dir, "stderr"), "utf8"), "err\n");
    const killed = await start("kill -9 $$");
    assert.deepEqual(await killed.process.exited, { kind: "signaled", signal: 9 });
    assert.match(await readFile(join(killed.dir, "started"), "utf8"), /^\d+\n$/);
  });

  it("says why the runtime could not start the process", async () => {
    await assert.rejects(start("fail"), { code: "EXECUTABLE_NOT_FOUND", details: { path: "/bin/sh" } });
    const outcome = await readShimExit(join(dir, `p${n}`));
    assert.equal(outcome?.kind, "failed");
  });

  it("gives a file as standard input, or a pipe fed and closed over the control socket", async () => {
    const file = await start("cat", "file");
    await file.process.exited;
    assert.equal(await readFile(join(file.dir, "stdout"), "utf8"), "from a file\n");
    const piped = await start("cat; echo done", "pipe");
    await piped.process.attachStdin();
    await piped.process.writeStdin(Buffer.from("streamed "));
    await piped.process.writeStdin(Buffer.alloc(300_000, "x"));
    await piped.process.closeStdin();
    assert.deepEqual(await piped.process.exited, { kind: "exited", code: 0 });
    const out = await readFile(join(piped.dir, "stdout"), "utf8");
    assert.equal(out, `streamed ${"x".repeat(300_000)}done\n`);
  });

  it("closes standard input when the connection that owns it goes, as a daemon's death would", async () => {
    const piped = await start("cat; echo eof", "pipe");
    await piped.process.attachStdin();
    await piped.process.writeStdin(Buffer.from("partial\n"));
    piped.process.detach();
    const again = new ShimProcess({ dir: piped.dir, outputs: { stdout: join(piped.dir, "stdout"), stderr: undefined }, killTree: async () => {}, commands: hostCommands });
    assert.deepEqual(await again.exited, { kind: "exited", code: 0 });
    assert.equal(await readFile(join(piped.dir, "stdout"), "utf8"), "partial\neof\n");
  });

  it("delivers signals to the process", async () => {
    const p = await start("trap 'echo usr1' USR1; trap 'exit 37' TERM; echo ready; while true; do sleep 0.05; done");
    while (!(await readFile(join(p.dir, "stdout"), "utf8").catch(() => "")).includes("ready")) await new Promise((r) => setTimeout(r, 10));
    await p.process.signal("USR1");
    while (!(await readFile(join(p.dir, "stdout"), "utf8")).includes("usr1")) await new Promise((r) => setTimeout(r, 10));
    await p.process.signal("TERM");
    assert.deepEqual(await p.process.exited, { kind: "exited", code: 37 });
    await p.process.signal("KILL");
  });

  it("writes a container log in Kubernetes' format beside the output: whole lines F, a long or unterminated one P", async () => {
    const log = join(dir, "logs", "pod", "c.log");
    const long = "x".repeat(20_000);
    const p = await start(`printf 'one\\n\\ntwo'; printf 'err\\n' >&2; printf '${long}\\n'; printf ' three\\n'`, "none", log);
    assert.deepEqual(await p.process.exited, { kind: "exited", code: 0 });
    const lines = (await readFile(log, "utf8")).split("\n").slice(0, -1);
    const parsed = lines.map((l) => /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([FP]) (.*)$/.exec(l));
    assert.ok(parsed.every((m) => m), lines.join("\n").slice(0, 500));
    const entries = parsed.map((m) => [m![2], m![3], m![4]]);
    const out = entries.filter((e) => e[0] === "stdout");
    assert.deepEqual(out.map((e) => e[1]), ["F", "F", "P", "F", "F"]);
    assert.deepEqual(out[0], ["stdout", "F", "one"]);
    assert.deepEqual(out[1], ["stdout", "F", ""], "an empty line keeps its space after the tag");
    assert.equal(out[2][2], "two" + "x".repeat(16 * 1024 - 3), "a line longer than 16 KiB is cut into parts");
    assert.equal(out[3][2], "x".repeat(20_000 - (16 * 1024 - 3)));
    assert.deepEqual(out[4], ["stdout", "F", " three"]);
    assert.deepEqual(entries.filter((e) => e[0] === "stderr"), [["stderr", "F", "err"]]);
    assert.equal((await readFile(join(p.dir, "stdout"), "utf8")).length, 4 + 1 + 3 + 20_001 + 7, "the output file keeps the bytes as they came");
  });

  it("opens its log again when told, after the file was moved away (rotation)", async () => {
    const log = join(dir, "rotated.log");
    const p = await start("echo before; read x; echo after; printf 'no newline'", "pipe", log);
    await p.process.attachStdin();
    await new Promise((r) => setTimeout(r, 200));
    await import("node:fs/promises").then((fs) => fs.rename(log, `${log}.1`));
    await p.process.reopenLog();
    assert.equal(await readFile(log, "utf8"), "", "there at once, and empty");
    await p.process.writeStdin(Buffer.from("go\n"));
    await p.process.closeStdin();
    await p.process.exited;
    assert.match(await readFile(`${log}.1`, "utf8"), /stdout F before\n$/);
    assert.match(await readFile(log, "utf8"), /stdout F after\n.* stdout P no newline\n$/);
  });

  it("frees the disk space of output already read, keeping the file's size", async () => {
    const p = await start("head -c 20000 /dev/zero | tr '\\0' a");
    await p.process.exited;
    await p.process.discardBefore("stdout", 10000);
    const sizes = await p.process.outputSizes();
    assert.equal(sizes.stdout, 20000);
    const tail = await p.process.read("stdout", 19990, 10);
    assert.equal(tail.toString(), "a".repeat(10));
    const head = await p.process.read("stdout", 0, 8192);
    assert.ok(head.every((b) => b === 0), "the first blocks are a hole now");
  });
});

describe("warden-shim's exit records", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "wshimexit-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  it("read as exits, signals, failures, and anything else as a lost end", async () => {
    const cases: Array<[string, unknown]> = [
      ['{"code":3}', { kind: "exited", code: 3 }],
      ['{"signal":15}\n', { kind: "signaled", signal: 15 }],
      ['{"error":"no such file"}', { kind: "failed", error: "no such file" }],
      ["garbage", { kind: "lost" }],
      ['{"code":"3"}', { kind: "lost" }],
    ];
    for (const [text, outcome] of cases) {
      await writeFile(join(dir, "exit"), text);
      assert.deepEqual(await readShimExit(dir), outcome, text);
    }
    await rm(join(dir, "exit"));
    assert.equal(await readShimExit(dir), undefined);
  });
});
