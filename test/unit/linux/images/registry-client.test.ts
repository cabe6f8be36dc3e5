import assert from "node:assert/strict";
import type { Readable } from "node:stream";
import { afterEach, beforeEach, describe, it } from "node:test";
import { parseImageReference, type RegistryImage } from "../../../../src/core/images/reference.js";
import { parseChallenge, RegistryClient } from "../../../../src/linux/images/registry-client.js";
import { FakeRegistry, sha256 } from "../../../fakes/registry.js";

const amd64 = { os: "linux", architecture: "amd64" };

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("registry client", () => {
  let registry: FakeRegistry;
  const client = (more: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) =>
    new RegistryClient({ mirrors: {}, insecure: [], timeoutMs: 2000, ...more }, amd64);
  const ref = (name: string) => parseImageReference(`${registry.host}/${name}`) as RegistryImage;

  beforeEach(async () => {
    registry = new FakeRegistry();
    await registry.start();
  });
  afterEach(() => registry.stop());

  it("resolves a tag to its manifest's config and layers, asking for every manifest type, over plain HTTP on loopback", async () => {
    const image = registry.addImage("team/app", "v1", [Buffer.from("layer one"), Buffer.from("layer two")]);
    const resolved = await client().resolve(ref("team/app:v1"));
    assert.equal(resolved.digest, image.digest);
    assert.deepEqual(resolved.layers.map((l) => l.digest), image.layers.map((l) => l.digest));
    assert.equal(resolved.source.base, registry.url);
    const byDigest = await client().resolve(ref(`team/app@${image.digest}`));
    assert.equal(byDigest.digest, image.digest);
  });

  it("takes this machine's platform from an index", async () => {
    const amd = registry.addImage("multi", "amd", [Buffer.from("amd64 bits")]);
    const arm = registry.addImage("multi", "arm", [Buffer.from("arm64 bits")]);
    registry.addManifest("multi", ["latest"], {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: arm.digest, size: arm.manifest.length, platform: { os: "linux", architecture: "arm64" } },
        { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: amd.digest, size: amd.manifest.length, platform: { os: "linux", architecture: "amd64" } },
      ],
    }, "application/vnd.oci.image.index.v1+json");
    assert.equal((await client().resolve(ref("multi"))).digest, amd.digest);
    const s390 = new RegistryClient({ mirrors: {}, insecure: [], timeoutMs: 2000 }, { os: "linux", architecture: "s390x" });
    await assert.rejects(s390.resolve(ref("multi")), { code: "IMAGE_INVALID", message: /no linux\/s390x variant \(it has linux\/arm64, linux\/amd64\)/ });
  });

  it("streams a blob, following a redirect, and a failure on the way as the registry's", async () => {
    registry.addImage("app", "v1", [Buffer.from("the layer's bytes")]);
    registry.redirectBlobs = true;
    const resolved = await client().resolve(ref("app:v1"));
    assert.equal((await readAll(await client().blobStream(resolved.source, resolved.layers[0], "app"))).toString(), "the layer's bytes");
    assert.ok(registry.requests.some((r) => r.url.startsWith("/storage/")));
    registry.failWith = 503;
    await assert.rejects(client().blobStream(resolved.source, resolved.layers[0], "app"), { code: "REGISTRY_UNAVAILABLE" });
  });

  it("refuses a manifest whose digest is not the one asked for", async () => {
    const image = registry.addImage("app", "v1", [Buffer.from("x")]);
    const other = sha256("something else");
    registry.manifests.get("app")!.set(other, { body: image.manifest, type: image.manifestType });
    await assert.rejects(client().resolve(ref(`app@${other}`)), { code: "DIGEST_MISMATCH" });
  });

  it("logs in with basic credentials when the registry asks, and says when they are wrong or missing", async () => {
    registry.addImage("private", "v1", [Buffer.from("secret")]);
    registry.auth = { kind: "basic", username: "ann", password: "pw" };
    const resolved = await client().resolve(ref("private:v1"), { username: "ann", password: "pw" });
    assert.equal((await readAll(await client().blobStream(resolved.source, resolved.layers[0], "private"))).toString(), "secret");
    await assert.rejects(client().resolve(ref("private:v1"), { username: "ann", password: "nope" }), { code: "IMAGE_UNAUTHORIZED" });
    await assert.rejects(client().resolve(ref("private:v1")), { code: "IMAGE_UNAUTHORIZED", detail: /username and password/ });
  });

  it("gets a bearer token from the realm the challenge names, with the credentials when asked, and uses it for blobs", async () => {
    registry.addImage("tokened", "v1", [Buffer.from("layer")]);
    registry.auth = { kind: "bearer", username: "bo", password: "s3" };
    const resolved = await client().resolve(ref("tokened:v1"), { username: "bo", password: "s3" });
    assert.equal((await readAll(await client().blobStream(resolved.source, resolved.layers[0], "tokened"))).toString(), "layer");
    const token = registry.requests.find((r) => r.url.startsWith("/token"))!;
    assert.match(token.url, /service=fake-registry/);
    assert.match(token.url, /scope=repository%3Atokened%3Apull/);
    assert.ok(registry.requests.filter((r) => r.url.includes("/blobs/")).every((r) => r.authorization === "Bearer t0ken"));
    await assert.rejects(client().resolve(ref("tokened:v1"), { username: "bo", password: "wrong" }), { code: "IMAGE_UNAUTHORIZED" });
    registry.auth = { kind: "bearer" };
    await client().resolve(ref("tokened:v1"));
  });

  it("tries mirrors first, in order, keeping the image's own name, and the registry when none has it", async () => {
    const mirror = new FakeRegistry();
    await mirror.start();
    try {
      mirror.addImage("library/busybox", "1.37", [Buffer.from("from the mirror")]);
      const c = client({ mirrors: { "docker.io": ["http://127.0.0.1:1", mirror.url] } });
      const resolved = await c.resolve(parseImageReference("busybox:1.37") as RegistryImage);
      assert.equal(resolved.source.base, mirror.url);
      assert.deepEqual(c.endpoints("docker.io"), ["http://127.0.0.1:1", mirror.url, "https://registry-1.docker.io"]);
    } finally {
      await mirror.stop();
    }
  });

  it("reaches a registry over plain HTTP only when it is loopback or configured insecure", () => {
    assert.deepEqual(client().endpoints("registry.example.com:5000"), ["https://registry.example.com:5000"]);
    assert.deepEqual(client({ insecure: ["registry.example.com:5000"] }).endpoints("registry.example.com:5000"), ["http://registry.example.com:5000"]);
    assert.deepEqual(client().endpoints("localhost:5000"), ["http://localhost:5000"]);
  });

  it("says an image is not found, and a registry that is down or failing cannot be reached", async () => {
    await assert.rejects(client().resolve(ref("nothing:here")), { code: "IMAGE_NOT_FOUND" });
    registry.failWith = 500;
    await assert.rejects(client().resolve(ref("nothing:here")), { code: "REGISTRY_UNAVAILABLE" });
    await assert.rejects(
      client().resolve(parseImageReference("127.0.0.1:1/app:v1") as RegistryImage),
      { code: "REGISTRY_UNAVAILABLE", details: { registry: "127.0.0.1:1" } },
    );
  });

  it("reads authentication challenges", () => {
    assert.deepEqual(parseChallenge('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"'), {
      scheme: "bearer",
      params: { realm: "https://auth.example.com/token", service: "registry.example.com", scope: "repository:a/b:pull" },
    });
    assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: "basic", params: { realm: "x" } });
  });
});
