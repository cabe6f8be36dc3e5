// The CRI's two gRPC services as grpc-js method definitions over the static
// codec generated from src/protocol/cri.proto: paths, and each message's
// encoding and decoding. Requests decode with unset message fields left
// null, so a handler can tell an absent message from an empty one (the API
// gives them different meanings: no seccomp profile against the default one).
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { runtime } from "../../protocol/gen/cri.js";

const v1 = runtime.v1;

interface Codec {
  encode(message: never): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
}

type Pair = readonly [Codec, Codec];

const RUNTIME_METHODS = {
  Version: [v1.VersionRequest, v1.VersionResponse],
  RunPodSandbox: [v1.RunPodSandboxRequest, v1.RunPodSandboxResponse],
  StopPodSandbox: [v1.StopPodSandboxRequest, v1.StopPodSandboxResponse],
  RemovePodSandbox: [v1.RemovePodSandboxRequest, v1.RemovePodSandboxResponse],
  PodSandboxStatus: [v1.PodSandboxStatusRequest, v1.PodSandboxStatusResponse],
  ListPodSandbox: [v1.ListPodSandboxRequest, v1.ListPodSandboxResponse],
  CreateContainer: [v1.CreateContainerRequest, v1.CreateContainerResponse],
  StartContainer: [v1.StartContainerRequest, v1.StartContainerResponse],
  StopContainer: [v1.StopContainerRequest, v1.StopContainerResponse],
  RemoveContainer: [v1.RemoveContainerRequest, v1.RemoveContainerResponse],
  ListContainers: [v1.ListContainersRequest, v1.ListContainersResponse],
  ContainerStatus: [v1.ContainerStatusRequest, v1.ContainerStatusResponse],
  UpdateContainerResources: [v1.UpdateContainerResourcesRequest, v1.UpdateContainerResourcesResponse],
  ReopenContainerLog: [v1.ReopenContainerLogRequest, v1.ReopenContainerLogResponse],
  ExecSync: [v1.ExecSyncRequest, v1.ExecSyncResponse],
  Exec: [v1.ExecRequest, v1.ExecResponse],
  Attach: [v1.AttachRequest, v1.AttachResponse],
  PortForward: [v1.PortForwardRequest, v1.PortForwardResponse],
  ContainerStats: [v1.ContainerStatsRequest, v1.ContainerStatsResponse],
  ListContainerStats: [v1.ListContainerStatsRequest, v1.ListContainerStatsResponse],
  PodSandboxStats: [v1.PodSandboxStatsRequest, v1.PodSandboxStatsResponse],
  ListPodSandboxStats: [v1.ListPodSandboxStatsRequest, v1.ListPodSandboxStatsResponse],
  UpdateRuntimeConfig: [v1.UpdateRuntimeConfigRequest, v1.UpdateRuntimeConfigResponse],
  Status: [v1.StatusRequest, v1.StatusResponse],
  ListMetricDescriptors: [v1.ListMetricDescriptorsRequest, v1.ListMetricDescriptorsResponse],
  ListPodSandboxMetrics: [v1.ListPodSandboxMetricsRequest, v1.ListPodSandboxMetricsResponse],
  RuntimeConfig: [v1.RuntimeConfigRequest, v1.RuntimeConfigResponse],
} as const satisfies Record<string, Pair>;

const IMAGE_METHODS = {
  ListImages: [v1.ListImagesRequest, v1.ListImagesResponse],
  ImageStatus: [v1.ImageStatusRequest, v1.ImageStatusResponse],
  PullImage: [v1.PullImageRequest, v1.PullImageResponse],
  RemoveImage: [v1.RemoveImageRequest, v1.RemoveImageResponse],
  ImageFsInfo: [v1.ImageFsInfoRequest, v1.ImageFsInfoResponse],
} as const satisfies Record<string, Pair>;

type Methods = Record<string, Pair>;
type RequestOf<P extends Pair> = ReturnType<P[0]["decode"]>;
type ResponseOf<P extends Pair> = Parameters<P[1]["encode"]>[0];

/** A unary method's handler: the decoded request in, the response (or its properties) out. */
export type Handlers<M extends Methods> = { [K in keyof M]?: (request: RequestOf<M[K]>) => Promise<ResponseOf<M[K]>> };
export type RuntimeHandlers = Handlers<typeof RUNTIME_METHODS>;
export type ImageHandlers = Handlers<typeof IMAGE_METHODS>;
export type RuntimeMethod = keyof typeof RUNTIME_METHODS;
export type ImageMethod = keyof typeof IMAGE_METHODS;

function definition(service: string, methods: Methods): ServiceDefinition {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, [request, response]] of Object.entries(methods)) {
    out[name] = {
      path: `/${service}/${name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: unknown) => Buffer.from(request.encode(m as never).finish()),
      requestDeserialize: (b: Buffer) => request.decode(b),
      responseSerialize: (m: unknown) => Buffer.from(response.encode(m as never).finish()),
      responseDeserialize: (b: Buffer) => response.decode(b),
      originalName: name,
    };
  }
  return out as ServiceDefinition;
}

export const runtimeService = definition("runtime.v1.RuntimeService", RUNTIME_METHODS);
export const imageService = definition("runtime.v1.ImageService", IMAGE_METHODS);

