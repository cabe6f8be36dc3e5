// Containers from OCI images, pulled from a real registry (Debian's
// docker-registry on loopback) through mirrors, over TLS with a test CA,
// with basic and bearer-token auth; the store's sharing, crash safety and
// clean-up; the `warden image` commands.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ProcessRef } from "../../src/core/service/container-service.js";
import type { WardenClient } from "../../src/client/client.js";
import { eventually, InProcessDaemon, REPO, startDaemon, USERNS_ROOT, type TestDaemon } from "./harness.js";
import { LayoutWriter, toolsLayer } from "./oci-layout.js";
import { makePki, prepareCertDir, TestNetns, TestRegistry, type TestPki } from "./registry.js";
import { run } from "../../src/linux/command.js";

const USER = { username: "alice", password: "s3cret pass" };
/** Where a hostile layer tries to write on the host. */
const ESCAPE = `warden-escape-${process.pid}`;

/** A gzipped tar of what `fill` puts in a directory, made with extra tar arguments. */
async function gzipped(fill: (dir: string) => Promise<void>, tarArgs: string[] = []): Promise<Buffer> {
  const dir = await mkdtemp(join(work, "raw-"));
  await fill(dir);
  const members = await readdir(dir);
  await run(["tar", "--create", "--gzip", `--file=${join(dir, "..", `${dir.split("/").at(-1)}.tgz`)}`, `--directory=${dir}`, ...tarArgs, ...members]);
  return readFile(join(dir, "..", `${dir.split("/").at(-1)}.tgz`));
}

