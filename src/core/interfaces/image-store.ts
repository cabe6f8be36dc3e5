// Images as the core uses them: layers to stack under a container's
// writable layer, and a configuration for its processes.
import type { ImageReference } from "../images/reference.js";

/** What an image says its processes run with. */
export interface ImageConfig {
  env: string[];
  workingDir?: string;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
}

export interface Image {
  /** The image's canonical name (registry/repository:tag), or the file it came from. */
  name: string;
  /** The digest of its manifest. */
  id: string;
  /** Directories of its layers, lowest first, ready to stack. */
  layers: string[];
  config: ImageConfig;
}

export interface ImageSummary {
  name: string;
  id: string;
  /** Bytes of its layers on disk. */
  size: number;
  /** Containers using it. */
  holders: string[];
  /** The user its configuration names, when it names one. */
  user?: string;
}

export interface PullProgress {
  image: string;
  layersDone: number;
  layers: number;
  /** Bytes fetched so far, of totalBytes (layers already in the store count as fetched). */
  bytes: number;
  totalBytes: number;
}

export interface ImageCredentials {
  username: string;
  password: string;
}

export interface ImageStore {
  /**
   * Makes the image available (pulled or loaded when not in the store) and
   * holds it for `holder` (a container id) until released. Two acquires of
   * one image fetch it once.
   */
  acquire(
    ref: Exclude<ImageReference, { kind: "directory" }>,
    holder: string,
    /** privileged: layers for a container without a user namespace (unshifted). */
    options?: { credentials?: ImageCredentials; onProgress?: (p: PullProgress) => void; privileged?: boolean },
  ): Promise<Image>;
  /** Asks the image's source again (a tag may have moved) and fetches what the store lacks. */
  pull(ref: Exclude<ImageReference, { kind: "directory" }>, options?: { credentials?: ImageCredentials; onProgress?: (p: PullProgress) => void }): Promise<Image>;
  release(holder: string): Promise<void>;
  /** Forgets holders that are no containers any more (after a restart) and what was left half-made. */
  reconcile(live: ReadonlySet<string>): Promise<void>;
  list(): Promise<ImageSummary[]>;
  /** Removes an image nobody holds (by the name list gives), and the layers no other image has. */
  remove(name: string): Promise<void>;
  /** Removes images nobody holds and layers no image has; returns their names and the bytes freed. */
  prune(): Promise<{ images: string[]; bytes: number }>;
}
