// Images, side by side in one run, from one registry on loopback (Debian's
// docker-registry): an image of about 100 MB in 5 layers pulled by wardend
// (`warden image pull`), by Podman (`podman pull`, into its own scratch
// storage) and copied by skopeo without unpacking (the download's floor);
// create + destroy from the cached image against from a directory; and the
// disk 20 containers of one image take.
//
//   npm run build && node dist/bench/images.js [rounds]     (as root; default 3 rounds)
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../src/linux/command.js";
import { DEFAULT_ROOTFS, REPO, startDaemon } from "../test/integration/harness.js";
import { LayoutWriter, toolsLayer } from "../test/integration/oci-layout.js";
import { TestRegistry } from "../test/integration/registry.js";
import { Podman } from "./lib/podman.js";
import { markdownTable, ms, summarize } from "./lib/report.js";

const ROUNDS = Number(process.argv[2] ?? process.env.BENCH_ROUNDS ?? 3);
const CREATE_ROUNDS = 20;
const DENSITY = 20;
const say = (text: string) => process.stdout.write(`${text}\n`);

function warden(socket: string, ...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(REPO, "bin/warden"), "--socket", socket, ...args], (err, _out, stderr) => (err ? reject(new Error(stderr)) : resolve()));
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Half random (incompressible), half text: about 2:1 under gzip, as real layers are. */
function layerData(bytes: number): Buffer {
  const text = Buffer.from("the quick brown fox jumps over the lazy dog 0123456789\n".repeat(Math.ceil(bytes / 2 / 55)));
  return Buffer.concat([randomBytes(bytes / 2), text.subarray(0, bytes / 2)]);
}

async function du(path: string): Promise<number> {
  const { stdout } = await run(["du", "-s", "--block-size=1", path]);
  return Number(stdout.split("\t")[0]);
}

async function main(): Promise<void> {
  await Podman.ensureInstalled();
  const work = await mkdtemp(join(tmpdir(), "wbench-images-"));
  await mkdir(join(work, "registry"));
  const registry = await TestRegistry.start({ dir: join(work, "registry") });
  const podman = new Podman(join(work, "podman"), DEFAULT_ROOTFS);
  // Podman's mount namespace first: made after the daemon's, it would hold a copy of the depot's mount.
  await podman.setUp();
  const daemon = await startDaemon({});
  try {
    say("building and pushing a 5-layer image of about 100 MB...");
    const layout = new LayoutWriter(join(work, "layout"));
    const layers = [toolsLayer, ...[1, 2, 3, 4].map((i) => async (root: string) => writeFile(join(root, `data${i}.bin`), layerData(24 * 1024 * 1024)))];
    await layout.tag("v1", await layout.image({ layers }));
    await registry.push(layout.dir, "v1", "bench/app:v1");
    const ref = `${registry.host}/bench/app:v1`;
    await run(podman.argv("info")); // lays out its storage before the first timed pull

    const samples = { wardend: [] as number[], podman: [] as number[], skopeo: [] as number[] };
    for (let i = 0; i < ROUNDS; i++) {
      samples.wardend.push(await timed(() => warden(daemon.socket, "image", "pull", ref)));
      await warden(daemon.socket, "image", "rm", ref);
      await warden(daemon.socket, "image", "prune");
      samples.podman.push(await timed(() => run(podman.argv("pull", "--quiet", "--tls-verify=false", ref), { timeoutMs: 600_000 })));
      await run(podman.argv("rmi", "--all", "--force"));
      const dest = join(work, `skopeo-${i}`);
      samples.skopeo.push(await timed(() => run(["skopeo", "copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${dest}:v1`], { timeoutMs: 600_000 })));
      await rm(dest, { recursive: true, force: true });
      say(`pull round ${i + 1}: wardend ${ms(samples.wardend.at(-1)!)}, podman ${ms(samples.podman.at(-1)!)}, skopeo copy ${ms(samples.skopeo.at(-1)!)}`);
    }

    // Create + destroy: from the cached image, against from the default directory, interleaved.
    await warden(daemon.socket, "image", "pull", ref);
    const c = await daemon.client();
    const create = { image: [] as number[], directory: [] as number[] };
    for (let i = 0; i < CREATE_ROUNDS + 2; i++) {
      const image = await timed(async () => c.destroy(await c.create({ rootfs: ref })));
      const directory = await timed(async () => c.destroy(await c.create({})));
      if (i >= 2) {
        create.image.push(image);
        create.directory.push(directory);
      }
    }

    // Disk: 20 containers of the image, each having written nothing.
    const storeBefore = await du(join(daemon.depot, ".images"));
    const handles = [];
    for (let i = 0; i < DENSITY; i++) handles.push(await c.create({ rootfs: ref }));
    const depotWith = await du(daemon.depot);
    for (const h of handles) await c.destroy(h);

    const s = { wardend: summarize(samples.wardend), podman: summarize(samples.podman), skopeo: summarize(samples.skopeo) };
    const ci = summarize(create.image);
    const cd = summarize(create.directory);
    say("");
    say(markdownTable(
      ["", "median", "min", "ratio"],
      [
        ["pull, wardend (download, check, unpack, shift)", ms(s.wardend.median), ms(s.wardend.min), "1.00x"],
        ["pull, podman", ms(s.podman.median), ms(s.podman.min), `${(s.wardend.median / s.podman.median).toFixed(2)}x of podman`],
        ["copy, skopeo (download only)", ms(s.skopeo.median), ms(s.skopeo.min), `${(s.wardend.median / s.skopeo.median).toFixed(2)}x of skopeo`],
        ["create + destroy, cached image", ms(ci.median), ms(ci.min), `${(ci.median / cd.median).toFixed(2)}x of directory`],
        ["create + destroy, directory", ms(cd.median), ms(cd.min), "1.00x"],
      ],
    ));
    say(`\ndisk: the image's store ${(storeBefore / 1e6).toFixed(1)} MB; the depot with ${DENSITY} containers of it ${(depotWith / 1e6).toFixed(1)} MB (${((depotWith - storeBefore) / DENSITY / 1e3).toFixed(0)} kB a container)`);
  } finally {
    await daemon.stop().catch((err) => say(`daemon stop: ${err}`));
    await podman.tearDown().catch((err) => say(`podman tear-down: ${err}`));
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
