// The parts of the OCI runtime spec (config.json) this daemon writes.
import type { OciSeccomp } from "../security/seccomp.js";

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

export interface OciRlimit {
  type: string;
  soft: bigint;
  hard: bigint;
}

export interface OciCapabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

export interface OciProcess {
  terminal: boolean;
  user: { uid: number; gid: number; additionalGids?: number[] };
  args: string[];
  env: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  consoleSize?: { height: number; width: number };
}

export interface OciDevice {
  path: string;
  type: "c" | "b";
  major: number;
  minor: number;
  fileMode: number;
  uid: number;
  gid: number;
}

export interface OciDeviceRule {
  allow: boolean;
  type?: "a" | "c" | "b";
  major?: number;
  minor?: number;
  access: string;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciSpec {
  ociVersion: string;
  process: OciProcess;
  root: { path: string; readonly: boolean };
  hostname: string;
  annotations?: Record<string, string>;
  mounts: OciMount[];
  linux: {
    namespaces: { type: string; path?: string }[];
    cgroupsPath: string;
    devices: OciDevice[];
    resources: { devices: OciDeviceRule[]; pids?: { limit: number } };
    maskedPaths: string[];
    readonlyPaths: string[];
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    seccomp?: OciSeccomp;
    sysctl?: Record<string, string>;
    /** How the root's mounts propagate: the runtime's default is rslave. */
    rootfsPropagation?: "rprivate" | "rslave" | "rshared";
  };
}

/** JSON for the runtime: bigint values (rlimits up to 2^64-1) written as exact numbers. */
export function specJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `__bigint__${v}` : v)).replace(
    /"__bigint__(\d+)"/g,
    "$1",
  );
}
