// The image store against a registry in this process and image files made
// here, with the host's tar unpacking real layers into a temporary depot.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { parseImageReference } from "../../../../src/core/images/reference.js";
import type { PullProgress } from "../../../../src/core/interfaces/image-store.js";
import { hostCommands, run } from "../../../../src/linux/command.js";
import { LinuxImageStore, type StoredReference } from "../../../../src/linux/images/image-store.js";
import { RegistryClient } from "../../../../src/linux/images/registry-client.js";
import { nullLogger } from "../../../fakes/fakes.js";
import { FakeRegistry, sha256 } from "../../../fakes/registry.js";

type Files = Record<string, string>;

describe("image store", () => {
  let dir: string;
  let registry: FakeRegistry;
  let root: string;
  let n = 0;

  before(async () => (dir = await mkdtemp(join(tmpdir(), "wimages-"))));
  after(() => rm(dir, { recursive: true, force: true }));
  beforeEach(async () => {
    registry = new FakeRegistry();
    await registry.start();
    root = join(dir, `store-${++n}`);
  });
  afterEach(() => registry.stop());

  const store = (more: Partial<ConstructorParameters<typeof LinuxImageStore>[0]> = {}) =>
    new LinuxImageStore({
      root,
      registry: new RegistryClient({ mirrors: {}, insecure: [], timeoutMs: 5000 }, { os: "linux", architecture: "amd64" }),
      commands: hostCommands,
      log: nullLogger,
      ...more,
    });
  const ref = (text: string) => parseImageReference(text.startsWith("/") || text.includes(":/") ? text : `${registry.host}/${text}`) as StoredReference;

  /** A gzipped layer tar holding `files` (a value "WHITEOUT" makes the OCI whiteout of that name). */
  async function layer(files: Files, compress = true): Promise<Buffer> {
    const src = await mkdtemp(join(dir, "layer-"));
    for (const [path, content] of Object.entries(files)) {
      const parts = path.split("/");
      const target = content === "WHITEOUT" ? join(src, ...parts.slice(0, -1), `.wh.${parts.at(-1)}`) : join(src, path);
      await mkdir(join(target, ".."), { recursive: true });
      await writeFile(target, content === "WHITEOUT" ? "" : content);
    }
    const out = join(dir, `layer-${Math.random().toString(36).slice(2)}.tar`);
    await run(["tar", "--create", ...(compress ? ["--gzip"] : []), `--file=${out}`, `--directory=${src}`, "--numeric-owner", "."]);
    return readFile(out);
  }

  const blobRequests = (digest: string) => registry.requests.filter((r) => r.url.endsWith(`/blobs/${digest}`)).length;

  it("pulls an image into layers stacked lowest first, with its configuration, and holds it for a container", async () => {
    const image = registry.addImage("app", "v1", [await layer({ "etc/base": "base\n", "etc/gone": "x" }), await layer({ "etc/top": "top\n", "etc/gone": "WHITEOUT" })], {
      os: "linux",
      architecture: "amd64",
      config: { Env: ["PATH=/usr/bin", "APP=1", "broken"], WorkingDir: "/srv", User: "1000:1000", Entrypoint: ["/app"], Cmd: ["serve"] },
    });
    const s = store();
    const progress: PullProgress[] = [];
    const got = await s.acquire(ref("app:v1"), "c1", { onProgress: (p) => progress.push(p) });
    assert.equal(got.name, `${registry.host}/app:v1`);
    assert.equal(got.id, image.digest);
    assert.equal(got.layers.length, 2);
    assert.equal(await readFile(join(got.layers[0], "etc/base"), "utf8"), "base\n");
    assert.equal(await readFile(join(got.layers[1], "etc/top"), "utf8"), "top\n");
    const whiteout = await lstat(join(got.layers[1], "etc/gone"));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0);
    assert.deepEqual(got.config, { env: ["PATH=/usr/bin", "APP=1"], workingDir: "/srv", user: "1000:1000", entrypoint: ["/app"], cmd: ["serve"] });
    const last = progress.at(-1)!;
    assert.deepEqual([last.layersDone, last.layers, last.bytes], [2, 2, last.totalBytes]);
    assert.ok(last.totalBytes > 0);
    assert.deepEqual((await s.list()).map((i) => [i.name, i.holders]), [[got.name, ["c1"]]]);
    await s.release("c1");
    assert.deepEqual((await s.list())[0].holders, []);
    assert.deepEqual(await readdir(join(root, "tmp")), [], "no download or unpacking is left behind");
  });

  it("fetches an image once for two containers created at once, and uses the store after, without the registry", async () => {
    const image = registry.addImage("app", "v1", [await layer({ a: "1" }), await layer({ b: "2" })]);
    const s = store();
    const [one, two] = await Promise.all([s.acquire(ref("app:v1"), "c1"), s.acquire(ref("app:v1"), "c2")]);
    assert.deepEqual(one.layers, two.layers);
    for (const l of image.layers) assert.equal(blobRequests(l.digest), 1);
    registry.failWith = 503;
    const three = await store().acquire(ref("app:v1"), "c3");
    assert.deepEqual(three.layers, one.layers, "a restarted daemon finds the image in the store");
    assert.deepEqual((await s.list())[0].holders.sort(), ["c1", "c2", "c3"]);
  });

  it("shares a layer between images: unpacked once, in one directory", async () => {
    const shared = await layer({ "usr/lib/libc": "libc" });
    const a = registry.addImage("a", "v1", [shared, await layer({ a: "a" })]);
    registry.addImage("b", "v1", [shared, await layer({ b: "b" })]);
    const s = store();
    const imgA = await s.acquire(ref("a:v1"), "c1");
    const imgB = await s.acquire(ref("b:v1"), "c2");
    assert.equal(imgA.layers[0], imgB.layers[0]);
    assert.equal(blobRequests(a.layers[0].digest), 1);
    assert.equal((await readdir(join(root, "l"))).length, 3);
  });

  it("refuses a blob that is not its digest, keeping nothing of the pull, not even its sound layers", async () => {
    const image = registry.addImage("app", "v1", [await layer({ a: "1" }), await layer({ b: "2" })]);
    registry.corrupt.set(image.layers[1].digest, Buffer.from("tampered"));
    const s = store({ concurrency: 1 });
    await assert.rejects(s.acquire(ref("app:v1"), "c1"), { code: "DIGEST_MISMATCH" });
    assert.deepEqual(await readdir(join(root, "l")), []);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
    assert.deepEqual(await s.list(), []);
    registry.corrupt.clear();
    assert.equal((await s.acquire(ref("app:v1"), "c1")).layers.length, 2, "the next pull redoes it");
  });

  it("refuses layers that are no filesystem and images for another OS", async () => {
    const blob = registry.addBlob("encrypted");
    const config = registry.addBlob(JSON.stringify({ os: "linux", config: {} }));
    registry.addManifest("enc", ["v1"], {
      schemaVersion: 2,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip+encrypted", ...blob }],
    });
    registry.addImage("win", "v1", [await layer({ a: "1" })], { os: "windows", config: {} });
    const s = store();
    await assert.rejects(s.acquire(ref("enc:v1"), "c1"), { code: "IMAGE_INVALID", message: /not a filesystem layer/ });
    await assert.rejects(s.acquire(ref("win:v1"), "c1"), { code: "IMAGE_INVALID", message: /built for windows, not linux/ });
    await assert.rejects(s.acquire(ref("none:v1"), "c1"), { code: "IMAGE_NOT_FOUND" });
  });

  it("removes an image only when no container holds it; prune keeps what held images use and says what it freed", async () => {
    const shared = await layer({ shared: "s".repeat(10000) });
    registry.addImage("a", "v1", [shared, await layer({ a: "a".repeat(10000) })]);
    registry.addImage("b", "v1", [shared, await layer({ b: "b" })]);
    const s = store();
    const a = await s.acquire(ref("a:v1"), "c1");
    await s.acquire(ref("b:v1"), "c2");
    await assert.rejects(s.remove(a.name), { code: "IMAGE_IN_USE", detail: "c1" });
    await assert.rejects(s.remove(`${registry.host}/nothing:v1`), { code: "IMAGE_NOT_FOUND" });
    await s.release("c1");
    const pruned = await s.prune();
    assert.deepEqual(pruned.images, [a.name]);
    assert.ok(pruned.bytes >= 10000, `freed ${pruned.bytes} bytes`);
    assert.ok(existsSync(a.layers[0]), "the layer image b has is kept");
    assert.ok(!existsSync(a.layers[1]));
    await s.release("c2");
    await s.remove(`${registry.host}/b:v1`);
    assert.deepEqual(await readdir(join(root, "l")), []);
    assert.deepEqual(await s.list(), []);
  });

  it("pull asks the registry again: a moved tag gives the new image, and the old layers stay while a container uses them", async () => {
    registry.addImage("app", "latest", [await layer({ v: "1" })]);
    const s = store();
    const old = await s.acquire(ref("app"), "c1");
    const moved = registry.addImage("app", "latest", [await layer({ v: "2" })]);
    assert.equal((await s.acquire(ref("app"), "c2")).id, old.id, "acquire uses what is in the store");
    const fresh = await s.pull(ref("app"));
    assert.equal(fresh.id, moved.digest);
    await s.release("c2");
    await s.prune();
    assert.equal(await readFile(join(old.layers[0], "v"), "utf8"), "1", "c1 still stands on the old layer");
    assert.equal(await readFile(join(fresh.layers[0], "v"), "utf8"), "2");
    assert.deepEqual((await s.list()).map((i) => i.id), [moved.digest]);
    await s.release("c1");
    assert.deepEqual((await s.prune()).images, [fresh.name]);
    assert.ok(!existsSync(old.layers[0]));
    assert.ok(!existsSync(fresh.layers[0]));
  });

  it("clears what a daemon killed half-way left, and releases holds of containers that are gone", async () => {
    registry.addImage("app", "v1", [await layer({ a: "1" })]);
    const s = store();
    await s.acquire(ref("app:v1"), "c1");
    await s.acquire(ref("app:v1"), "c2");
    await writeFile(join(root, "tmp", "abc.blob"), "half a download");
    await mkdir(join(root, "tmp", "abc.layer", "usr"), { recursive: true });
    const restarted = store();
    await restarted.reconcile(new Set(["c2"]));
    assert.deepEqual(await readdir(join(root, "tmp")), []);
    assert.deepEqual((await restarted.list())[0].holders, ["c2"]);
  });

  it("shifts layers into the containers' user namespace once, keyed by the map", async () => {
    const src = await mkdtemp(join(dir, "owned-"));
    await writeFile(join(src, "f"), "");
    await run(["chown", "7:8", join(src, "f")]);
    const tar = join(dir, "owned.tar");
    await run(["tar", "--create", `--file=${tar}`, `--directory=${src}`, "--numeric-owner", "."]);
    registry.addImage("app", "v1", [await readFile(tar)]);
    const shifted = await store({ idMap: { hostId: 1_000_000_000, size: 65536 } }).acquire(ref("app:v1"), "c1");
    const st = await lstat(join(shifted.layers[0], "f"));
    assert.deepEqual([st.uid, st.gid], [1_000_000_007, 1_000_000_008]);
    const plain = await store().acquire(ref("app:v1"), "c2");
    assert.notEqual(plain.layers[0], shifted.layers[0]);
    assert.equal((await lstat(join(plain.layers[0], "f"))).uid, 7);
  });

  it("flattens the lowest layers of an image deeper than the stack allows, whiteouts applied", async () => {
    registry.addImage("deep", "v1", [
      await layer({ "one": "1", "gone": "x" }),
      await layer({ "two": "2" }),
      await layer({ "gone": "WHITEOUT", "three": "3" }),
      await layer({ "four": "4" }),
    ]);
    const got = await store({ maxLayers: 2 }).acquire(ref("deep:v1"), "c1");
    assert.equal(got.layers.length, 2);
    const flat = got.layers[0];
    assert.deepEqual((await readdir(flat)).sort(), ["one", "three", "two"]);
    assert.deepEqual(await readdir(got.layers[1]), ["four"]);
    const { stdout } = await run(["cat", "/proc/self/mountinfo"]);
    assert.ok(!stdout.includes(root), "the overlay used to flatten is gone");
  });

  it("loads OCI layouts (by tag), OCI archives and Docker archives, checking their blobs", async () => {
    const layout = join(dir, `layout-${n}`);
    const put = async (data: Buffer | string) => {
      const digest = sha256(data);
      await mkdir(join(layout, "blobs/sha256"), { recursive: true });
      await writeFile(join(layout, "blobs/sha256", digest.slice(7)), data);
      return { digest, size: Buffer.byteLength(data) };
    };
    const layerTar = await layer({ "hello": "from a layout" }, false);
    const layerBlob = await put(layerTar);
    const configBlob = await put(JSON.stringify({ os: "linux", config: { Env: ["FROM=layout"] } }));
    const manifest = JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configBlob },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layerBlob }],
    });
    const manifestBlob = await put(manifest);
    await writeFile(join(layout, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
    await writeFile(join(layout, "index.json"), JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifestBlob, annotations: { "org.opencontainers.image.ref.name": "v1" } }],
    }));
    const s = store();
    const fromLayout = await s.acquire(ref(`oci:${layout}:v1`), "c1");
    assert.equal(await readFile(join(fromLayout.layers[0], "hello"), "utf8"), "from a layout");
    assert.deepEqual(fromLayout.config.env, ["FROM=layout"]);
    await assert.rejects(s.acquire(ref(`oci:${layout}:v2`), "c1"), { code: "IMAGE_NOT_FOUND", detail: /no manifest is tagged v2/ });

    const archive = join(dir, `image-${n}.tar`);
    await run(["tar", "--create", `--file=${archive}`, `--directory=${layout}`, "."]);
    const fromArchive = await s.acquire(ref(`oci-archive:${archive}`), "c2");
    assert.equal(fromArchive.layers[0], fromLayout.layers[0], "the same layer, unpacked once");

    const docker = join(dir, `docker-${n}`);
    await mkdir(join(docker, "abc"), { recursive: true });
    await writeFile(join(docker, "abc/layer.tar"), layerTar);
    await writeFile(join(docker, "config.json"), JSON.stringify({ os: "linux", config: { WorkingDir: "/w" } }));
    await writeFile(join(docker, "manifest.json"), JSON.stringify([{ Config: "config.json", RepoTags: ["app:v1"], Layers: ["abc/layer.tar"] }]));
    const dockerTar = join(dir, `docker-${n}.tar`);
    await run(["tar", "--create", `--file=${dockerTar}`, `--directory=${docker}`, "."]);
    const fromDocker = await s.acquire(ref(`docker-archive:${dockerTar}`), "c3");
    assert.equal(fromDocker.config.workingDir, "/w");
    assert.equal(await readFile(join(fromDocker.layers[0], "hello"), "utf8"), "from a layout");
    assert.deepEqual(await readdir(join(root, "tmp")), [], "the unpacked archives are gone");
    // Either form reads either format, and names the image by what it is: one image per file.
    const asOci = await s.acquire(ref(`oci-archive:${dockerTar}`), "c6");
    assert.equal(asOci.name, `docker-archive:${dockerTar}`);
    assert.equal(asOci.id, fromDocker.id);

    // A layout whose blob was changed after it was written.
    await writeFile(join(layout, "blobs/sha256", layerBlob.digest.slice(7)), await layer({ "hello": "evil" }, false));
    await assert.rejects(store({ root: join(root, "other") }).acquire(ref(`oci:${layout}:v1`), "c4"), { code: "DIGEST_MISMATCH" });

    const escaping = join(dir, `escape-${n}`);
    await mkdir(escaping);
    await writeFile(join(escaping, "manifest.json"), JSON.stringify([{ Config: "../../etc/passwd", Layers: [] }]));
    const escapingTar = join(dir, `escape-${n}.tar`);
    await run(["tar", "--create", `--file=${escapingTar}`, `--directory=${escaping}`, "."]);
    await assert.rejects(s.acquire(ref(`docker-archive:${escapingTar}`), "c5"), { code: "IMAGE_INVALID", message: /outside the archive/ });
    await assert.rejects(s.acquire(ref(`docker-archive:${join(dir, "missing.tar")}`), "c5"), { code: "IMAGE_INVALID", message: /cannot be read/ });
  });
});

