// Kubernetes' CRI on a real daemon, judged by Kubernetes' own tools
// (../shared/tools/cri/): crictl for the everyday commands and critest's
// runtime-info and idempotence specs, over the unix socket named by
// `cri.socket`, beside Warden's protocol.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REPO, startDaemon, type TestDaemon } from "./harness.js";

const TOOLS = join(REPO, "../shared/tools/cri");
const CRICTL = join(TOOLS, "crictl");
const CRITEST = join(TOOLS, "critest");

function run(file: string, args: string[], cwd?: string): Promise<{ code: number; out: string; stdout: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 120_000, cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}`, stdout }),
    );
  });
}

describe("CRI: Kubernetes' own tools", { skip: !existsSync(CRICTL) && "crictl is not in ../shared/tools" }, () => {
  let daemon: TestDaemon;
  const crictl = (...args: string[]) => run(CRICTL, ["--runtime-endpoint", `unix://${daemon.criSocket}`, "--image-endpoint", `unix://${daemon.criSocket}`, ...args]);

  before(async () => {
    daemon = await startDaemon({ cri: true });
  });

  after(() => daemon.stop());

  it("answers crictl version and info: the runtime's name, API version and both conditions ready", async () => {
    const version = await crictl("version");
    assert.equal(version.code, 0, version.out);
    assert.match(version.stdout, /RuntimeName:\s+wardend/);
    assert.match(version.stdout, /RuntimeApiVersion:\s+v1/);
    const info = await crictl("info");
    assert.equal(info.code, 0, info.out);
    const status = JSON.parse(info.stdout) as { status: { conditions: Array<{ type: string; status: boolean }> } };
    assert.deepEqual(status.status.conditions.map((c) => [c.type, c.status]), [["RuntimeReady", true], ["NetworkReady", true]]);
  });

  it("lists no pods, containers or images on a fresh daemon, and stops an unknown pod without error", async () => {
    for (const args of [["pods"], ["ps", "-a"], ["images"]]) {
      const r = await crictl(...args);
      assert.equal(r.code, 0, r.out);
      assert.equal(r.stdout.trim().split("\n").length, 1, `only the header: ${r.stdout}`);
    }
    assert.equal((await crictl("stopp", "no-such-pod")).code, 0);
    const inspect = await crictl("inspectp", "no-such-pod");
    assert.notEqual(inspect.code, 0);
    assert.match(inspect.out, /NotFound/);
  });

  it("passes critest's runtime-info, pod sandbox and idempotence specs that need no container", async () => {
    const r = await run(
      CRITEST,
      [
        "--runtime-endpoint", `unix://${daemon.criSocket}`,
        "--ginkgo.focus=Runtime info",
        "--ginkgo.focus=Idempotence.*not found",
        "--ginkgo.focus=Idempotence StopPodSandbox",
        "--ginkgo.focus=PodSandbox runtime should support basic operations",
        "--ginkgo.no-color",
      ],
      daemon.dir,
    );
    assert.equal(r.code, 0, r.out.slice(-4000));
    assert.match(r.stdout, /Ran 12 of \d+ Specs/);
    assert.match(r.stdout, /SUCCESS! -- 12 Passed \| 0 Failed/);
  });

  it("runs, lists, inspects, stops and removes a pod with crictl", async () => {
    const config = join(daemon.dir, "pod.json");
    await writeFile(config, JSON.stringify({ metadata: { name: "web", namespace: "default", uid: "u1", attempt: 1 }, hostname: "web-host", labels: { app: "web" } }));
    const runp = await crictl("runp", config);
    assert.equal(runp.code, 0, runp.out);
    const id = runp.stdout.trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const pods = await crictl("pods", "--label", "app=web", "-q", "--no-trunc");
    assert.deepEqual(pods.stdout.trim().split("\n"), [id]);
    const inspect = JSON.parse((await crictl("inspectp", id)).stdout) as { status: { state: string; metadata: { name: string }; network: { ip: string } } };
    assert.equal(inspect.status.state, "SANDBOX_READY");
    assert.equal(inspect.status.metadata.name, "web");
    assert.match(inspect.status.network.ip, /^10\.254\./);
    // The pod is a container of the core: Warden's protocol sees it too.
    const c = await daemon.client();
    assert.ok((await c.call("List")).handles.includes(id));
    assert.equal((await crictl("stopp", id)).code, 0);
    assert.equal(JSON.parse((await crictl("inspectp", id)).stdout).status.state, "SANDBOX_NOTREADY");
    assert.equal((await crictl("rmp", id)).code, 0);
    assert.equal((await crictl("pods", "-q")).stdout.trim(), "");
    assert.ok(!(await c.call("List")).handles.includes(id));
  });

  it("leaves the Warden protocol working beside it", async () => {
    const c = await daemon.client();
    const h = await c.create();
    assert.deepEqual((await c.run(h, "echo hi")).stdout, "hi\n");
    await c.destroy(h);
  });
});
