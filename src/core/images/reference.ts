// What a client may name as a container's root filesystem: a host
// directory, an image in a registry (Garden's docker:///busybox#1.37.0,
// docker://host:port/repo#tag, the usual host/repo:tag and @sha256:
// digests, or a bare name as the CRI sends), or an image in a local file
// (an OCI layout directory, an OCI or Docker archive). Names are normalized
// as Docker does: docker.io is the default registry, library/ the default
// namespace there, latest the default tag.
import { errors } from "../errors.js";

export const DEFAULT_REGISTRY = "docker.io";
export const DEFAULT_TAG = "latest";

export interface RegistryImage {
  kind: "registry";
  /** host[:port], as named (docker.io for Docker Hub). */
  registry: string;
  /** The repository path: library/busybox, team/app. */
  repository: string;
  /** A tag, when not named by digest. */
  tag?: string;
  /** sha256:<64 hex>, when named by digest (a tag may come with it and is then informative). */
  digest?: string;
}

export type ImageReference =
  | { kind: "directory"; path: string }
  | RegistryImage
  | { kind: "oci-layout"; path: string; tag?: string }
  | { kind: "oci-archive"; path: string }
  | { kind: "docker-archive"; path: string };

const DIGEST = /^sha256:[a-f0-9]{64}$/;
const TAG = /^[\w][\w.-]{0,127}$/;
// Docker's repository components: lowercase letters and digits, separated by ., _, __ or dashes.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d{1,5})?$/;
const MAX_NAME = 255;

const bad = (text: string, why: string) => errors.invalid(`image ${JSON.stringify(text)} ${why}`);

export function isDigest(text: string): boolean {
  return DIGEST.test(text);
}

// A first component is a registry when it looks like a host (a dot or a port) or is localhost.
function splitRegistry(name: string): { registry: string; path: string } {
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    return { registry: first, path: name.slice(slash + 1) };
  }
  return { registry: DEFAULT_REGISTRY, path: name };
}

/** `name[:tag][@digest]` or, with `tagSeparator` "#", Garden's `name#tag`. */
function parseRegistryName(text: string, name: string, tagSeparator: ":" | "#"): RegistryImage {
  let rest = name;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(text, "has a digest that is not sha256:<64 hex digits>");
  }
  let tag: string | undefined;
  if (tagSeparator === "#") {
    const hash = rest.indexOf("#");
    if (hash >= 0) {
      tag = rest.slice(hash + 1);
      rest = rest.slice(0, hash);
    }
  }
  const { registry, path } = splitRegistry(rest);
  if (tagSeparator === ":" && tag === undefined) {
    // The tag is after the last colon of the path, not of a registry's port.
    const colon = path.lastIndexOf(":");
    if (colon >= 0) {
      tag = path.slice(colon + 1);
      rest = path.slice(0, colon);
    } else rest = path;
  } else rest = path;
  if (!HOST.test(registry)) throw bad(text, `names a registry that is not a host: ${registry}`);
  if (rest === "") throw bad(text, "names no repository");
  let repository = rest;
  if (registry === DEFAULT_REGISTRY && !repository.includes("/")) repository = `library/${repository}`;
  if (!repository.split("/").every((c) => COMPONENT.test(c))) {
    throw bad(text, "has a repository that is not lowercase letters, digits and separators");
  }
  if (repository.length > MAX_NAME) throw bad(text, `has a repository longer than ${MAX_NAME} characters`);
  if (tag !== undefined && !TAG.test(tag)) throw bad(text, "has a tag that is not 1-128 letters, digits, '_', '.' or '-'");
  if (tag === undefined && digest === undefined) tag = DEFAULT_TAG;
  return { kind: "registry", registry, repository, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

export function parseImageReference(text: string): ImageReference {
  if (typeof text !== "string" || text === "" || text.includes("\0") || /[\s]/.test(text)) {
    throw bad(String(text), "must be a non-empty name without blanks or NUL bytes");
  }
  if (text.startsWith("/")) return { kind: "directory", path: text };
  if (text.startsWith("docker://")) {
    const rest = text.slice("docker://".length);
    // docker:///name: Docker Hub; docker://host/name: that registry. Garden's tag follows a '#'.
    const name = rest.startsWith("/") ? rest.slice(1) : rest;
    return parseRegistryName(text, name, name.includes("#") ? "#" : ":");
  }
  for (const kind of ["oci-archive", "docker-archive"] as const) {
    if (text.startsWith(`${kind}:`)) {
      const path = text.slice(kind.length + 1);
      if (!path.startsWith("/")) throw bad(text, "must name an absolute path");
      return { kind, path };
    }
  }
  if (text.startsWith("oci:")) {
    const rest = text.slice("oci:".length);
    if (!rest.startsWith("/")) throw bad(text, "must name an absolute path");
    const colon = rest.lastIndexOf(":");
    if (colon > 0) {
      const tag = rest.slice(colon + 1);
      if (!TAG.test(tag)) throw bad(text, "has a tag that is not 1-128 letters, digits, '_', '.' or '-'");
      return { kind: "oci-layout", path: rest.slice(0, colon), tag };
    }
    return { kind: "oci-layout", path: rest };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw bad(text, "has a scheme other than docker://");
  return parseRegistryName(text, text, ":");
}

/** The canonical name: registry/repository[:tag][@digest]. */
export function formatImageReference(ref: RegistryImage): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** The name an image is kept and shown under: the canonical registry name, or the file it came from. */
export function imageName(ref: Exclude<ImageReference, { kind: "directory" }>): string {
  switch (ref.kind) {
    case "registry":
      return formatImageReference(ref);
    case "oci-layout":
      return `oci:${ref.path}${ref.tag ? `:${ref.tag}` : ""}`;
    default:
      return `${ref.kind}:${ref.path}`;
  }
}
