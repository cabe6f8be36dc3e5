// What the CRI asks of a runtime about itself: Version, Status (the two
// conditions a kubelet needs before it schedules pods, and the features of
// each runtime handler), and RuntimeConfig (the cgroup driver: wardend
// writes cgroupfs paths, so pods' cgroup parents come as cgroupfs paths).
import { runtime } from "../../protocol/gen/cri.js";
import v1 = runtime.v1;

/** The kubelet's API version; a client sends it, and a runtime answers with the one it serves. */
const KUBELET_API_VERSION = "0.1.0";
const RUNTIME_NAME = "wardend";
const RUNTIME_API_VERSION = "v1";

export interface RuntimeFeatures {
  /** Pods in user namespaces of the kubelet's choice (mappings from the pod's security context). */
  userNamespaces: boolean;
  recursiveReadOnlyMounts: boolean;
  supplementalGroupsPolicy: boolean;
}

export function versionResponse(runtimeVersion: string): v1.VersionResponse.$Properties {
  return { version: KUBELET_API_VERSION, runtime_name: RUNTIME_NAME, runtime_version: runtimeVersion, runtime_api_version: RUNTIME_API_VERSION };
}

export function statusResponse(features: RuntimeFeatures, verbose: boolean, info: () => Record<string, unknown>): v1.StatusResponse.$Properties {
  const ready = (type: string) => ({ type, status: true, reason: "", message: "" });
  return {
    status: { conditions: [ready("RuntimeReady"), ready("NetworkReady")] },
    // The default handler (""), the only one: its features say which optional specs apply.
    runtime_handlers: [{ name: "", features: { user_namespaces: features.userNamespaces, recursive_read_only_mounts: features.recursiveReadOnlyMounts } }],
    features: { supplemental_groups_policy: features.supplementalGroupsPolicy },
    info: verbose ? Object.fromEntries(Object.entries(info()).map(([k, v]) => [k, JSON.stringify(v)])) : {},
  };
}

export function runtimeConfigResponse(): v1.RuntimeConfigResponse.$Properties {
  return { linux: { cgroup_driver: v1.CgroupDriver.CGROUPFS } };
}
