// The registry API v2, as pulling an image needs it: a manifest (OCI or
// Docker schema 2, an index or manifest list narrowed to this machine's
// platform), the image's configuration, and blobs streamed to files and
// checked against their digests. Mirrors are tried first, in order; an image
// keeps its own name whichever served it. Anonymous, basic and bearer-token
// authentication, as a registry's WWW-Authenticate asks. HTTPS with the
// system's CAs plus a configured file; plain HTTP only for registries named
// insecure, and loopback.
import { createHash } from "node:crypto";
import { PassThrough, type Readable } from "node:stream";
import type { IncomingMessage } from "node:http";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { rootCertificates } from "node:tls";
import { CoreError, errors } from "../../core/errors.js";
import { formatImageReference, isDigest, type RegistryImage } from "../../core/images/reference.js";

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

// Registry 2.8 answers "not found" to a manifest request whose Accept lacks the OCI types.
const ACCEPT = Object.values(MEDIA_TYPES).join(", ");
const MAX_MANIFEST = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface RegistryConfig {
  /** A registry's name (docker.io, registry.k8s.io) to mirror URLs tried before it, in order. */
  mirrors: Record<string, string[]>;
  /** Registries reached over plain HTTP, besides loopback. */
  insecure: string[];
  /** Trusted CAs besides the system's (PEM). */
  ca?: string;
  timeoutMs: number;
}

export interface Credentials {
  username: string;
  password: string;
}

/** Where an image was found: the URL its blobs come from, and how to ask. */
export interface Source {
  base: string;
  repository: string;
  authorization?: string;
}

export interface ResolvedManifest {
  source: Source;
  /** The digest of the manifest chosen (for an index: of this platform's manifest). */
  digest: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** This machine's platform, as images name theirs. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x" };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch };
}

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\./.test(name);
}

interface Response {
  status: number;
  headers: IncomingMessage["headers"];
  body: IncomingMessage;
}