function warden(socket: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO, "bin/warden"), "--socket", socket, ...args], (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/**
 * A mirror that forwards to the registry, and can be told to stop big blobs
 * after their first megabyte (a download caught half-way, a registry gone
 * silent) or to change a byte of them (a digest mismatch).
 */
class FaultyProxy {
  private server: Server | undefined;
  mode: "pass" | "stall" | "corrupt" = "pass";

  constructor(private readonly target: number) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const upstream = request({ host: "127.0.0.1", port: this.target, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const big = Number(up.headers["content-length"] ?? 0) > 4 * 1024 * 1024 && req.url?.includes("/blobs/");
        if (!big || this.mode === "pass") {
          up.pipe(res);
          return;
        }
        let sent = 0;
        up.on("data", (chunk: Buffer) => {
          if (this.mode === "stall" && sent >= 1024 * 1024) return up.pause();
          if (this.mode === "corrupt" && sent === 0) chunk = Buffer.concat([Buffer.from([chunk[0] ^ 0xff]), chunk.subarray(1)]);
          res.write(chunk);
          sent += chunk.length;
        });
        up.on("end", () => res.end());
      });
      req.pipe(upstream);
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

let work: string;
let plain: TestRegistry;
let secure: TestRegistry;
let tokened: TestRegistry;
let pki: TestPki;
let proxy: FaultyProxy;
let insecure: TestRegistry;
const netns = new TestNetns();
let multiAmd64: string;

/** Mirrors and the CA every daemon of this file uses. */
function imagesConfig(): Record<string, unknown> {
  return {
    mirrors: {
      "docker.io": [plain.url],
      "registry.test": [secure.url],
      "token.test": [tokened.url],
      "slow.test": [proxy.url],
    },
    ca_file: pki.caCert,
    // Short, so a registry gone silent fails a pull within the test.
    timeout: 3,
  };
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), "wimages-it-"));
  pki = await makePki(work);
  await prepareCertDir(pki);
  for (const name of ["plain", "secure", "token"]) await mkdir(join(work, name));
  plain = await TestRegistry.start({ dir: join(work, "plain") });
  secure = await TestRegistry.start({ dir: join(work, "secure"), tls: pki, basic: USER });
  tokened = await TestRegistry.start({ dir: join(work, "token"), token: { pki, ...USER } });
  await netns.create();
  await mkdir(join(work, "insecure"));
  insecure = await TestRegistry.start({ dir: join(work, "insecure"), netns });
  proxy = new FaultyProxy(plain.port);
  await proxy.start();

  const layout = new LayoutWriter(join(work, "layout"));
  const app = await layout.image({
    layers: [
      async (root) => {
        await toolsLayer(root);
        await writeFile(join(root, "etc/obsolete"), "old\n");
        await mkdir(join(root, "var/cache"), { recursive: true });
        await writeFile(join(root, "var/cache/old"), "stale");
      },
      async (root) => {
        await mkdir(join(root, "app"));
        await writeFile(join(root, "app/hello.txt"), "hello from the image\n");
        await mkdir(join(root, "etc"));
        await writeFile(join(root, "etc/.wh.obsolete"), "");
        await mkdir(join(root, "var/cache"), { recursive: true });
        await writeFile(join(root, "var/cache/.wh..wh..opq"), "");
        await writeFile(join(root, "var/cache/new"), "fresh");
        await mkdir(join(root, "srv"));
        await link(join(root, "app/hello.txt"), join(root, "app/hard"));
        await symlink("hello.txt", join(root, "app/link"));
        await writeFile(join(root, "app/suid"), "#!/bin/sh\n");
        await chmod(join(root, "app/suid"), 0o4755);
      },
    ],
    config: { Env: ["PATH=/bin", "GREETING=from-image"], WorkingDir: "/srv", User: "app", Cmd: ["/bin/sh"] },
  });
  await layout.tag("app", app);
  const shared = await layout.image({ layers: [toolsLayer, async (root) => writeFile(join(root, "shared"), "shared\n")] });
  await layout.tag("shared", shared);
  const arm = await layout.image({
    architecture: "arm64",
    layers: [toolsLayer, async (root) => writeFile(join(root, "platform"), "arm64\n")],
  });
  const amd = await layout.image({ layers: [toolsLayer, async (root) => writeFile(join(root, "platform"), "amd64\n")] });
  multiAmd64 = amd.digest;
  await layout.tag("multi", await layout.index([arm, amd]));
  const big = await layout.image({
    layers: [toolsLayer, async (root) => writeFile(join(root, "big.bin"), randomBytes(24 * 1024 * 1024))],
  });
  await layout.tag("big", big);
  const whole = await gzipped(async (dir) => writeFile(join(dir, "file"), randomBytes(256 * 1024)));
  await layout.tag("truncated", await layout.image({ layers: [toolsLayer, { blob: whole.subarray(0, whole.length / 2) }] }));
  const hostile = await gzipped(async (dir) => writeFile(join(dir, "payload"), "pwned\n"), ["-P", `--transform=s,^payload,../../../../../../tmp/${ESCAPE},`]);
  await layout.tag("hostile", await layout.image({ layers: [toolsLayer, { blob: hostile }] }));

  await plain.push(layout.dir, "app", "test/app:v1");
  await plain.push(layout.dir, "shared", "test/shared:v1");
  await plain.push(layout.dir, "app", "library/busybox:1.37.0");
  await plain.push(layout.dir, "multi", "test/multi:v1");
  await plain.push(layout.dir, "big", "test/big:v1");
  await plain.push(layout.dir, "truncated", "test/truncated:v1");
  await plain.push(layout.dir, "hostile", "test/hostile:v1");
  await insecure.push(layout.dir, "app", "test/app:v1");
  await secure.push(layout.dir, "app", "private/app:v1");
  await tokened.push(layout.dir, "app", "team/app:v1");
});

after(async () => {
  // Every step is tried: a registry left running would keep this file's process alive. The first failure is the error.
  const steps = [
    () => proxy?.stop(),
    ...[plain, secure, tokened, insecure].map((r) => () => r?.stop()),
    () => netns.destroy(),
    () => run(["umount", join(work, "small")]).catch(() => {}),
    () => rm(work, { recursive: true, force: true }),
  ];
  let failure: unknown;
  for (const step of steps) await Promise.resolve().then(step).catch((err) => (failure ??= err));
  if (failure) throw failure;
});

