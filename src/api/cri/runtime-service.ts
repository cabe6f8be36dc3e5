// runtime.v1.RuntimeService's handlers over the core. Pod sandboxes and
// their containers come in later steps; until then there are none, and the
// API's rules for absent ones already hold: stopping or removing an unknown
// sandbox or container succeeds (the kubelet repeats those calls), asking
// for the status of one is NotFound, and the lists are empty.
import { runtime } from "../../protocol/gen/cri.js";
import type { RuntimeHandlers } from "./codec.js";
import { CriRequestError } from "./errors.js";
import { runtimeConfigResponse, statusResponse, versionResponse, type RuntimeFeatures } from "./runtime-info.js";
import { status as grpcStatus } from "@grpc/grpc-js";
import v1 = runtime.v1;

export interface CriRuntimeOptions {
  runtimeVersion: string;
  features: RuntimeFeatures;
  /** What Status tells with `verbose` (the daemon's configuration, as the operator should see it). */
  info: () => Record<string, unknown>;
}

const notFound = (what: string, id: string) => new CriRequestError(`${what} ${JSON.stringify(id)} not found`, grpcStatus.NOT_FOUND);

export function runtimeHandlers(options: CriRuntimeOptions): RuntimeHandlers {
  return {
    Version: async () => versionResponse(options.runtimeVersion),
    Status: async (r: v1.StatusRequest) => statusResponse(options.features, r.verbose, options.info),
    RuntimeConfig: async () => runtimeConfigResponse(),

    StopPodSandbox: async () => ({}),
    RemovePodSandbox: async () => ({}),
    PodSandboxStatus: async (r: v1.PodSandboxStatusRequest) => {
      throw notFound("pod sandbox", r.pod_sandbox_id);
    },
    ListPodSandbox: async () => ({ items: [] }),

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
