// A container's root filesystem: a writable layer over a read-only base.
import type { DnsConfig } from "../container/spec.js";
import type { IdMap } from "./id-map.js";

export type BindMountMode = "ro" | "rw";

export interface BindMount {
  srcPath: string;
  dstPath: string;
  mode: BindMountMode;
  /**
   * Whether mounts made later under it cross between host and container
   * (a pea's): not at all (absent, "private"), from the host in
   * ("host-to-container"), or both ways ("bidirectional", privileged only).
   */
  propagation?: BindMountPropagation;
  /** Read-only through and through, what is mounted under the source included (a pea's; needs "ro" and no propagation). */
  recursiveReadOnly?: boolean;
}

export type BindMountPropagation = "private" | "host-to-container" | "bidirectional";

/** What a container's writable layer goes over. */
export type RootfsBase =
  /** A host directory the client named. */
  | { kind: "directory"; path: string }
  /** An image's layers from the image store, lowest first, ready to stack as they are. */
  | { kind: "layers"; layers: string[] };

/** What the filesystem needs to make a container's root. */
export interface RootfsSpec {
  id: string;
  base: RootfsBase;
  bindMounts: BindMount[];
  /** The container user's uid, given its own account in the root. */
  uid: number;
  /** The container's name on its own network, for /etc/hosts. */
  containerIp: string;
  hostIp: string;
  /** Its name in /etc/hostname and /etc/hosts; absent: its id. */
  hostname?: string;
  /** No user namespace: the base and the container's files keep their ids. */
  privileged?: boolean;
  /** Its own user namespace: the base (kept with the host's ids) is seen through this map. */
  idMap?: IdMap;
  /** Its own name resolution; absent: the daemon's. */
  dns?: DnsConfig;
}

/** An image's layers (bottom first) mounted read-only at dstPath, or only its directory subPath. */
export interface ImageMountLayers {
  layers: readonly string[];
  dstPath: string;
  subPath?: string;
}

export interface FilesystemUsage {
  usedBytes: bigint;
  usedInodes: bigint;
  capacityBytes: bigint;
  inodesTotal: bigint;
  inodesFree: bigint;
}

export interface Filesystem {
  /** Checks what the client named (base, bind mount sources), before anything is made for the container. */
  check(spec: { base?: RootfsBase; bindMounts: BindMount[] }): Promise<void>;
  /** Builds the container's root; returns where it is, for the runtime. */
  prepare(spec: RootfsSpec): Promise<string>;
  /**
   * The root of a pea of container `containerId`: its base under a writable
   * layer of its own in the container's directory. Answers where it is, its
   * account files (to find the pea's user in), and its bind mounts as the
   * runtime must take them (their sources as the host has them now).
   */
  preparePea(spec: {
    containerId: string;
    peaId: string;
    base: RootfsBase;
    privileged?: boolean;
    /** The container's own user namespace map: the pea's base and volumes are seen through it. */
    idMap?: IdMap;
    bindMounts?: BindMount[];
    /** Images' contents, read-only, at paths of the pea's: bound after `bindMounts`, in the answer's too. */
    imageMounts?: readonly ImageMountLayers[];
  }): Promise<{ rootfsPath: string; passwd: string; group: string; bindMounts: BindMount[] }>;
  /** What `path` (relative to its "/") is in a base; a symbolic link is named as one, not followed. */
  findInBase(base: RootfsBase, path: string): Promise<"directory" | "file" | "symlink" | undefined>;
  /** What a pea's writable layer holds, and what its filesystem has room for. */
  peaUsage(containerId: string, peaId: string): Promise<FilesystemUsage>;
  /** Unmounts and removes a pea's root; safe for one already gone. */
  removePea(containerId: string, peaId: string): Promise<void>;
  /** Bytes its base (directory or image layers) takes on disk, known once the root is made. */
  baseBytes(id: string): Promise<bigint | undefined>;
  /** Unmounts the container's root; safe while the runtime is still tearing the container down. */
  unmount(id: string): Promise<void>;
  /** Removes the container's root and writable layer once its processes are gone; safe for a half-made or missing one. */
  remove(id: string): Promise<void>;
  /** Unmounts roots of containers that are not live (left by a daemon killed half-way); returns their ids. */
  removeOrphans(live: ReadonlySet<string>): Promise<string[]>;
}
