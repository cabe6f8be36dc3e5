// The CRI's handlers on their own: what the runtime says of itself, the
// API's rules for sandboxes and containers that are not there, and the
// image service's idempotent removal.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { imageHandlers } from "../../../../src/api/cri/image-service.js";
import { nanos } from "../../../../src/api/cri/longs.js";
import { runtimeHandlers } from "../../../../src/api/cri/runtime-service.js";
import { Sandboxes } from "../../../../src/api/cri/sandboxes.js";
import { errors } from "../../../../src/core/errors.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { FakeMachine } from "../../../fakes/service.js";
import { runtime } from "../../../../src/protocol/gen/cri.js";
import v1 = runtime.v1;

function handlersOn(service: ContainerService) {
  return runtimeHandlers({
    runtimeVersion: "9.8.7",
    features: { userNamespaces: false, recursiveReadOnlyMounts: false, supplementalGroupsPolicy: false },
    info: () => ({ config: { runtime: "crun" } }),
    sandboxes: new Sandboxes(service),
  });
}
const handlers = handlersOn(new FakeMachine().service());
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

describe("the CRI's pod sandboxes", () => {
  const config = {
    metadata: { name: "web", uid: "u-1", namespace: "ns", attempt: 2 },
    hostname: "test-hostname",
    labels: { app: "web", tier: "front" },
    annotations: { abc: "def" },
    log_directory: "/var/log/pods/x",
    port_mappings: [{ protocol: 0, container_port: 80, host_port: 12000 }, { container_port: 81 }],
  };
  let m: FakeMachine;
  let service: ContainerService;
  let h: ReturnType<typeof handlersOn>;

  const run = async (c: object = config) => (await h.RunPodSandbox!(req({ config: c, runtime_handler: "" }))).pod_sandbox_id!;
  const status = async (id: string) => (await h.PodSandboxStatus!(req({ pod_sandbox_id: id }))).status!;
  const list = async (filter?: object) => (await h.ListPodSandbox!(req({ filter }))).items!;

  beforeEach(() => {
    m = new FakeMachine();
    service = m.service();
    h = handlersOn(service);
  });

  it("runs a sandbox as a container of the core, ready, with what the kubelet gave it", async () => {
    const id = await run();
    assert.match(id, /^[0-9a-f]{64}$/);
    const s = await status(id);
    assert.equal(s.id, id);
    assert.deepEqual(s.metadata, config.metadata);
    assert.equal(s.state, v1.PodSandboxState.SANDBOX_READY);
    assert.deepEqual(s.labels, config.labels);
    assert.deepEqual(s.annotations, config.annotations);
    assert.ok(BigInt(s.created_at!.toString()) > 10n ** 18n, "nanoseconds since the epoch");
    const info = service.info(id);
    assert.equal(s.network?.ip, info.network.containerIp);
    assert.equal(m.runtime.container(info.id).launch.hostname, "test-hostname");
    assert.deepEqual(info.netIns.map((r) => [r.hostPort, r.containerPort]), [[12000, 80]], "only mappings with a host port");
  });

  it("lists sandboxes by id, state and labels, and not the core's other containers", async () => {
    const a = await run();
    const b = await run({ ...config, labels: { app: "db" }, port_mappings: [] });
    await service.create({ handle: "warden-made" });
    assert.deepEqual((await list()).map((p) => p.id).sort(), [a, b].sort());
    assert.deepEqual((await list({ id: a })).map((p) => p.id), [a]);
    assert.deepEqual((await list({ label_selector: { app: "db" } })).map((p) => p.id), [b]);
    assert.deepEqual(await list({ id: "warden-made" }), []);
    await assert.rejects(status("warden-made"), /not found/);
    await h.StopPodSandbox!(req({ pod_sandbox_id: a }));
    assert.deepEqual((await list({ state: { state: v1.PodSandboxState.SANDBOX_NOTREADY } })).map((p) => p.id), [a]);
    assert.deepEqual((await list({ state: { state: v1.PodSandboxState.SANDBOX_READY } })).map((p) => p.id), [b]);
  });

  it("stops a sandbox (not ready, twice without complaint) and removes it (gone, twice without complaint)", async () => {
    const id = await run();
    await h.StopPodSandbox!(req({ pod_sandbox_id: id }));
    await h.StopPodSandbox!(req({ pod_sandbox_id: id }));
    assert.equal((await status(id)).state, v1.PodSandboxState.SANDBOX_NOTREADY);
    await h.RemovePodSandbox!(req({ pod_sandbox_id: id }));
    await h.RemovePodSandbox!(req({ pod_sandbox_id: id }));
    await assert.rejects(status(id), /not found/);
    assert.deepEqual(service.list(), []);
  });

  it("refuses a sandbox without metadata, and a runtime handler it does not have", async () => {
    await assert.rejects(h.RunPodSandbox!(req({ config: {} })), /metadata/);
    await assert.rejects(h.RunPodSandbox!(req({ config, runtime_handler: "kata" })), /no runtime handler "kata"/);
    assert.deepEqual(service.list(), []);
  });

  it("finds its sandboxes again on a restarted daemon", async () => {
    const id = await run();
    const again = m.service();
    await again.recover();
    const s = (await handlersOn(again).PodSandboxStatus!(req({ pod_sandbox_id: id }))).status!;
    assert.deepEqual(s.metadata, config.metadata);
    assert.deepEqual(s.labels, config.labels);
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
