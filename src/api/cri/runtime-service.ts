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
}

const notFound = (what: string, id: string) => new CriRequestError(`${what} ${JSON.stringify(id)} not found`, grpcStatus.NOT_FOUND);

export function runtimeHandlers(options: CriRuntimeOptions): RuntimeHandlers {
  const { sandboxes, containers } = options;
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
    ReopenContainerLog: async (r: v1.ReopenContainerLogRequest) => {
      await containers.reopenLog(r.container_id);
      return {};
    },
    ListContainers: async (r: v1.ListContainersRequest) => ({ containers: await containers.list(r.filter) }),
    ContainerStats: async (r: v1.ContainerStatsRequest) => ({ stats: await containers.stats(r.container_id) }),
    ListContainerStats: async (r: v1.ListContainerStatsRequest) => ({ stats: await containers.listStats(r.filter) }),
    ListPodSandboxStats: async () => ({ stats: [] }),
  };
}
