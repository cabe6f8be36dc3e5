// The CRI's handlers on their own: what the runtime says of itself, the
// API's rules for sandboxes and containers that are not there, and the
// image service's idempotent removal.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { imageHandlers } from "../../../../src/api/cri/image-service.js";
import { nanos } from "../../../../src/api/cri/longs.js";
import { runtimeHandlers } from "../../../../src/api/cri/runtime-service.js";
import { errors } from "../../../../src/core/errors.js";
import { runtime } from "../../../../src/protocol/gen/cri.js";
import v1 = runtime.v1;

const handlers = runtimeHandlers({
  runtimeVersion: "9.8.7",
  features: { userNamespaces: false, recursiveReadOnlyMounts: false, supplementalGroupsPolicy: false },
  info: () => ({ config: { runtime: "crun" } }),
});
const req = <T>(o: object) => o as T;

describe("the CRI runtime service", () => {
  it("names itself with every field a client requires", async () => {
    const v = await handlers.Version!(req({ version: "0.1.0" }));
    assert.deepEqual(v, { version: "0.1.0", runtime_name: "wardend", runtime_version: "9.8.7", runtime_api_version: "v1" });
  });

  it("is ready, with one default handler, and tells its configuration only when asked to be verbose", async () => {
    const quiet = await handlers.Status!(req({ verbose: false }));
    assert.deepEqual(quiet.status?.conditions?.map((c) => [c.type, c.status]), [["RuntimeReady", true], ["NetworkReady", true]]);
    assert.deepEqual(quiet.runtime_handlers?.map((h) => h.name), [""]);
    assert.deepEqual(quiet.info, {});
    const verbose = await handlers.Status!(req({ verbose: true }));
    assert.deepEqual(JSON.parse(verbose.info!.config), { runtime: "crun" });
  });

  it("drives cgroups as cgroupfs paths", async () => {
    assert.equal((await handlers.RuntimeConfig!(req({})))?.linux?.cgroup_driver, v1.CgroupDriver.CGROUPFS);
  });

  it("stops and removes unknown sandboxes and containers without complaint, and has no status for them", async () => {
    assert.deepEqual(await handlers.StopPodSandbox!(req({ pod_sandbox_id: "nope" })), {});
    assert.deepEqual(await handlers.RemovePodSandbox!(req({ pod_sandbox_id: "nope" })), {});
    assert.deepEqual(await handlers.StopContainer!(req({ container_id: "nope" })), {});
    assert.deepEqual(await handlers.RemoveContainer!(req({ container_id: "nope" })), {});
    await assert.rejects(handlers.PodSandboxStatus!(req({ pod_sandbox_id: "nope" })), /not found/);
    await assert.rejects(handlers.ContainerStatus!(req({ container_id: "nope" })), /not found/);
  });

  it("writes timestamps as exact nanoseconds, past what a double holds", () => {
    assert.equal(nanos(1_764_000_000_123).toString(), "1764000000123000000");
  });
});

describe("the CRI image service", () => {
  const removed: string[] = [];
  const images = imageHandlers({
    storePath: "/depot/.images",
    list: async () => [{ name: "docker.io/library/busybox:latest", id: "sha256:" + "a".repeat(64), size: 1234, holders: [] }],
    remove: async (image) => {
      if (image !== "busybox") throw errors.imageNotFound(image, "not in the store");
      removed.push(image);
    },
  });

  it("removes an image, and succeeds for one that is not there", async () => {
    await images.RemoveImage!(req({ image: { image: "busybox" } }));
    await images.RemoveImage!(req({ image: { image: "sha256:" + "0".repeat(64) } }));
    assert.deepEqual(removed, ["busybox"]);
    await assert.rejects(images.RemoveImage!(req({})), /no image named/);
  });

  it("reports the store's file system with the bytes its images use", async () => {
    const info = await images.ImageFsInfo!(req({}));
    const fs = info.image_filesystems![0];
    assert.equal(fs.fs_id?.mountpoint, "/depot/.images");
    assert.equal(fs.used_bytes?.value?.toString(), "1234");
    assert.ok(Number(fs.timestamp!.toString()) > 0);
  });
});
