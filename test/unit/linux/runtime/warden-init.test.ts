// warden-init (as built) starting processes for warden-shim, without a
// container: the init runs as PID 1 of a pid namespace of its own (unshare),
// its socket made by its own --bind, as conmon and the runtime would pass it.
// What a process gets (ids, groups, capabilities, rlimits, directory,
// environment), how its end and its failures are recorded, and who may ask.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { hostCommands } from "../../../../src/linux/command.js";
import { initProcessSpec } from "../../../../src/linux/runtime/init-process-spec.js";
import { OciRuntimeCli } from "../../../../src/linux/runtime/oci-runtime.js";
import type { OciProcess } from "../../../../src/linux/runtime/oci-spec.js";
import { ShimLauncher } from "../../../../src/linux/runtime/shim.js";
import { ShimProcess } from "../../../../src/linux/runtime/shim-process.js";

const BIN = fileURLToPath(new URL("../../../../bin/", import.meta.url));
const INIT = join(BIN, "warden-init");
const SHIM = join(BIN, "warden-shim");

function spec(args: string[], more: Partial<OciProcess> = {}): OciProcess {
  return { terminal: false, user: { uid: 0, gid: 0 }, args, env: ["PATH=/usr/bin:/bin"], cwd: "/", noNewPrivileges: true, ...more };
}