/** `Bearer realm="x",service="y"` and the like. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[m[1].toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[3];
  }
  return { scheme, params };
}

async function readAll(body: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      throw new Error(`the answer is larger than ${max} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export class RegistryClient {
  private readonly ca: string[] | undefined;

  constructor(
    private readonly config: RegistryConfig,
    private readonly platform: Platform = hostPlatform(),
  ) {
    this.ca = config.ca ? [...rootCertificates, config.ca] : undefined;
  }

  /** The URLs an image is looked for at: its registry's mirrors, then the registry itself. */
  endpoints(registry: string): string[] {
    const own = registry === "docker.io" ? "registry-1.docker.io" : registry;
    const scheme = this.config.insecure.includes(registry) || isLoopback(own) ? "http" : "https";
    return [...(this.config.mirrors[registry] ?? []).map((m) => m.replace(/\/+$/, "")), `${scheme}://${own}`];
  }

  private send(url: string, headers: Record<string, string>, redirects = 0): Promise<Response> {
    const target = new URL(url);
    const request = target.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise<Response>((resolve, reject) => {
      let response: IncomingMessage | undefined;
      const req = request(
        target,
        { method: "GET", headers, timeout: this.config.timeoutMs, ...(target.protocol === "https:" && this.ca ? { ca: this.ca } : {}) },
        (res) => {
          const status = res.statusCode ?? 0;
          const location = res.headers.location;
          if ([301, 302, 303, 307, 308].includes(status) && location && redirects < MAX_REDIRECTS) {
            res.resume();
            const next = new URL(location, target);
            // Credentials are for the registry, not for wherever it sends us.
            const { authorization: _auth, ...rest } = headers;
            const keep = next.host === target.host ? headers : rest;
            this.send(next.toString(), keep, redirects + 1).then(resolve, reject);
            return;
          }
          response = res;
          resolve({ status, headers: res.headers, body: res });
        },
      );
      req.on("timeout", () => {
        // Silent in the middle of a body too: the reader hears why, not only "aborted".
        const err = new Error(`no answer within ${this.config.timeoutMs} ms`);
        if (response) response.destroy(err);
        req.destroy(err);
      });
      req.on("error", reject);
      req.end();
    });
  }

  // A request answered 401 is asked again with what the challenge wants: basic credentials,
  // or a token from the realm it names (with the credentials, when there are some).
  private async authorized(url: string, source: Source, headers: Record<string, string>, creds: Credentials | undefined, image: string): Promise<Response> {
    const first = await this.send(url, { ...headers, ...(source.authorization ? { authorization: source.authorization } : {}) });
    if (first.status !== 401) return first;
    first.body.resume();
    const challenge = parseChallenge(String(first.headers["www-authenticate"] ?? ""));
    const basic = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}` : undefined;
    if (challenge.scheme === "basic") {
      if (!basic) throw errors.imageUnauthorized(image, new URL(url).host, "the registry wants a username and password");
      source.authorization = basic;
    } else if (challenge.scheme === "bearer" && challenge.params.realm) {
      const realm = new URL(challenge.params.realm);
      if (challenge.params.service) realm.searchParams.set("service", challenge.params.service);
      realm.searchParams.set("scope", challenge.params.scope ?? `repository:${source.repository}:pull`);
      const answer = await this.send(realm.toString(), basic ? { authorization: basic } : {});
      const text = (await readAll(answer.body, MAX_MANIFEST)).toString();
      if (answer.status !== 200) throw errors.imageUnauthorized(image, realm.host, `the token service answered ${answer.status}: ${text.slice(0, 200)}`);
      const token = (JSON.parse(text) as { token?: string; access_token?: string });
      const value = token.token ?? token.access_token;
      if (!value) throw errors.imageUnauthorized(image, realm.host, "the token service gave no token");
      source.authorization = `Bearer ${value}`;
    } else {
      throw errors.imageUnauthorized(image, new URL(url).host, `an unknown challenge: ${String(first.headers["www-authenticate"])}`);
    }
    const again = await this.send(url, { ...headers, authorization: source.authorization });
    if (again.status === 401 || again.status === 403) {
      again.body.resume();
      throw errors.imageUnauthorized(image, new URL(url).host, "the credentials were refused");
    }
    return again;
  }

  private async manifestAt(source: Source, reference: string, creds: Credentials | undefined, image: string): Promise<{ type: string; body: Buffer; digest: string }> {
    const url = `${source.base}/v2/${source.repository}/manifests/${reference}`;
    const res = await this.authorized(url, source, { accept: ACCEPT }, creds, image);
    if (res.status === 404) {
      const text = (await readAll(res.body, MAX_MANIFEST).catch(() => Buffer.alloc(0))).toString();
      throw errors.imageNotFound(image, text.slice(0, 300));
    }
    if (res.status !== 200) {
      const text = (await readAll(res.body, MAX_MANIFEST).catch(() => Buffer.alloc(0))).toString();
      throw errors.registryUnavailable(new URL(url).host, `GET ${url} answered ${res.status}: ${text.slice(0, 300)}`);
    }
    const body = await readAll(res.body, MAX_MANIFEST);
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    if (isDigest(reference) && digest !== reference) throw errors.digestMismatch(image, reference, `the manifest's digest is ${digest}`);
    const type = String(res.headers["content-type"] ?? "").split(";")[0].trim();
    return { type, body, digest };
  }

  /**
   * The manifest of this machine's platform for the image, from the first
   * endpoint that has it. A registry that cannot be reached, or does not
   * have the image, passes to the next; refused credentials stop there.
   */
  async resolve(ref: RegistryImage, creds?: Credentials): Promise<ResolvedManifest> {
    const image = formatImageReference(ref);
    const reference = ref.digest ?? ref.tag ?? "latest";
    let last: unknown;
    for (const base of this.endpoints(ref.registry)) {
      const source: Source = { base, repository: ref.repository };
      try {
        return await this.resolveAt(source, reference, creds, image);
      } catch (err) {
        if (err instanceof CoreError && (err.code === "IMAGE_UNAUTHORIZED" || err.code === "DIGEST_MISMATCH" || err.code === "IMAGE_INVALID")) throw err;
        last = err;
      }
    }
    if (last instanceof CoreError && last.code === "IMAGE_NOT_FOUND") throw last;
    let detail = (last instanceof Error ? last.message : String(last)).replace(/\s+/g, " ").trim();
    // An HTTPS request answered by a plain HTTP server fails in the TLS handshake.
    if (/wrong version number|packet length too long|EPROTO/i.test(detail)) {
      detail += `; if ${ref.registry} speaks plain HTTP, name it in images.insecure_registries`;
    }
    throw errors.registryUnavailable(ref.registry, detail, last);
  }

  private async resolveAt(source: Source, reference: string, creds: Credentials | undefined, image: string): Promise<ResolvedManifest> {
    let manifest = await this.manifestAt(source, reference, creds, image);
    let parsed = parseJson(manifest.body, image) as { mediaType?: string; manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] };
    const type = parsed.mediaType ?? manifest.type;
    if (type === MEDIA_TYPES.ociIndex || type === MEDIA_TYPES.dockerList || Array.isArray(parsed.manifests)) {
      const chosen = this.choose(parsed.manifests ?? [], image);
      manifest = await this.manifestAt(source, chosen.digest, creds, image);
      parsed = parseJson(manifest.body, image) as typeof parsed;
    }
    if (!parsed.config?.digest || !Array.isArray(parsed.layers)) throw errors.imageInvalid(image, "its manifest has no config or no layers");
    for (const d of [parsed.config, ...parsed.layers]) {
      if (!isDigest(d.digest) || !Number.isSafeInteger(d.size) || d.size < 0) throw errors.imageInvalid(image, `a descriptor is not sha256 with a size: ${JSON.stringify(d)}`);
    }
    return { source, digest: manifest.digest, config: parsed.config, layers: parsed.layers };
  }

  /** This machine's entry of an index: its OS and architecture, and its variant when the index names one. */
  choose(manifests: Descriptor[], image: string): Descriptor {
    const { os, architecture, variant } = this.platform;
    const fits = manifests.filter((m) => m.platform?.os === os && m.platform?.architecture === architecture);
    const chosen = fits.find((m) => !variant || !m.platform?.variant || m.platform.variant === variant) ?? fits[0];
    if (!chosen) {
      const offered = manifests.map((m) => `${m.platform?.os}/${m.platform?.architecture}`).join(", ");
      throw errors.imageInvalid(image, `it has no ${os}/${architecture} variant (it has ${offered || "none"})`);
    }
    return chosen;
  }

  /** A blob's bytes, whole and checked (for the image's configuration). */
  async blob(source: Source, descriptor: Descriptor, image: string, max = MAX_MANIFEST): Promise<Buffer> {
    const res = await this.blobResponse(source, descriptor, image);
    const body = await readAll(res.body, max);
    const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
    if (digest !== descriptor.digest) throw errors.digestMismatch(image, descriptor.digest, `got ${digest}`);
    return body;
  }

  private async blobResponse(source: Source, descriptor: Descriptor, image: string): Promise<Response> {
    const url = `${source.base}/v2/${source.repository}/blobs/${descriptor.digest}`;
    const res = await this.authorized(url, source, {}, undefined, image);
    if (res.status !== 200) {
      res.body.resume();
      if (res.status === 404) throw errors.imageNotFound(image, `blob ${descriptor.digest} is missing`);
      throw errors.registryUnavailable(new URL(url).host, `GET ${url} answered ${res.status}`);
    }
    return res;
  }

  /**
   * A blob's bytes as they come, unchecked: the reader hashes them (see
   * layer-unpack.ts). A failure of the registry on the way (a reset, a time-out)
   * comes out of the stream as REGISTRY_UNAVAILABLE.
   */
  async blobStream(source: Source, descriptor: Descriptor, image: string): Promise<Readable> {
    const host = new URL(source.base).host;
    let res: Response;
    try {
      res = await this.blobResponse(source, descriptor, image);
    } catch (err) {
      if (err instanceof CoreError) throw err;
      throw errors.registryUnavailable(host, err instanceof Error ? err.message : String(err), err);
    }
    const out = new PassThrough();
    res.body.on("error", (err) => out.destroy(errors.registryUnavailable(host, err.message, err)));
    out.on("close", () => res.body.destroy());
    res.body.pipe(out);
    return out;
  }
}


function parseJson(body: Buffer, image: string): unknown {
  try {
    return JSON.parse(body.toString());
  } catch {
    throw errors.imageInvalid(image, "its manifest is not JSON");
  }
}
