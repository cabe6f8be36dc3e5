// The admin channel over a unix socket, on the core over fakes: routes,
// JSON lines of a pull, error statuses, and requests it must refuse.
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AdminServer } from "../../../../src/api/admin/server.js";
import { AdminClient, AdminError } from "../../../../src/client/admin-client.js";
import { errors } from "../../../../src/core/errors.js";
import { nullLogger } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";

function raw(socketPath: string, method: string, path: string, body?: string | Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("admin channel", () => {
  let dir: string;
  let path: string;
  let m: FakeMachine;
  let server: AdminServer;
  let client: AdminClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "wadmin-"));
    path = join(dir, "w.sock.admin");
    m = new FakeMachine();
    server = new AdminServer({ path, permissions: 0o600, images: m.service().images, logger: nullLogger });
    await server.listen();
    client = AdminClient.besideWardenSocket(join(dir, "w.sock"));
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("listens with the Warden socket's permissions", async () => {
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it("pulls (normalizing the name), lists, removes by name or id, and prunes", async () => {
    const image = m.images.add("docker.io/library/busybox:latest", { env: ["A=1"] });
    const pulled = await client.pullImage("busybox");
    assert.deepEqual(pulled, { name: image.name, id: image.id, layers: 2, config: { env: ["A=1"] } });
    assert.deepEqual((await client.listImages()).map((i) => i.name), [image.name]);
    assert.equal(await client.removeImage("busybox:latest"), image.name);
    m.images.add("docker.io/team/app:v1");
    assert.equal(await client.removeImage(image.id), "docker.io/team/app:v1", "by id");
    assert.deepEqual(await client.pruneImages(), { images: [], bytes: 0 });
  });

  it("answers errors with their code and a status for it", async () => {
    await assert.rejects(client.pullImage("docker:///nothing#here"), (err: AdminError) => err.code === "IMAGE_NOT_FOUND" && /image docker\.io\/library\/nothing:here not found/.test(err.message));
    await assert.rejects(client.removeImage("/a/directory"), { code: "INVALID_REQUEST", message: "/a/directory is a directory, not an image" });
    m.images.failAcquire = undefined;
    const notFound = await raw(path, "DELETE", `/images/${encodeURIComponent(`sha256:${"b".repeat(64)}`)}`);
    assert.equal(notFound.status, 404);
    assert.equal(JSON.parse(notFound.text).error.code, "IMAGE_NOT_FOUND");
  });

  it("refuses what is no request of its own: bad JSON, a body too large, an unknown route, a pull naming nothing", async () => {
    assert.deepEqual(await raw(path, "POST", "/images/pull", "{not json"), { status: 400, text: '{"error":{"code":"INVALID_REQUEST","message":"the request body is not JSON"}}\n' });
    assert.equal((await raw(path, "POST", "/images/pull", Buffer.alloc(70 * 1024, "a"))).status, 413);
    assert.equal((await raw(path, "POST", "/images/pull", "[]")).status, 400);
    assert.match((await raw(path, "POST", "/images/pull", '{"ref": 7}')).text, /ref must be a string/);
    assert.match((await raw(path, "POST", "/images/pull", "{}")).text, /ref must name an image/);
    const unknown = await raw(path, "GET", "/containers");
    assert.equal(unknown.status, 404);
    assert.match(unknown.text, /no route GET \/containers/);
    // Still serving.
    assert.ok(Array.isArray(await client.listImages()));
  });

  it("ends a pull that fails after it began with an error line", async () => {
    m.images.add("docker.io/library/flaky:latest");
    const original = m.images.pull.bind(m.images);
    m.images.pull = async () => {
      throw errors.registryUnavailable("docker.io", "connection reset");
    };
    try {
      await assert.rejects(client.pullImage("flaky"), { code: "REGISTRY_UNAVAILABLE", message: "the registry docker.io cannot be reached: connection reset" });
    } finally {
      m.images.pull = original;
    }
  });
});
