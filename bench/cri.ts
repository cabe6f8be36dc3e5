// A pod round through Kubernetes' CRI, as issue 16 measures it: crictl runp,
// create, start, exec true, stopp and rmp (stopping and removing the pod
// stops and removes its container), one crictl process per step, against a
// wardend with the CRI on a temporary socket and a BusyBox image on a
// registry on loopback; beside it, in the same run and alternating, the same
// round with Podman's pods (pod create on a bridge, create, start, exec
// true, pod stop, pod rm; one podman process per step, as crictl's). Medians.
// containerd 1.6 took a median 0.70 s per such round through crictl on this
// kind of host (../shared/reference/cri.md §8; about 0.2 s of it crictl's own
// start-ups); the target is at most half. Each step's crictl start-up alone
// is measured too (`crictl version`).
//
//   npm run build && node dist/bench/cri.js [ROUNDS]     (as root; ROUNDS defaults to 10)
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_ROOTFS, REPO, startDaemon } from "../test/integration/harness.js";
import { LayoutWriter, toolsLayer } from "../test/integration/oci-layout.js";
import { TestRegistry } from "../test/integration/registry.js";
import { Podman } from "./lib/podman.js";
import { markdownTable, ms, summarize } from "./lib/report.js";

const ROUNDS = Number(process.argv[2] ?? 10);
const CRICTL = join(REPO, "../shared/tools/cri/crictl");

const work = await mkdtemp(join(tmpdir(), "wardenbench-cri-"));
await mkdir(join(work, "registry"));
const registry = await TestRegistry.start({ dir: join(work, "registry") });
const layout = new LayoutWriter(join(work, "layout"));
await layout.tag("busybox", await layout.image({ layers: [toolsLayer], config: { Env: ["PATH=/bin"], Cmd: ["sh"] } }));
await registry.push(layout.dir, "busybox", "library/busybox:1.37.0");
await Podman.ensureInstalled();
const podman = new Podman(join(work, "podman"), DEFAULT_ROOTFS);
await podman.setUp();
const daemon = await startDaemon({ cri: true, config: { logging: { level: "warn" }, images: { mirrors: { "docker.io": [registry.url] } } } });

const crictl = (...args: string[]): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(CRICTL, ["--runtime-endpoint", `unix://${daemon.criSocket}`, "--image-endpoint", `unix://${daemon.criSocket}`, ...args], (err, stdout, stderr) =>
      err ? reject(new Error(`crictl ${args.join(" ")}: ${stderr}`)) : resolve(stdout.trim()),
    ),
  );

try {
  await crictl("pull", "busybox:1.37.0");
  const pod = join(work, "pod.json");
  const ctr = join(work, "ctr.json");
  await writeFile(ctr, JSON.stringify({ metadata: { name: "c" }, image: { image: "busybox:1.37.0" }, command: ["sleep", "600"] }));
  const rounds: number[] = [];
  const podmanRounds: number[] = [];
  const startups: number[] = [];
  for (let i = 0; i < ROUNDS + 1; i++) {
    await writeFile(pod, JSON.stringify({ metadata: { name: `p${i}`, namespace: "bench", uid: `u${i}` } }));
    let t = performance.now();
    await crictl("version");
    const startup = performance.now() - t;
    t = performance.now();
    const podId = await crictl("runp", pod);
    const id = await crictl("create", podId, ctr, pod);
    await crictl("start", id);
    await crictl("exec", "-s", id, "true");
    await crictl("stopp", podId);
    await crictl("rmp", podId);
    const elapsed = performance.now() - t;
    t = performance.now();
    await podman.podRound(`p${i}`);
    if (i > 0) {
      rounds.push(elapsed);
      podmanRounds.push(performance.now() - t);
      startups.push(startup);
    }
  }
  const round = summarize(rounds);
  const podmanRound = summarize(podmanRounds);
  const startup = summarize(startups);
  process.stdout.write(
    `${markdownTable(
      ["pod round through crictl (6 steps)", "median ms", "min", "max"],
      [
        ["wardend", ms(round.median), ms(round.min), ms(round.max)],
        ["Podman's pods (6 podman steps)", ms(podmanRound.median), ms(podmanRound.min), ms(podmanRound.max)],
        ["of which crictl start-ups (6 x `crictl version`)", ms(6 * startup.median), "", ""],
      ],
    )}\n`,
  );
  process.stdout.write(`\nagainst containerd's 700 ms: ${(round.median / 700).toFixed(2)}x (issue 16's target: at most 0.5x); against Podman's pods in this run: ${(round.median / podmanRound.median).toFixed(2)}x\n`);
} finally {
  await daemon.stop();
  await podman.tearDown().catch((err) => process.stdout.write(`podman tear-down: ${String(err)}\n`));
  await registry.stop();
  await rm(work, { recursive: true, force: true });
}
