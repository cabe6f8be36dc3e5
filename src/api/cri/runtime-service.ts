// runtime.v1.RuntimeService's handlers over the core: what the runtime says
// of itself, pod sandboxes (sandboxes.ts), and containers, which come in a
// later step (until then there are none). The API's rules for what is not
// there hold for both: stopping or removing an unknown sandbox or container
// succeeds (the kubelet repeats those calls), asking for its status is
// NotFound.
import { runtime } from "../../protocol/gen/cri.js";
import type { RuntimeHandlers } from "./codec.js";
import { CriRequestError } from "./errors.js";
import { nanos } from "./longs.js";
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
}

const notFound = (what: string, id: string) => new CriRequestError(`${what} ${JSON.stringify(id)} not found`, grpcStatus.NOT_FOUND);

export function runtimeHandlers(options: CriRuntimeOptions): RuntimeHandlers {
  const { sandboxes } = options;
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

    StopContainer: async () => ({}),
    RemoveContainer: async () => ({}),
    ContainerStatus: async (r: v1.ContainerStatusRequest) => {
      throw notFound("container", r.container_id);
    },
    ListContainers: async () => ({ containers: [] }),
    ListContainerStats: async () => ({ stats: [] }),
    ListPodSandboxStats: async () => ({ stats: [] }),
  };
}
