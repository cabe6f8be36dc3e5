// The CRI's handlers on their own: what the runtime says of itself, the
// API's rules for sandboxes and containers that are not there, and the
// image service's idempotent removal.
import assert from "node:assert/strict";
import { beforeEach, describe, it } from "node:test";
import { imageHandlers } from "../../../../src/api/cri/image-service.js";
import { nanos } from "../../../../src/api/cri/longs.js";
import { runtimeHandlers } from "../../../../src/api/cri/runtime-service.js";
import { CriContainers } from "../../../../src/api/cri/containers.js";
import { Sandboxes } from "../../../../src/api/cri/sandboxes.js";
import { errors } from "../../../../src/core/errors.js";
import type { ContainerService } from "../../../../src/core/service/container-service.js";
import { settle, until } from "../../../fakes/fakes.js";
import { FakeMachine } from "../../../fakes/service.js";
import { runtime } from "../../../../src/protocol/gen/cri.js";
import v1 = runtime.v1;

function handlersOn(service: ContainerService) {
  const sandboxes = new Sandboxes(service);
  return runtimeHandlers({
    runtimeVersion: "9.8.7",
    features: { userNamespaces: false, recursiveReadOnlyMounts: false, supplementalGroupsPolicy: false },
    info: () => ({ config: { runtime: "crun" } }),
    sandboxes,
    containers: new CriContainers({ service, sandboxes, listImages: () => service.images.list() }),
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
    dns_config: { servers: ["10.10.10.10"], searches: ["google.com"], options: ["ndots:8"] },
    linux: { sysctls: { "kernel.shm_rmid_forced": "1" } },
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
    assert.deepEqual(m.runtime.container(info.id).launch.sysctls, { "kernel.shm_rmid_forced": "1" });
    assert.deepEqual(info.netIns.map((r) => [r.hostPort, r.containerPort]), [[12000, 80]], "only mappings with a host port");
    assert.deepEqual(m.filesystem.prepared.get(info.id)?.dns, { servers: ["10.10.10.10"], searches: ["google.com"], options: ["ndots:8"] });
    assert.equal(m.runtime.container(info.id).launch.cgroupParent, undefined);
    // With the kubelet's pod cgroup, the sandbox's own cgroup goes under it.
    const placed = await run({ ...config, port_mappings: [], linux: { ...config.linux, cgroup_parent: "/kubepods/podx" } });
    assert.equal(m.runtime.container(service.info(placed).id).launch.cgroupParent, "/kubepods/podx");
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

  it("runs a pod in a user namespace of its own with the kubelet's map, says so in its status, and refuses maps and modes it cannot honour", async () => {
    const mapping = [{ container_id: 0, host_id: 300000, length: 65536 }];
    const userns = (o: object) => ({ ...config, port_mappings: [], linux: { security_context: { namespace_options: { userns_options: o } } } });
    const id = await run(userns({ mode: v1.NamespaceMode.POD, uids: mapping, gids: mapping }));
    const info = service.info(id);
    assert.deepEqual(m.runtime.container(info.id).launch.idMap, { hostId: 300000, size: 65536 });
    assert.equal(m.runtime.container(info.id).launch.privileged, false);
    const options = (await status(id)).linux?.namespaces?.options;
    assert.equal(options?.userns_options?.mode, v1.NamespaceMode.POD);
    assert.deepEqual(options?.userns_options?.uids, mapping);
    // Without one: the node's, as before.
    const plain = await run({ ...config, port_mappings: [] });
    assert.equal(m.runtime.container(service.info(plain).id).launch.privileged, true);
    assert.equal((await status(plain)).linux?.namespaces?.options?.userns_options?.mode, v1.NamespaceMode.NODE);
    const refused: Array<[object, RegExp]> = [
      [userns({ mode: v1.NamespaceMode.CONTAINER }), /NODE\) or its own \(POD\)/],
      [userns({ mode: v1.NamespaceMode.TARGET }), /NODE\) or its own \(POD\)/],
      [userns({ mode: v1.NamespaceMode.POD, uids: [...mapping, { container_id: 65536, host_id: 1, length: 1 }], gids: mapping }), /exactly one uid and one gid mapping/],
      [userns({ mode: v1.NamespaceMode.POD, uids: [{ ...mapping[0], container_id: 1 }], gids: [{ ...mapping[0], container_id: 1 }] }), /map container id 0/],
      [userns({ mode: v1.NamespaceMode.POD, uids: mapping, gids: [{ ...mapping[0], host_id: 400000 }] }), /the two mappings must be the same/],
      [{ ...config, linux: { security_context: { privileged: true, namespace_options: { userns_options: { mode: v1.NamespaceMode.POD, uids: mapping, gids: mapping } } } } }, /privileged pod/],
      [{ ...config, linux: { security_context: { namespace_options: { network: v1.NamespaceMode.NODE, userns_options: { mode: v1.NamespaceMode.POD, uids: mapping, gids: mapping } } } } }, /node's network namespace/],
    ];
    for (const [c, message] of refused) await assert.rejects(run(c), message, JSON.stringify(c));
    assert.equal(service.list().length, 2);
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

describe("the CRI's containers", () => {
  let m: FakeMachine;
  let service: ContainerService;
  let h: ReturnType<typeof handlersOn>;
  let pod: string;
  const podConfig = { metadata: { name: "p", uid: "u", namespace: "n" }, log_directory: "/var/log/pods/p" };
  const containerConfig = {
    metadata: { name: "c", attempt: 1 },
    image: { image: "busybox:1.29" },
    command: ["/bin/sh", "-c"],
    args: ["echo hi"],
    envs: [{ key: "A", value: "1" }],
    labels: { app: "c" },
    annotations: { note: "x" },
    log_path: "c/1.log",
    linux: { security_context: { run_as_user: { value: 1001 }, run_as_group: { value: 1002 } } },
  };

  const create = async (config: object = containerConfig, sandbox = pod) =>
    (await h.CreateContainer!(req({ pod_sandbox_id: sandbox, config, sandbox_config: podConfig }))).container_id!;
  const status = async (id: string) => (await h.ContainerStatus!(req({ container_id: id }))).status!;
  const list = async (filter?: object) => (await h.ListContainers!(req({ filter }))).containers!;

  beforeEach(async () => {
    m = new FakeMachine();
    m.filesystem.peaPasswd = "root:x:0:0:root:/root:/bin/sh\nu:x:1001:1001::/home/u:/bin/sh\n";
    m.images.add("docker.io/library/busybox:1.29", { cmd: ["sh"], env: ["PATH=/bin"] });
    service = m.service();
    h = handlersOn(service);
    pod = (await h.RunPodSandbox!(req({ config: podConfig }))).pod_sandbox_id!;
  });

  it("creates a container as a record: created, with what the kubelet gave it and the image's id", async () => {
    const id = await create();
    const s = await status(id);
    assert.equal(s.state, v1.ContainerState.CONTAINER_CREATED);
    assert.deepEqual(s.metadata, { name: "c", attempt: 1 });
    assert.equal(s.image_ref, `sha256:${"a".repeat(64)}`);
    assert.equal(s.image?.image, "busybox:1.29");
    assert.equal(s.log_path, "/var/log/pods/p/c/1.log");
    assert.deepEqual(s.labels, { app: "c" });
    assert.deepEqual(s.annotations, { note: "x" });
    assert.equal(s.started_at?.toString(), "0");
    assert.equal(m.runtime.peas.length, 0, "nothing runs before Start");
    assert.deepEqual((await list()).map((c) => [c.id, c.pod_sandbox_id, c.state]), [[id, pod, v1.ContainerState.CONTAINER_CREATED]]);
  });

  it("refuses an image not in the store, a sandbox that is not ready, a name taken and a group without a user", async () => {
    await assert.rejects(create({ ...containerConfig, image: { image: "nginx:1" } }), /not in the store/);
    await create();
    await assert.rejects(create(), /is in the sandbox already/);
    await assert.rejects(create({ ...containerConfig, metadata: { name: "g" }, linux: { security_context: { run_as_group: { value: 5 } } } }), /run_as_group/);
    await h.StopPodSandbox!(req({ pod_sandbox_id: pod }));
    await assert.rejects(create({ ...containerConfig, metadata: { name: "late" } }), /not ready/);
    await assert.rejects(create(containerConfig, "no-such-pod"), /not found/);
  });

  it("starts it as a pea of the sandbox running the pod's command under the image's, as its user; its end makes it exited", async () => {
    const id = await create();
    await h.StartContainer!(req({ container_id: id }));
    const [{ launch }] = m.runtime.peas;
    assert.deepEqual([launch.path, ...launch.args], ["/bin/sh", "-c", "echo hi"]);
    assert.deepEqual([launch.user.uid, launch.user.gid], [1001, 1002]);
    assert.ok(launch.env.includes("A=1") && launch.env.includes("PATH=/bin"));
    let s = await status(id);
    // Who it runs as, in the status (uid, gid, groups held).
    const user = s.user!.linux!;
    assert.deepEqual([Number(user.uid), Number(user.gid), (user.supplemental_groups ?? []).map(Number)], [1001, 1002, [...launch.user.groups]]);
    assert.equal(s.state, v1.ContainerState.CONTAINER_RUNNING);
    assert.ok(BigInt(s.started_at!.toString()) > 0n);
    await assert.rejects(h.StartContainer!(req({ container_id: id })), /started already/);
    m.runtime.started.at(-1)!.exit(3);
    await settle();
    s = await status(id);
    assert.equal(s.state, v1.ContainerState.CONTAINER_EXITED);
    assert.equal(s.exit_code, 3);
    assert.equal(s.reason, "Error");
    assert.ok(BigInt(s.finished_at!.toString()) >= BigInt(s.started_at!.toString()));
  });

  it("writes its log where the kubelet said, and opens it again on request while it runs", async () => {
    const id = await create();
    await assert.rejects(h.ReopenContainerLog!(req({ container_id: id })), /not running/);
    await h.StartContainer!(req({ container_id: id }));
    assert.equal(m.runtime.peas[0].launch.logFile, "/var/log/pods/p/c/1.log");
    await h.ReopenContainerLog!(req({ container_id: id }));
    assert.equal(m.runtime.started.at(-1)!.logReopened, 1);
    await assert.rejects(h.ReopenContainerLog!(req({ container_id: "nope" })), /not found/);
  });

  it("binds the kubelet's volumes into the container's root and shows them in its status", async () => {
    const mounts = [{ container_path: "/data", host_path: "/var/lib/kubelet/v1", readonly: true, selinux_relabel: false, propagation: 0 }];
    const id = await create({ ...containerConfig, mounts });
    await h.StartContainer!(req({ container_id: id }));
    // The filesystem stages the source for the runtime (the fake names it so).
    assert.deepEqual(m.runtime.peas[0].pea.bindMounts, [{ srcPath: `/fake/${m.id()}/pea-volumes/${m.runtime.peas[0].pea.id}/0`, dstPath: "/data", mode: "ro", propagation: "private" }]);
    assert.deepEqual(m.filesystem.peaBindMounts.at(-1), [{ srcPath: "/var/lib/kubelet/v1", dstPath: "/data", mode: "ro", propagation: "private" }]);
    assert.deepEqual((await status(id)).mounts, mounts);
    // Recursively read-only: read-only and private, or refused at create.
    const rro = { container_path: "/r", host_path: "/var/lib/kubelet/v2", recursive_read_only: true };
    for (const [i, bad] of [{ readonly: false }, { readonly: true, propagation: 1 }, { readonly: true, propagation: 2 }].entries()) {
      await assert.rejects(create({ ...containerConfig, metadata: { name: `rro${i}` }, mounts: [{ ...rro, ...bad }] }), /must be read-only with private propagation/);
    }
    const ok = await create({ ...containerConfig, metadata: { name: "rro" }, mounts: [{ ...rro, readonly: true }] });
    await h.StartContainer!(req({ container_id: ok }));
    assert.equal(m.filesystem.peaBindMounts.at(-1)![0]!.recursiveReadOnly, true);
  });

  it("mounts images' contents (image volumes) read-only, a sub-path the image has, and names the image's id in the status", async () => {
    const data = m.images.add("docker.io/library/data:1");
    m.filesystem.baseEntries.set("etc", "directory");
    m.filesystem.baseEntries.set("link", "symlink");
    const volume = (more: object) => ({ container_path: "/img", readonly: true, image: { image: "data:1" }, ...more });
    const refused: Array<[object, RegExp, number]> = [
      [volume({ readonly: false }), /must be read-only/, 3],
      [volume({ host_path: "/var/lib/x" }), /both a host path and an image/, 3],
      [volume({ image: { image: "gone:1" } }), /not in the store/, 5],
      [volume({ image_sub_path: "nope" }), /has no "nope"/, 5],
      [volume({ image_sub_path: "link" }), /symbolic link/, 3],
      [volume({ image_sub_path: "../etc" }), /inside the image/, 3],
      [volume({ container_path: "img" }), /must be absolute/, 3],
    ];
    for (const [i, [mount, message, code]] of refused.entries()) {
      await assert.rejects(create({ ...containerConfig, metadata: { name: `bad${i}` }, mounts: [mount] }), (err: Error & { code?: number }) => message.test(err.message) && err.code === code);
    }
    assert.equal(m.images.holds.size, 0, "a look into the image holds it only meanwhile");
    const id = await create({ ...containerConfig, mounts: [volume({ image_sub_path: "etc" })] });
    assert.deepEqual((await status(id)).mounts?.[0]?.image, { image: "data:1", image_ref: data.id, user_specified_image: "" });
    await h.StartContainer!(req({ container_id: id }));
    assert.deepEqual(m.filesystem.peaImageMounts.at(-1), [{ layers: data.layers, dstPath: "/img", subPath: "etc" }]);
    assert.deepEqual(m.filesystem.peaBindMounts.at(-1), [], "no host path is bound for it");
  });

  it("gives a container the memory and CPU the kubelet asks for, and says OOMKilled when the kernel killed it for memory", async () => {
    const id = await create({ ...containerConfig, linux: { resources: { memory_limit_in_bytes: 15 * 1024 * 1024, cpu_shares: 512 } } });
    await h.StartContainer!(req({ container_id: id }));
    const [{ id: containerId, pea }] = m.runtime.peas;
    assert.deepEqual(pea.limits, { memoryBytes: 15n * 1024n * 1024n, cpuShares: 512n });
    m.limits.oomKillCounts.set(m.runtime.peaCgroup(containerId, pea.id, true), 1);
    m.runtime.started.at(-1)!.end({ kind: "signaled", signal: 9 });
    await settle(50);
    const s = await status(id);
    assert.equal(s.exit_code, 137);
    assert.equal(s.reason, "OOMKilled");
  });

  it("changes a container's resources: kept for a created one, applied at once to a running one's own cgroup", async () => {
    const id = await create();
    await h.UpdateContainerResources!(req({ container_id: id, linux: { cpu_quota: 20000, cpu_period: 100000, memory_limit_in_bytes: 64 * 1024 * 1024 } }));
    await h.StartContainer!(req({ container_id: id }));
    const [{ id: containerId, pea }] = m.runtime.peas;
    assert.deepEqual(pea.limits, { cpuQuota: 20000n, cpuPeriod: 100000n, memoryBytes: 64n * 1024n * 1024n }, "the created one's, at its start");
    await h.UpdateContainerResources!(req({ container_id: id, linux: { cpu_shares: 256, cpu_quota: 50000, cpu_period: 100000 } }));
    const cgroup = m.runtime.peaCgroup(containerId, pea.id, true);
    assert.equal(await m.limits.cpuShares(cgroup), 256n);
    assert.deepEqual(m.limits.quotas.get(cgroup), { quota: 50000n, period: 100000n });
    await assert.rejects(h.UpdateContainerResources!(req({ container_id: id, linux: { cpu_shares: 1_000_000 } })), /CPU shares 1000000 must be 2 to 262144/);
    await assert.rejects(h.UpdateContainerResources!(req({ container_id: "nope", linux: {} })), /not found/);
  });

  it("lists each ready pod's metrics: its traffic, and its running containers' usage", async () => {
    const id = await create();
    await h.StartContainer!(req({ container_id: id }));
    const { descriptors } = await h.ListMetricDescriptors!(req({}));
    assert.ok(descriptors!.some((d) => d.name === "container_memory_working_set_bytes"));
    const { pod_metrics } = await h.ListPodSandboxMetrics!(req({}));
    assert.equal(pod_metrics!.length, 1);
    const [pod] = pod_metrics!;
    assert.ok(pod!.metrics!.some((m) => m.name === "container_network_receive_bytes_total"));
    assert.deepEqual(pod!.container_metrics!.map((c) => c.container_id), [id]);
    const threads = pod!.container_metrics![0]!.metrics!.find((m) => m.name === "container_threads")!;
    assert.equal(Number(threads.value!.value), 1);
  });

  it("tells a pod's usage: its cgroup's and its running containers' together, its traffic, its containers' own", async () => {
    const id = await create();
    await h.StartContainer!(req({ container_id: id }));
    const { stats } = await h.PodSandboxStats!(req({ pod_sandbox_id: pod }));
    assert.equal(stats!.attributes!.id, pod);
    assert.deepEqual(stats!.linux!.containers!.map((c) => c.attributes!.id), [id]);
    assert.equal(Number(stats!.linux!.network!.default_interface!.rx_bytes!.value), 100);
    assert.ok(Number(stats!.linux!.process!.process_count!.value) >= 1);
    const listed = await h.ListPodSandboxStats!(req({ filter: { id: pod } }));
    assert.deepEqual(listed.stats!.map((s) => s.attributes!.id), [pod]);
    assert.deepEqual((await h.ListPodSandboxStats!(req({ filter: { label_selector: { no: "such" } } }))).stats, []);
    await assert.rejects(h.PodSandboxStats!(req({ pod_sandbox_id: "nope" })), /not found/);
  });

  it("gives every container a cgroup of its own, limited or not, under the kubelet's pod cgroup when it names one", async () => {
    const id = await create();
    await h.StartContainer!(req({ container_id: id }));
    assert.deepEqual(m.runtime.peas[0].pea.limits, {});
    assert.equal(m.runtime.peas[0].pea.cgroupParent, undefined);
    const kubePod = { ...podConfig, metadata: { name: "k", uid: "uk", namespace: "n" }, linux: { cgroup_parent: "/kubepods/besteffort/poduk" } };
    const sandbox = (await h.RunPodSandbox!(req({ config: kubePod }))).pod_sandbox_id!;
    const inPod = await create(containerConfig, sandbox);
    await h.StartContainer!(req({ container_id: inPod }));
    assert.equal(m.runtime.peas.at(-1)!.pea.cgroupParent, "/kubepods/besteffort/poduk");
    await assert.rejects(h.RunPodSandbox!(req({ config: { ...kubePod, linux: { cgroup_parent: "../../etc" } } })), /absolute path of plain names/);
  });

  it("runs the image's own command when the pod gives none", async () => {
    const id = await create({ ...containerConfig, command: [], args: [] });
    await h.StartContainer!(req({ container_id: id }));
    assert.deepEqual(m.runtime.peas[0].launch.path, "sh");
  });

  it("stops with TERM, then KILL when the time is up, and stops an exited one without complaint", async () => {
    const id = await create();
    await h.StartContainer!(req({ container_id: id }));
    const p = m.runtime.started.at(-1)!;
    const stopping = h.StopContainer!(req({ container_id: id, timeout: 1 }));
    await until(() => p.signals.includes("TERM"));
    assert.ok(!p.signals.includes("KILL"), "not killed before its time");
    const waited = Date.now();
    while (!p.signals.includes("KILL") && Date.now() - waited < 3000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(p.signals.includes("KILL"), "killed once the second was up");
    assert.ok(Date.now() - waited >= 900, "not before");
    p.end({ kind: "signaled", signal: 9 });
    await stopping;
    const s = await status(id);
    assert.equal(s.state, v1.ContainerState.CONTAINER_EXITED);
    assert.equal(s.exit_code, 137);
    await h.StopContainer!(req({ container_id: id, timeout: 0 }));
  });

  it("removes a container, running or not, and twice without complaint", async () => {
    const id = await create();
    await h.StartContainer!(req({ container_id: id }));
    const p = m.runtime.started.at(-1)!;
    const removing = h.RemoveContainer!(req({ container_id: id }));
    await until(() => p.signals.includes("KILL"));
    p.end({ kind: "signaled", signal: 9 });
    await removing;
    await assert.rejects(status(id), /not found/);
    await h.RemoveContainer!(req({ container_id: id }));
    assert.deepEqual(await list(), []);
  });

  it("runs ExecSync inside the running container and answers its output and exit code; kills it past its time-out", async () => {
    const id = await create();
    await assert.rejects(h.ExecSync!(req({ container_id: id, cmd: ["ls"] })), /not running/);
    await h.StartContainer!(req({ container_id: id }));
    const running = h.ExecSync!(req({ container_id: id, cmd: ["ls", "-l"], timeout: 0 }));
    await until(() => m.runtime.peaExecs.length === 1);
    const exec = m.runtime.started.at(-1)!;
    assert.deepEqual([exec.launch.path, ...exec.launch.args], ["ls", "-l"]);
    exec.write("stdout", "out");
    exec.write("stderr", "err");
    exec.exit(2);
    const r = await running;
    assert.deepEqual([Buffer.from(r.stdout!).toString(), Buffer.from(r.stderr!).toString(), r.exit_code], ["out", "err", 2]);
    const late = h.ExecSync!(req({ container_id: id, cmd: ["sleep", "9"], timeout: 1 }));
    await until(() => m.runtime.peaExecs.length === 2);
    const sleeper = m.runtime.started.at(-1)!;
    const waited = Date.now();
    while (!sleeper.signals.includes("KILL") && Date.now() - waited < 3000) await new Promise((r) => setTimeout(r, 20));
    sleeper.end({ kind: "signaled", signal: 9 });
    await assert.rejects(late, (err: Error & { code?: number }) => err.code === 4 /* DEADLINE_EXCEEDED */);
    await assert.rejects(h.ExecSync!(req({ container_id: "nope", cmd: ["ls"] })), /not found/);
  });

  it("gives each container's usage: its pea's cgroup while it runs, zeros with a time before, by id, labels or sandbox", async () => {
    const created = await create();
    const running = await create({ ...containerConfig, metadata: { name: "r" }, labels: { app: "r" } });
    await h.StartContainer!(req({ container_id: running }));
    const one = (await h.ContainerStats!(req({ container_id: running }))).stats!;
    assert.equal(one.attributes?.id, running);
    assert.equal(one.cpu?.usage_core_nano_seconds?.value?.toString(), "5", "the pea's cgroup, read by the limits");
    assert.ok(BigInt(one.cpu!.timestamp!.toString()) > 0n && BigInt(one.memory!.timestamp!.toString()) > 0n);
    const before = (await h.ContainerStats!(req({ container_id: created }))).stats!;
    assert.equal(before.cpu?.usage_core_nano_seconds?.value?.toString(), "0");
    assert.ok(BigInt(before.memory!.timestamp!.toString()) > 0n);
    const all = (await h.ListContainerStats!(req({}))).stats!;
    assert.deepEqual(all.map((x) => x.attributes?.id).sort(), [created, running].sort());
    assert.deepEqual((await h.ListContainerStats!(req({ filter: { label_selector: { app: "r" } } }))).stats!.map((x) => x.attributes?.id), [running]);
    assert.deepEqual((await h.ListContainerStats!(req({ filter: { pod_sandbox_id: "other" } }))).stats, []);
    await assert.rejects(h.ContainerStats!(req({ container_id: "nope" })), /not found/);
  });

  it("lists by sandbox, state and labels, and keeps its containers across a restart of the daemon", async () => {
    const a = await create();
    const b = await create({ ...containerConfig, metadata: { name: "b" }, labels: { app: "b" } });
    await h.StartContainer!(req({ container_id: b }));
    assert.deepEqual((await list({ state: { state: v1.ContainerState.CONTAINER_RUNNING } })).map((c) => c.id), [b]);
    assert.deepEqual((await list({ label_selector: { app: "c" } })).map((c) => c.id), [a]);
    assert.deepEqual((await list({ pod_sandbox_id: "other" })).map((c) => c.id), []);
    const again = m.service();
    await again.recover();
    const h2 = handlersOn(again);
    assert.deepEqual((await h2.ListContainers!(req({}))).containers!.map((c) => c.id).sort(), [a, b].sort());
    assert.equal((await h2.ContainerStatus!(req({ container_id: b }))).status!.state, v1.ContainerState.CONTAINER_RUNNING);
  });
});

describe("the CRI image service", () => {
  const removed: string[] = [];
  const images = imageHandlers({
    storePath: "/depot/.images",
    list: async () => stored.filter((i) => !removed.includes(i.name)),
    remove: async (image) => {
      if (!stored.some((i) => i.name === image) || removed.includes(image)) throw errors.imageNotFound(image, "not in the store");
      removed.push(image);
    },
    pull: async (image, credentials) => {
      pulled.push({ image, credentials });
      return { id: "sha256:" + "a".repeat(64) };
    },
  });
  const pulled: Array<{ image: string; credentials?: object }> = [];
  const B = "sha256:" + "b".repeat(64);
  const stored = [
    { name: "docker.io/library/busybox:latest", id: "sha256:" + "a".repeat(64), size: 1234, holders: [] },
    { name: "registry.test/tags:1", id: B, size: 10, holders: [], user: "www-data:1004" },
    { name: "registry.test/tags:2", id: B, size: 10, holders: [], user: "www-data:1004" },
    { name: `registry.test/tags@${"sha256:" + "c".repeat(64)}`, id: B, size: 10, holders: [], user: "www-data:1004" },
    { name: "registry.test/uid:1", id: "sha256:" + "d".repeat(64), size: 10, holders: [], user: "1003:1004" },
  ];

  it("knows an image by all its names: one Image with every tag and digest, its user as uid or name", async () => {
    const list = (await images.ListImages!(req({}))).images!;
    assert.equal(list.length, 3);
    const tags = (await images.ImageStatus!(req({ image: { image: "registry.test/tags:2" } }))).image!;
    assert.deepEqual(tags.repo_tags, ["registry.test/tags:1", "registry.test/tags:2"]);
    assert.deepEqual(tags.repo_digests, [`registry.test/tags@${"sha256:" + "c".repeat(64)}`]);
    assert.equal(tags.username, "www-data");
    assert.equal(tags.uid, undefined);
    assert.equal((await images.ImageStatus!(req({ image: { image: "registry.test/uid:1" } }))).image!.uid?.value?.toString(), "1003");
  });

  it("pulls with the credentials given, and answers the image's id", async () => {
    const r = await images.PullImage!(req({ image: { image: "busybox:1.29" }, auth: { auth: Buffer.from("ann:s3:cret").toString("base64") } }));
    assert.equal(r.image_ref, "sha256:" + "a".repeat(64));
    assert.deepEqual(pulled.at(-1), { image: "busybox:1.29", credentials: { username: "ann", password: "s3:cret" } });
    await images.PullImage!(req({ image: { image: "x" }, auth: { username: "bob", password: "pw" } }));
    assert.deepEqual(pulled.at(-1)?.credentials, { username: "bob", password: "pw" });
  });

  it("finds an image by name, short name or id, and answers no image (not an error) for one it lacks", async () => {
    for (const name of ["busybox", "docker.io/library/busybox:latest", "sha256:" + "a".repeat(64), "a".repeat(64)]) {
      const r = await images.ImageStatus!(req({ image: { image: name } }));
      assert.equal(r.image?.id, "sha256:" + "a".repeat(64), name);
      assert.deepEqual(r.image?.repo_tags, ["docker.io/library/busybox:latest"]);
    }
    assert.equal((await images.ImageStatus!(req({ image: { image: "nginx" } }))).image, undefined);
  });

  it("removes an image by any name with every name it has, and succeeds for one that is not there", async () => {
    await images.RemoveImage!(req({ image: { image: "busybox" } }));
    await images.RemoveImage!(req({ image: { image: "sha256:" + "0".repeat(64) } }));
    assert.deepEqual(removed, ["docker.io/library/busybox:latest"]);
    await images.RemoveImage!(req({ image: { image: "registry.test/tags:1" } }));
    assert.equal(removed.length, 4, "both tags and the digest");
    assert.equal((await images.ImageStatus!(req({ image: { image: "registry.test/tags:2" } }))).image, undefined);
    await assert.rejects(images.RemoveImage!(req({})), /no image named/);
  });

  it("reports the store's file system with the bytes its images use", async () => {
    const info = await images.ImageFsInfo!(req({}));
    const fs = info.image_filesystems![0];
    assert.equal(fs.fs_id?.mountpoint, "/depot/.images");
    const left = stored.filter((i) => !removed.includes(i.name)).reduce((n, i) => n + i.size, 0);
    assert.equal(fs.used_bytes?.value?.toString(), String(left));
    assert.ok(Number(fs.timestamp!.toString()) > 0);
  });
});