describe("containers from images, through Warden's protocol and the CLI", () => {
  let daemon: TestDaemon;
  let c: WardenClient;
  const images = () => join(daemon.depot, ".images");

  before(async () => {
    daemon = await startDaemon({ config: { images: imagesConfig() } });
    c = await daemon.client();
  });
  after(() => daemon.stop());

  it("makes a container from docker://host:port/repo#tag: its layers stacked, whiteouts and opaque directories applied, Env and WorkingDir used", async () => {
    const h = await c.create({ rootfs: `docker://${plain.host}/test/app#v1` });
    const script = [
      "cat /app/hello.txt",
      'echo "$GREETING"',
      "pwd",
      "test -e /etc/obsolete || echo obsolete-gone",
      "ls /var/cache",
      "id -un",
      "stat -c %u:%g /app/hello.txt",
      "cat /etc/hostname",
      "echo written > /tmp/mine && cat /tmp/mine",
      "stat -c %h /app/hard",
      "readlink /app/link",
      "stat -c %a /app/suid",
    ].join("; ");
    const r = await c.run(h, script);
    assert.equal(r.stderr, "");
    assert.equal(r.exit_status, 0);
    const info = await c.info(h);
    const id = info.container_path!.split("/").at(-1);
    assert.equal(r.stdout, `hello from the image\nfrom-image\n/srv\nobsolete-gone\nnew\nvcap\n0:0\n${id}\nwritten\n2\nhello.txt\n4755\n`);
    // Writes stay in the container's own layer: the image's layers and a second container do not see them.
    const other = await c.create({ rootfs: `docker://${plain.host}/test/app#v1` });
    assert.equal((await c.run(other, "test -e /tmp/mine && echo seen || echo unseen")).stdout, "unseen\n");
    await c.destroy(other);
    // On the host the layers belong to the containers' user namespace, once.
    const layers = await readdir(join(images(), "l"));
    assert.equal(layers.length, 2);
    for (const l of layers) assert.equal((await stat(join(images(), "l", l))).uid, USERNS_ROOT);
    // Files go in and out as with a directory base.
    await writeFile(join(daemon.dir, "in.txt"), "copied in\n");
    await c.copyIn(h, join(daemon.dir, "in.txt"), "/tmp/in.txt");
    assert.equal((await c.run(h, "cat /tmp/in.txt")).stdout, "copied in\n");
    await c.copyOut(h, "/app/hello.txt", join(daemon.dir, "out.txt"));
    assert.equal(await readFile(join(daemon.dir, "out.txt"), "utf8"), "hello from the image\n");
    await c.destroy(h);
    // Let go of in the clean-up that follows Destroy's answer.
    await eventually(async () => (await readdir(join(images(), "holds"))).length === 0, "the container's hold to go with it");
  });

  it("fetches an image once for containers created at once, and shares its layers", async () => {
    const layersBefore = (await readdir(join(images(), "l"))).length;
    const handles = await Promise.all([1, 2, 3].map(() => c.create({ rootfs: `${plain.host}/test/shared:v1` })));
    // One config and two layers, once, for three containers.
    assert.equal(plain.blobGets("test/shared").length, 3, plain.blobGets("test/shared").join("\n"));
    assert.equal((await readdir(join(images(), "l"))).length, layersBefore + 2);
    for (const h of handles) assert.equal((await c.run(h, "cat /shared")).stdout, "shared\n");
    for (const h of handles) await c.destroy(h);
    // Another image with test/app's blobs: its layers are there already; nothing is unpacked again.
    const again = await c.create({ rootfs: `${plain.host}/library/busybox:1.37.0` });
    assert.equal((await readdir(join(images(), "l"))).length, layersBefore + 2);
    await c.destroy(again);
  });

  it("chooses this machine's platform from an index, and takes a digest", async () => {
    const h = await c.create({ rootfs: `${plain.host}/test/multi:v1` });
    assert.equal((await c.run(h, "cat /platform")).stdout, "amd64\n");
    const byDigest = await c.create({ rootfs: `${plain.host}/test/multi@${multiAmd64}` });
    assert.equal((await c.run(byDigest, "cat /platform")).stdout, "amd64\n");
    await c.destroy(h);
    await c.destroy(byDigest);
  });

  it("reaches Docker Hub's names through a mirror, keeping the image's own name", async () => {
    const h = await c.create({ rootfs: "docker:///busybox#1.37.0" });
    assert.equal((await c.run(h, "cat /app/hello.txt")).stdout, "hello from the image\n");
    const ls = await warden(daemon.socket, "--json", "image", "ls");
    assert.equal(ls.code, 0, ls.stderr);
    const listed = JSON.parse(ls.stdout) as Array<{ name: string; holders: string[] }>;
    assert.deepEqual(listed.find((i) => i.name === "docker.io/library/busybox:1.37.0")?.holders.length, 1);
    await c.destroy(h);
  });

  it("pulls over TLS with the configured CA and basic auth, refusing wrong credentials with a clear error", async () => {
    await assert.rejects(c.create({ rootfs: "registry.test/private/app:v1" }), /the registry [\w.:]+ refused access to registry\.test\/private\/app:v1/);
    const wrong = await warden(daemon.socket, "image", "pull", "registry.test/private/app:v1", "--username", "alice", "--password", "nope");
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /refused access/);
    const pulled = await warden(daemon.socket, "image", "pull", "registry.test/private/app:v1", "--username", USER.username, "--password", USER.password);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, /^registry\.test\/private\/app:v1 sha256:[0-9a-f]{64}\n$/);
    assert.match(pulled.stderr, /2\/2 layers/, "progress is shown");
    // Pulled, it is in the store: a container is made without asking the registry again.
    const h = await c.create({ rootfs: "registry.test/private/app:v1" });
    assert.equal((await c.run(h, "cat /app/hello.txt")).stdout, "hello from the image\n");
    await c.destroy(h);
  });

  it("follows a registry's bearer-token challenge, with credentials for the token service", async () => {
    const pulled = await warden(daemon.socket, "--json", "image", "pull", "token.test/team/app:v1", "--username", USER.username, "--password", USER.password);
    assert.equal(pulled.code, 0, pulled.stderr);
    const lines = pulled.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.progress), "progress lines in --json");
    assert.equal(lines.at(-1).image.name, "token.test/team/app:v1");
    assert.ok(tokened.tokensIssued.some((s) => s.includes("repository:team/app:pull")), tokened.tokensIssued.join(", "));
  });

  it("loads OCI and Docker archives as skopeo writes them, and makes containers from them", async () => {
    const oci = join(work, "app-oci.tar");
    const docker = join(work, "app-docker.tar");
    await run(["skopeo", "copy", "--quiet", `oci:${join(work, "layout")}:app`, `oci-archive:${oci}`]);
    await run(["skopeo", "copy", "--quiet", `oci:${join(work, "layout")}:app`, `docker-archive:${docker}:test/app:v1`]);
    for (const [file, kind] of [[oci, "oci-archive"], [docker, "docker-archive"]]) {
      const loaded = await warden(daemon.socket, "image", "load", file);
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, new RegExp(`^${kind}:${file} sha256:[0-9a-f]{64}\n$`));
      const h = await c.create({ rootfs: `${kind}:${file}` });
      assert.equal((await c.run(h, 'cat /app/hello.txt; echo "$GREETING"')).stdout, "hello from the image\nfrom-image\n");
      await c.destroy(h);
    }
    const listed = JSON.parse((await warden(daemon.socket, "--json", "image", "ls")).stdout) as Array<{ name: string }>;
    assert.ok(listed.some((i) => i.name === `docker-archive:${docker}`) && listed.some((i) => i.name === `oci-archive:${oci}`));
  });

  it("answers bad references and unreachable or empty registries clearly, and stays up", async () => {
    await assert.rejects(c.create({ rootfs: "docker://" }), /image "docker:\/\/" /);
    await assert.rejects(c.create({ rootfs: "Bad Name" }), /must be a non-empty name without blanks/);
    await assert.rejects(c.create({ rootfs: `${plain.host}/test/none:v1` }), /image 127\.0\.0\.1:\d+\/test\/none:v1 not found/);
    await assert.rejects(c.create({ rootfs: `${plain.host}/test/app@sha256:${"0".repeat(64)}` }), /not found/);
    await assert.rejects(c.create({ rootfs: "127.0.0.1:1/test/app:v1" }), /the registry 127\.0\.0\.1:1 cannot be reached/);
    const rm = await warden(daemon.socket, "image", "rm", "never/pulled:v1");
    assert.equal(rm.code, 1);
    assert.match(rm.stderr, /not found/);
    assert.equal((await warden(daemon.socket, "image", "frobnicate")).code, 2);
    assert.deepEqual(await readdir(join(images(), "tmp")), []);
    const h = await c.create({ rootfs: `${plain.host}/test/app:v1` });
    await c.destroy(h);
  });

  it("keeps an image a container uses across a restart, refuses to remove it, and prunes it once it is free", async () => {
    const h = await c.create({ rootfs: `${plain.host}/test/app:v1` });
    await daemon.terminate();
    await daemon.restart();
    c = await daemon.client();
    assert.equal((await c.run(h, 'echo "$GREETING"; pwd')).stdout, "from-image\n/srv\n", "the image's configuration survives the restart");
    const refused = await warden(daemon.socket, "image", "rm", `${plain.host}/test/app:v1`);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is used by 1 container\(s\)/);
    await c.destroy(h);
    const removed = await warden(daemon.socket, "image", "rm", `${plain.host}/test/app:v1`);
    assert.equal(removed.code, 0, removed.stderr);
    const pruned = await warden(daemon.socket, "image", "prune");
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /freed \d/);
    assert.equal((await warden(daemon.socket, "--json", "image", "ls")).stdout, "[]\n");
    assert.deepEqual(await readdir(join(images(), "l")), [], "no layer is left of pruned images");
  });

  it("gives up on a registry gone silent, after images.timeout, keeping nothing of the pull", async () => {
    const layers = await readdir(join(images(), "l"));
    proxy.mode = "stall";
    try {
      await assert.rejects(c.create({ rootfs: "slow.test/test/big:v1" }), /the registry [\w.:]+ cannot be reached: no answer within 3000 ms/);
    } finally {
      proxy.mode = "pass";
    }
    assert.deepEqual(await readdir(join(images(), "tmp")), []);
    assert.deepEqual((await readdir(join(images(), "l"))).sort(), layers.sort(), "not even the layers it finished");
  });

  it("refuses a blob that is not what its digest says", async () => {
    proxy.mode = "corrupt";
    try {
      await assert.rejects(c.create({ rootfs: "slow.test/test/big:v1" }), /what the registry sent for slow\.test\/test\/big:v1 is not sha256:/);
    } finally {
      proxy.mode = "pass";
    }
    assert.deepEqual(await readdir(join(images(), "tmp")), []);
  });

  it("refuses a truncated layer and a layer writing outside itself, keeping nothing of either", async () => {
    const layers = await readdir(join(images(), "l"));
    await assert.rejects(c.create({ rootfs: `${plain.host}/test/truncated:v1` }), /cannot be used: a layer cannot be unpacked: .*(unexpected end|Unexpected EOF)/i);
    await assert.rejects(c.create({ rootfs: `${plain.host}/test/hostile:v1` }), /a layer cannot be unpacked: .*contains '\.\.'/);
    assert.equal(existsSync(join("/tmp", ESCAPE)), false, "nothing was written outside the layer");
    assert.deepEqual((await readdir(join(images(), "l"))).sort(), layers.sort());
    assert.deepEqual(await readdir(join(images(), "tmp")), []);
  });

  it("refuses a registry off loopback over plain HTTP unless it is named insecure", async () => {
    await assert.rejects(
      c.create({ rootfs: `${insecure.host}/test/app:v1` }),
      /the registry 10\.254\.3\.254:5000 cannot be reached: .*name it in images\.insecure_registries/,
    );
  });

  it("leaves no half layer when killed during a pull, and the next pull redoes it", async () => {
    proxy.mode = "stall";
    const pull = spawn(process.execPath, [join(REPO, "bin/warden"), "--socket", daemon.socket, "image", "pull", "slow.test/test/big:v1"], { stdio: "ignore" });
    // The big layer is unpacked as it arrives: wait for its file to be half-written.
    const partial = await eventually(async () => {
      for (const f of existsSync(join(images(), "tmp")) ? await readdir(join(images(), "tmp")) : []) {
        const file = join(images(), "tmp", f, "big.bin");
        if (f.endsWith(".layer") && existsSync(file) && (await stat(file)).size > 0) return file;
      }
      return undefined;
    }, "a download under way");
    assert.ok(partial);
    await daemon.kill();
    pull.kill();
    proxy.mode = "pass";
    const layersBefore = new Set(await readdir(join(images(), "l")));
    await daemon.restart();
    c = await daemon.client();
    const h = await c.create({ rootfs: "slow.test/test/big:v1" });
    assert.deepEqual(await readdir(join(images(), "tmp")), [], "the partial download is gone");
    assert.equal((await c.run(h, "wc -c < /big.bin")).stdout.trim(), String(24 * 1024 * 1024));
    assert.ok((await readdir(join(images(), "l"))).length > layersBefore.size);
    await c.destroy(h);
  });
});

