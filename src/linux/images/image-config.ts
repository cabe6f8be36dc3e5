// An image's configuration blob (OCI image config, Docker's is the same
// shape) as the core uses it: what its processes run with, and the layers it
// claims to have, to be checked against its manifest.
import { errors } from "../../core/errors.js";
import type { ImageConfig } from "../../core/interfaces/image-store.js";
import type { Descriptor } from "./registry-client.js";

const LAYER_TYPES = new Set([
  "application/vnd.oci.image.layer.v1.tar",
  "application/vnd.oci.image.layer.v1.tar+gzip",
  "application/vnd.oci.image.layer.v1.tar+zstd",
  "application/vnd.oci.image.layer.nondistributable.v1.tar",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  "application/vnd.docker.image.rootfs.diff.tar",
  "application/vnd.docker.image.rootfs.diff.tar.gzip",
  "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
]);

/** Refuses layers we cannot unpack (encrypted ones, artifacts that are no filesystem). */
export function checkLayers(layers: Descriptor[], image: string): void {
  for (const l of layers) {
    // Some writers leave a layer's media type out; tar detects the compression itself.
    if (l.mediaType !== undefined && !LAYER_TYPES.has(l.mediaType)) {
      throw errors.imageInvalid(image, `its layer ${l.digest} is ${l.mediaType}, not a filesystem layer`);
    }
    if (!Number.isSafeInteger(l.size) || l.size < 0) throw errors.imageInvalid(image, `its layer ${l.digest} has no valid size`);
  }
}

function strings(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.filter((v): v is string => typeof v === "string");
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

export interface ParsedConfig {
  config: ImageConfig;
  os?: string;
  architecture?: string;
}

export function parseImageConfig(bytes: Buffer, image: string): ParsedConfig {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw errors.imageInvalid(image, "its configuration is not JSON");
  }
  if (!doc || typeof doc !== "object") throw errors.imageInvalid(image, "its configuration is not a JSON object");
  if (doc.os !== undefined && doc.os !== "linux") throw errors.imageInvalid(image, `it is built for ${String(doc.os)}, not linux`);
  const c = (doc.config && typeof doc.config === "object" ? doc.config : {}) as Record<string, unknown>;
  const config: ImageConfig = { env: (strings(c.Env) ?? []).filter((e) => /^[^=\0]+=/.test(e) && !e.includes("\0")) };
  const workingDir = text(c.WorkingDir);
  if (workingDir !== undefined) {
    if (!workingDir.startsWith("/") || workingDir.includes("\0")) throw errors.imageInvalid(image, `its WorkingDir ${JSON.stringify(workingDir)} is not an absolute path`);
    config.workingDir = workingDir;
  }
  const user = text(c.User);
  if (user !== undefined) config.user = user;
  const entrypoint = strings(c.Entrypoint);
  if (entrypoint) config.entrypoint = entrypoint;
  const cmd = strings(c.Cmd);
  if (cmd) config.cmd = cmd;
  return { config, os: text(doc.os), architecture: text(doc.architecture) };
}
