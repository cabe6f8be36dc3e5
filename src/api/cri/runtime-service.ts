// runtime.v1.RuntimeService's handlers over the core: what the runtime says
// of itself, pod sandboxes (sandboxes.ts) and their containers
// (containers.ts). The API's rules for what is not there hold for both:
// stopping or removing an unknown sandbox or container succeeds (the
// kubelet repeats those calls), asking for its status is NotFound.
import { runtime } from "../../protocol/gen/cri.js";
import type { RuntimeHandlers } from "./codec.js";
import { CriRequestError } from "./errors.js";
import { nanos } from "./longs.js";
import type { CriContainers } from "./containers.js";
import type { Sandboxes } from "./sandboxes.js";
import { metricDescriptors } from "./metrics.js";
import type { StreamingServer } from "./streaming/streaming-server.js";
import { runtimeConfigResponse, statusResponse, versionResponse, type RuntimeFeatures } from "./runtime-info.js";
import { status as grpcStatus } from "@grpc/grpc-js";
import v1 = runtime.v1;

export interface CriRuntimeOptions {
  runtimeVersion: string;
  features: RuntimeFeatures;
  /** What Status tells with `verbose` (the daemon's configuration, as the operator should see it). */
  info: () => Record<string, unknown>;
  sandboxes: Sandboxes;
  containers: CriContainers;
  /** Absent: Exec, Attach and PortForward are not served. */
  streaming?: StreamingServer;
}

const notFound = (what: string, id: string) => new CriRequestError(`${what} ${JSON.stringify(id)} not found`, grpcStatus.NOT_FOUND);

export function runtimeHandlers(options: CriRuntimeOptions): RuntimeHandlers {
  const { sandboxes, containers } = options;
  const streaming = () => {
    if (!options.streaming) throw new CriRequestError("this daemon has no streaming server", grpcStatus.UNIMPLEMENTED);
    return options.streaming;
  };
  // As the kubelet checks a streaming request before it answers a URL.
  const streamFlags = (r: { tty?: boolean | null; stdin?: boolean | null; stdout?: boolean | null; stderr?: boolean | null }) => {
    const flags = { tty: r.tty ?? false, stdin: r.stdin ?? false, stdout: r.stdout ?? false, stderr: r.stderr ?? false };
    if (!flags.stdin && !flags.stdout && !flags.stderr) throw new CriRequestError("one of stdin, stdout and stderr must be asked for");
    if (flags.tty && flags.stderr) throw new CriRequestError("a terminal has no stderr of its own: tty and stderr cannot both be set");
    return flags;
  };
  return {
    Version: async () => versionResponse(options.runtimeVersion),
    Status: async (r: v1.StatusRequest) => statusResponse(options.features, r.verbose, options.info),
    RuntimeConfig: async () => runtimeConfigResponse(),

    RunPodSandbox: async (r: v1.RunPodSandboxRequest) => ({ pod_sandbox_id: await sandboxes.run(r) }),
    StopPodSandbox: async (r: v1.StopPodSandboxRequest) => {
      await sandboxes.stop(r.pod_sandbox_id);
      return {};
    },
    RemovePodSandbox: async (r: v1.RemovePodSandboxRequest) => {
      await sandboxes.remove(r.pod_sandbox_id);
      return {};
    },
    PodSandboxStatus: async (r: v1.PodSandboxStatusRequest) => ({ status: sandboxes.status(r.pod_sandbox_id), timestamp: nanos(Date.now()) }),
    ListPodSandbox: async (r: v1.ListPodSandboxRequest) => ({ items: sandboxes.list(r.filter) }),

    CreateContainer: async (r: v1.CreateContainerRequest) => ({ container_id: await containers.create(r) }),
    StartContainer: async (r: v1.StartContainerRequest) => {
      await containers.start(r.container_id);
      return {};
    },
    StopContainer: async (r: v1.StopContainerRequest) => {
      await containers.stop(r.container_id, Number(r.timeout));
      return {};
    },
    RemoveContainer: async (r: v1.RemoveContainerRequest) => {
      await containers.remove(r.container_id);
      return {};
    },
    ContainerStatus: async (r: v1.ContainerStatusRequest) => ({ status: await containers.status(r.container_id) }),
    ExecSync: async (r: v1.ExecSyncRequest) => containers.execSync(r),
    Exec: async (r: v1.ExecRequest) => {
      const server = streaming();
      const flags = streamFlags(r);
      const cmd = [...(r.cmd ?? [])];
      if (cmd.length === 0 || !cmd[0]) throw new CriRequestError("no command to run");
      await containers.running(r.container_id);
      const start = () => containers.exec(r.container_id, cmd, { tty: flags.tty, stdin: flags.stdin });
      return { url: server.register({ kind: "exec", containerId: r.container_id, flags, start }) };
    },
    Attach: async (r: v1.AttachRequest) => {
      const server = streaming();
      const flags = streamFlags(r);
      await containers.running(r.container_id);
      return { url: server.register({ kind: "attach", containerId: r.container_id, flags, start: () => containers.attach(r.container_id) }) };
    },
    PortForward: async (r: v1.PortForwardRequest) => {
      const server = streaming();
      return { url: server.register({ kind: "portforward", sandboxId: r.pod_sandbox_id, dial: sandboxes.portDialer(r.pod_sandbox_id) }) };
    },
    UpdateContainerResources: async (r: v1.UpdateContainerResourcesRequest) => {
      await containers.updateResources(r.container_id, r.linux);
      return {};
    },
    ReopenContainerLog: async (r: v1.ReopenContainerLogRequest) => {
      await containers.reopenLog(r.container_id);
      return {};
    },
    ListContainers: async (r: v1.ListContainersRequest) => ({ containers: await containers.list(r.filter) }),
    ContainerStats: async (r: v1.ContainerStatsRequest) => ({ stats: await containers.stats(r.container_id) }),
    ListContainerStats: async (r: v1.ListContainerStatsRequest) => ({ stats: await containers.listStats(r.filter) }),
    PodSandboxStats: async (r: v1.PodSandboxStatsRequest) => ({ stats: await containers.podStats(r.pod_sandbox_id) }),
    ListPodSandboxStats: async (r: v1.ListPodSandboxStatsRequest) => ({ stats: await containers.listPodStats(r.filter) }),
    ListMetricDescriptors: async () => ({ descriptors: metricDescriptors() }),
    ListPodSandboxMetrics: async () => ({ pod_metrics: await containers.podSandboxMetrics() }),
  };
}