describe("warden-init starting processes for warden-shim", () => {
  let dir: string;
  let socket: string;
  let init: ChildProcess;
  let launcher: ShimLauncher;
  let n = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "winit-"));
    socket = join(dir, "init.sock");
    init = spawn(INIT, ["--bind", socket, "--", "unshare", "--pid", "--fork", "--kill-child", INIT], { stdio: "ignore" });
    for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 10));
    await writeFile(join(dir, "null"), "");
    // The runtime is never run: every process here goes through the init.
    const oci = new OciRuntimeCli({ name: "crun", path: "/bin/false", stateRoot: join(dir, "state") }, hostCommands);
    launcher = new ShimLauncher({ path: SHIM, oci, nullDevice: join(dir, "null") });
  });
  after(async () => {
    init.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  async function start(process: OciProcess, stdin: "none" | "file" = "none"): Promise<{ dir: string; handle: ShimProcess }> {
    const pdir = join(dir, `p${++n}`);
    await mkdir(pdir);
    await writeFile(join(pdir, "process.spec"), initProcessSpec(process));
    if (stdin === "file") await writeFile(join(pdir, "stdin"), "from a file\n");
    await launcher.start({ containerId: "c1", dir: pdir, stdin, discardOutput: false, initSocket: socket }, process.args[0]);
    const handle = new ShimProcess({
      dir: pdir,
      outputs: { stdout: join(pdir, "stdout"), stderr: join(pdir, "stderr") },
      killTree: async () => {},
      commands: hostCommands,
    });
    return { dir: pdir, handle };
  }

  const output = (pdir: string, name = "stdout") => readFile(join(pdir, name), "utf8");

  it("runs the program found in the process's PATH, with its arguments, environment, directory and stdin", async () => {
    const { dir: pdir, handle } = await start(
      spec(["sh", "-c", 'echo "$1 $FOO $(pwd)"; cat; echo oops >&2; exit 3', "sh", "arg"], { env: ["PATH=/bin", "FOO=bar"], cwd: "/tmp" }),
      "file",
    );
    assert.deepEqual(await handle.exited, { kind: "exited", code: 3 });
    assert.equal(await output(pdir), "arg bar /tmp\nfrom a file\n");
    assert.equal(await output(pdir, "stderr"), "oops\n");
  });

  it("records the process's pid as the host sees it, and a death by signal as what it is", async () => {
    const { dir: pdir, handle } = await start(spec(["/bin/sleep", "30"]));
    const pid = Number(await readFile(join(pdir, "pid"), "utf8"));
    assert.match(await readFile(`/proc/${pid}/cmdline`, "utf8"), /^\/bin\/sleep\0/);
    assert.equal(Number(await readFile(join(pdir, "started"), "utf8")), pid);
    await handle.signal("KILL");
    assert.deepEqual(await handle.exited, { kind: "signaled", signal: 9 });
  });

  it("gives the process its user, groups, rlimits and capability sets, in a session of its own", async () => {
    const sets = { bounding: ["CAP_KILL"], effective: [], permitted: [], inheritable: [], ambient: [] };
    const { dir: pdir, handle } = await start(
      spec(["/bin/sh", "-c", "id -u; id -g; id -G; ulimit -n; grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs)' /proc/self/status; read -r pid _ _ _ _ sid _ < /proc/self/stat; echo $pid; echo $sid"], {
        user: { uid: 65534, gid: 65534, additionalGids: [100, 200] },
        capabilities: sets,
        rlimits: [{ type: "RLIMIT_NOFILE", soft: 77n, hard: 77n }],
      }),
    );
    assert.deepEqual(await handle.exited, { kind: "exited", code: 0 });
    const lines = (await output(pdir)).trim().split("\n");
    assert.deepEqual(lines.slice(0, 4), ["65534", "65534", "65534 100 200", "77"]);
    assert.deepEqual(lines.slice(4, 8), ["CapPrm:\t0000000000000000", "CapEff:\t0000000000000000", "CapBnd:\t0000000000000020", "NoNewPrivs:\t1"]);
    assert.equal(lines.at(-2)?.trim(), lines.at(-1), "it leads its own session");
  });

  it("keeps root's capabilities as asked", async () => {
    const sets = { bounding: ["CAP_CHOWN", "CAP_KILL"], effective: ["CAP_CHOWN"], permitted: ["CAP_CHOWN"], inheritable: [], ambient: [] };
    const { dir: pdir, handle } = await start(spec(["/bin/sh", "-c", "grep -E '^Cap(Eff|Bnd)' /proc/self/status"], { capabilities: sets }));
    assert.deepEqual(await handle.exited, { kind: "exited", code: 0 });
    assert.equal(await output(pdir), "CapEff:\t0000000000000001\nCapBnd:\t0000000000000021\n");
  });

  it("says why a process could not start: no such program, a directory it cannot enter", async () => {
    await assert.rejects(launcher.start(await specDir(spec(["nope-not-here"])), "nope-not-here"), {
      code: "EXECUTABLE_NOT_FOUND",
      detail: /executable file `nope-not-here` not found in \$PATH/,
    });
    await assert.rejects(launcher.start(await specDir(spec(["/no/such/program"])), "/no/such/program"), { code: "EXECUTABLE_NOT_FOUND" });
    await assert.rejects(launcher.start(await specDir(spec(["/bin/true"], { cwd: "/no/such/dir" })), "/bin/true"), {
      code: "SPAWN_FAILED",
      detail: /chdir to `\/no\/such\/dir`: No such file or directory/,
    });
  });

  it("serves no peer inside its pid namespace, and outlasts a peer that never sends", async () => {
    const idle = createConnection(socket);
    await new Promise((r) => idle.once("connect", r));
    const { handle } = await start(spec(["/bin/true"]));
    assert.deepEqual(await handle.exited, { kind: "exited", code: 0 });
    idle.destroy();
    // A shim inside the init's pid namespace (as a container's process would be) asks: refused.
    const marker = join(dir, "ran");
    const start2 = await specDir(spec(["/bin/touch", marker]));
    const initPid = (await readFile(`/proc/${init.pid}/task/${init.pid}/children`, "utf8")).trim();
    const inside = spawn("nsenter", ["--pid", "--target", initPid, "--", ...launcher.argv(start2)], { cwd: start2.dir, stdio: "ignore" });
    const code = await new Promise((r) => inside.once("exit", r));
    assert.equal(code, 2, "the shim says it could not start the process");
    assert.match(await readFile(join(start2.dir, "exit"), "utf8"), /the container's init (took no request|did not start the process)/);
    assert.equal(existsSync(marker), false);
  });

  async function specDir(process: OciProcess) {
    const pdir = join(dir, `p${++n}`);
    await mkdir(pdir);
    await writeFile(join(pdir, "process.spec"), initProcessSpec(process));
    return { containerId: "c1", dir: pdir, stdin: "none" as const, discardOutput: false, initSocket: socket };
  }
});
