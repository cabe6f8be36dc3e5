// The CRI's gRPC server on a real unix socket, driven by a gRPC client built
// from the same method definitions: calls reach their handlers, failures
// come back as the status codes the API's clients act on, and bad input does
// not take the server down.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceError } from "@grpc/grpc-js";
import { imageService, runtimeService } from "../../../../src/api/cri/codec.js";
import { CriServer } from "../../../../src/api/cri/server.js";
import { errors } from "../../../../src/core/errors.js";
import { runtime } from "../../../../src/protocol/gen/cri.js";
import { nullLogger } from "../../../fakes/fakes.js";

type Call = (request: object, callback: (err: ServiceError | null, response: unknown) => void) => void;

function call(client: Client, method: string, request: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    ((client as unknown as Record<string, Call>)[method]).call(client, request, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as ServiceError;
  }
  throw new Error("the call succeeded");
}

describe("the CRI server", () => {
  let dir: string;
  let server: CriServer;
  let rt: Client;
  let images: Client;
  const seen: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cri-server-"));
    server = new CriServer({
      socketPath: join(dir, "cri.sock"),
      socketPermissions: 0o600,
      logger: nullLogger,
      runtime: {
        Version: async (r) => {
          seen.push(r.version);
          return { version: "0.1.0", runtime_name: "test", runtime_version: "1.2.3", runtime_api_version: "v1" };
        },
        ContainerStatus: async (r) => {
          throw errors.containerNotFound(r.container_id);
        },
        StopContainer: async () => {
          throw errors.commandFailed("crun kill: exit status 1");
        },
        RemoveContainer: async () => {
          throw new Error("a bug of ours");
        },
      },
      images: {
        ImageStatus: async (r) => {
          // Presence is kept: an absent message stays null, an empty one is an object.
          seen.push(r.image == null ? "absent" : `present ${JSON.stringify(r.image.image)}`);
          return {};
        },
      },
    });
    await server.listen();
    const target = `unix://${join(dir, "cri.sock")}`;
    rt = new (makeGenericClientConstructor(runtimeService, "RuntimeService"))(target, credentials.createInsecure());
    images = new (makeGenericClientConstructor(imageService, "ImageService"))(target, credentials.createInsecure());
  });

  after(async () => {
    rt.close();
    images.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("listens on its socket with the permissions asked for", async () => {
    assert.equal((await stat(join(dir, "cri.sock"))).mode & 0o777, 0o600);
  });

  it("answers a call with its handler's response, decoded as the API's message", async () => {
    const response = (await call(rt, "Version", { version: "0.1.0" })) as runtime.v1.VersionResponse;
    assert.equal(response.runtime_name, "test");
    assert.equal(response.runtime_version, "1.2.3");
    assert.ok(seen.includes("0.1.0"), "the handler got the request's field");
  });

  it("answers UNIMPLEMENTED for a method without a handler", async () => {
    const err = await refusal(call(rt, "Attach", { container_id: "x" }));
    assert.equal(err.code, status.UNIMPLEMENTED);
    assert.match(err.details, /Attach/);
  });

  it("turns the core's not-found into NOT_FOUND, a tool's failure into UNKNOWN and a bug into INTERNAL", async () => {
    const missing = await refusal(call(rt, "ContainerStatus", { container_id: "gone" }));
    assert.equal(missing.code, status.NOT_FOUND);
    assert.match(missing.details, /gone/);
    const failed = await refusal(call(rt, "StopContainer", { container_id: "x" }));
    assert.equal(failed.code, status.UNKNOWN);
    assert.match(failed.details, /crun kill/);
    assert.equal((await refusal(call(rt, "RemoveContainer", { container_id: "x" }))).code, status.INTERNAL);
  });

  it("tells an absent message from an empty one", async () => {
    await call(images, "ImageStatus", {});
    await call(images, "ImageStatus", { image: {} });
    assert.deepEqual(seen.filter((s) => s.startsWith("absent") || s.startsWith("present")), ["absent", 'present ""']);
  });

  it("refuses a request that does not decode, and goes on serving", async () => {
    // A raw call with bytes that are no VersionRequest (a field 1 of wire type 7 does not exist).
    const raw = new (makeGenericClientConstructor(
      { Version: { ...runtimeService.Version, requestSerialize: (b: Buffer) => b } },
      "Raw",
    ))(`unix://${join(dir, "cri.sock")}`, credentials.createInsecure());
    const err = await refusal(
      new Promise((resolve, reject) =>
        (raw as unknown as Record<string, (r: Buffer, m: Metadata, cb: (e: ServiceError | null, v: unknown) => void) => void>).Version(
          Buffer.from([0x0f, 0xff, 0xff]),
          new Metadata(),
          (e, v) => (e ? reject(e) : resolve(v)),
        ),
      ),
    );
    raw.close();
    assert.notEqual(err.code, status.OK);
    assert.equal(((await call(rt, "Version", {})) as runtime.v1.VersionResponse).runtime_name, "test");
  });

  it("refuses a request over its size limit without reading it whole", async () => {
    const err = await refusal(call(rt, "Version", { version: "x".repeat(5 * 1024 * 1024) }));
    assert.equal(err.code, status.RESOURCE_EXHAUSTED);
  });

  it("removes its socket when closed", async () => {
    const other = new CriServer({ socketPath: join(dir, "other.sock"), logger: nullLogger, runtime: {}, images: {} });
    await other.listen();
    assert.ok(existsSync(join(dir, "other.sock")));
    await other.close();
    assert.ok(!existsSync(join(dir, "other.sock")));
  });
});
