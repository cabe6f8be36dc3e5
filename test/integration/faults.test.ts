// Fault injection: the daemon is killed (-9) at a random moment while it
// creates or destroys a container, then started again. After each restart
// every container is either whole and working or entirely gone: nothing of
// a gone one is left (depot directory, mounts, cgroups, namespaces, runtime
// state, supervisors, interfaces, firewall chains).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import { isContainerId } from "../../src/core/container-id.js";
import { run } from "../../src/linux/command.js";
import { seededRandom } from "./seeded.js";
import { ourLinks, processesMentioning, startDaemon, type TestDaemon } from "./harness.js";

const TRIALS = Number(process.env.FAULT_TRIALS ?? 24);


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function list(dir: string): Promise<string[]> {
  return existsSync(dir) ? (await readdir(dir)).filter(isContainerId).sort() : [];
}

/** Ids that have anything of ours on the host, by where it shows. */
async function traces(daemon: TestDaemon): Promise<Record<string, string[]>> {
  const cgroups = new Set<string>();
  for (const controller of await readdir("/sys/fs/cgroup")) {
    for (const id of await list(join("/sys/fs/cgroup", controller, daemon.cgroupParent))) cgroups.add(id);
  }
  const runtime = await run(["crun", `--root=${join(daemon.runDir, "crun")}`, "list", "-q"]).catch(() => ({ stdout: "" }));
  const supervisors = (await processesMentioning(`--root=${join(daemon.runDir, "crun")}`))
    .map((line) => /-c ([0-9a-v]{11})/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  const mounts = (await daemon.namespaceMounts()).map((line) => basename(line.split(" ")[1].replace(/\/rootfs$/, "")));
  const { stdout: chains } = await run(["nft", "list", "table", "inet", daemon.nftTable]);
  return {
    depot: await list(daemon.depot),
    cgroups: [...cgroups].sort(),
    netns: await list(join(daemon.runDir, "netns")),
    userns: await list(join(daemon.runDir, "userns")),
    runtime: runtime.stdout.split("\n").filter(isContainerId).sort(),
    supervisors: [...new Set(supervisors)].sort(),
    mounts: mounts.sort(),
    links: [...new Set((await ourLinks()).map((l) => l.slice(2, 13)))].sort(),
    chains: [...chains.matchAll(/chain warden-i-([0-9a-v]{11})/g)].map((m) => m[1]).sort(),
  };
}

describe("kill -9 during create and destroy", { timeout: 900_000 }, () => {
  it(`leaves, after each of ${TRIALS} restarts, only whole working containers and nothing of the others`, async (t) => {
    const seed = Number(process.env.FAULT_SEED ?? Date.now() % 2 ** 31);
    const rand = seededRandom(seed);
    const daemon = await startDaemon({ config: { logging: { level: "warn" } } });
    try {
      const linksBefore = new Set(await ourLinks());
      const outcomes: Record<string, number> = {};
      for (let trial = 0; trial < TRIALS; trial++) {
        let c = await daemon.client();
        const destroying = trial % 2 === 1;
        // Some rules, so that a destroy has firewall state to take down too.
        const victim = destroying ? await c.create() : undefined;
        if (victim) {
          await c.call("NetOut", { handle: victim, network: "10.254.3.0/24", port: 80 });
          await c.spawn(victim, "sleep 100");
        }
        const request = victim ? c.destroy(victim) : c.create({ grace_time: 600 });
        request.catch(() => {});
        // Creates take about 100 ms and destroys about 50: kill anywhere in them, or just after.
        await sleep(Math.floor(rand() * (destroying ? 80 : 160)));
        await daemon.kill();
        await daemon.restart();
        c = await daemon.client();
        const listed = (await c.call("List")).handles;
        const ids: string[] = [];
        for (const handle of listed) {
          const info = await c.call("Info", { handle });
          ids.push(basename(info.container_path));
          const r = await c.run(handle, "echo whole");
          assert.equal(r.stdout, "whole\n", `trial ${trial} (seed ${seed}): ${handle} is listed but does not work`);
        }
        const live = ids.sort();
        const outcome = `${destroying ? "destroy" : "create"}: ${live.length > 0 ? "kept" : "gone"}`;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        const found = await traces(daemon);
        for (const [where, seen] of Object.entries(found)) {
          // Interfaces and chains exist only for containers that have them; none may belong to a gone one.
          const extra = seen.filter((id) => !live.includes(id) && !linksBefore.has(`w-${id}-0`));
          assert.deepEqual(extra, [], `trial ${trial} (seed ${seed}): ${where} of a gone container left behind`);
        }
        for (const where of ["depot", "cgroups", "netns", "userns", "runtime", "mounts"]) {
          assert.deepEqual(found[where], live, `trial ${trial} (seed ${seed}): ${where} of a live container missing`);
        }
        // Clean slate for the next trial.
        for (const handle of listed) await c.destroy(handle);
      }
      t.diagnostic(`seed ${seed}: ${JSON.stringify(outcomes)}`);
    } finally {
      await daemon.stop();
    }
  });
});
