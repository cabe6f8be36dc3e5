// Files into and out of a container, its paths resolved inside it as a user.
import type { Readable } from "node:stream";
import type { ResolvedUser } from "./runtime.js";

export interface FileTransfer {
  /** Copies a host path into the container (rsync's trailing-slash rule). */
  copyIn(request: { id: string; user: ResolvedUser; src: string; dst: string }): Promise<void>;
  /** Copies a container path out to a host path, owned by root or `owner`. */
  copyOut(request: { id: string; user: ResolvedUser; src: string; dst: string; owner?: string }): Promise<void>;
  /** Unpacks a tar stream into the container's directory `path` (made when missing). */
  streamIn(request: { id: string; user: ResolvedUser; path: string; tar: Readable }): Promise<void>;
  /** A tar stream of the container's `path` (a directory's entries when it ends in a slash). */
  streamOut(request: { id: string; user: ResolvedUser; path: string }): Promise<Readable>;
}