async function output(ref: ProcessRef): Promise<string> {
  let text = "";
  const it = ref.attach();
  for (;;) {
    const next = await it.next();
    if (next.done) return text;
    text += next.value.data.toString();
  }
}

describe("containers from images, through the core", () => {
  let daemon: InProcessDaemon;
  let small: string;
  before(async () => {
    // The store on a small disk of its own, to fill it.
    small = join(work, "small");
    await mkdir(small);
    await run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", small]);
    daemon = await InProcessDaemon.start({
      runtime: "runc",
      config: { images: { ...imagesConfig(), insecure_registries: [insecure.host], store_path: join(small, "images") } },
    });
  });
  after(() => daemon.stop());

  it("runs processes as the image's User in its WorkingDir with its Env, under what the process asks for (on runc)", async () => {
    const h = await daemon.service.create({ rootfs: "registry.test/private/app:v1", imageCredentials: USER });
    const id = () => daemon.service.run(h, { path: "/bin/sh", args: ["-c", 'id -un; pwd; echo "$GREETING $HOME"'] });
    assert.equal(await output(await id()), "app\n/srv\nfrom-image /home/app\n");
    const asRoot = await daemon.service.run(h, { path: "/bin/sh", args: ["-c", "id -un; pwd"], user: "root", dir: "/tmp" });
    assert.equal(await output(asRoot), "root\n/tmp\n");
    assert.equal(daemon.service.info(h).image?.name, "registry.test/private/app:v1");
  });

  it("reaches a registry named insecure over plain HTTP", async () => {
    const h = await daemon.service.create({ rootfs: `${insecure.host}/test/app:v1` });
    assert.equal(await output(await daemon.service.run(h, { path: "/bin/cat", args: ["/app/hello.txt"] })), "hello from the image\n");
    await daemon.service.destroy(h);
  });

  it("says when the store's disk is full, and keeps nothing of the pull", async () => {
    const layers = await readdir(join(small, "images/l"));
    await assert.rejects(daemon.service.create({ rootfs: "slow.test/test/big:v1" }), { code: "NO_SPACE", message: /no space left on the device holding/ });
    assert.deepEqual(await readdir(join(small, "images/tmp")), []);
    assert.deepEqual((await readdir(join(small, "images/l"))).sort(), layers.sort());
    assert.deepEqual(daemon.service.list(), daemon.service.list().filter((h) => daemon.service.info(h).image?.name !== "slow.test/test/big:v1"));
  });
});
