// A registry API v2 in this process, for unit tests of the client: images
// put in as blobs and manifests, served with the auth a test asks for
// (none, basic, or bearer tokens from a realm of its own), blobs behind a
// redirect, and faults on demand.
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const sha256 = (data: Buffer | string) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

export interface FakeImage {
  manifest: Buffer;
  manifestType: string;
  digest: string;
}

export class FakeRegistry {
  private server: Server | undefined;
  readonly blobs = new Map<string, Buffer>();
  /** repository -> reference (tag or digest) -> manifest. */
  readonly manifests = new Map<string, Map<string, { body: Buffer; type: string }>>();
  readonly requests: Array<{ url: string; authorization?: string }> = [];
  auth: { kind: "none" } | { kind: "basic"; username: string; password: string } | { kind: "bearer"; username?: string; password?: string } = { kind: "none" };
  /** Blobs are answered with a redirect to /storage/<digest> (as registries do with object storage). */
  redirectBlobs = false;
  /** Serve these bytes instead of a blob's own. */
  corrupt = new Map<string, Buffer>();
  /** Every request is answered with this status. */
  failWith: number | undefined;
  private readonly token = "t0ken";

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  get host(): string {
    return this.url.slice("http://".length);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.answer(req, res));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  addBlob(data: Buffer | string): { digest: string; size: number } {
    const buf = Buffer.from(data);
    const digest = sha256(buf);
    this.blobs.set(digest, buf);
    return { digest, size: buf.length };
  }

  addManifest(repository: string, references: string[], manifest: object, type = "application/vnd.oci.image.manifest.v1+json"): FakeImage {
    const body = Buffer.from(JSON.stringify(manifest));
    const digest = sha256(body);
    const repo = this.manifests.get(repository) ?? new Map();
    for (const r of [...references, digest]) repo.set(r, { body, type });
    this.manifests.set(repository, repo);
    return { manifest: body, manifestType: type, digest };
  }

  /** An image of one config and these layers, tagged. */
  addImage(repository: string, tag: string, layers: Buffer[], config: object = { architecture: "amd64", os: "linux", config: {} }): FakeImage & { layers: Array<{ digest: string; size: number }> } {
    const configBlob = this.addBlob(JSON.stringify(config));
    const layerBlobs = layers.map((l) => this.addBlob(l));
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configBlob },
      layers: layerBlobs.map((b) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...b })),
    };
    return { ...this.addManifest(repository, [tag], manifest), layers: layerBlobs };
  }

  private authorized(req: IncomingMessage, res: ServerResponse): boolean {
    const header = req.headers.authorization;
    const a = this.auth;
    if (a.kind === "none") return true;
    if (a.kind === "basic") {
      if (header === `Basic ${Buffer.from(`${a.username}:${a.password}`).toString("base64")}`) return true;
      res.writeHead(401, { "www-authenticate": 'Basic realm="fake"' }).end();
      return false;
    }
    if (header === `Bearer ${this.token}`) return true;
    res.writeHead(401, { "www-authenticate": `Bearer realm="${this.url}/token",service="fake-registry"` }).end();
    return false;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", this.url);
    this.requests.push({ url: url.pathname + url.search, authorization: req.headers.authorization });
    if (this.failWith) {
      res.writeHead(this.failWith).end("failing on purpose");
      return;
    }
    if (url.pathname === "/token") {
      const a = this.auth;
      const wanted = a.kind === "bearer" && a.username ? `Basic ${Buffer.from(`${a.username}:${a.password}`).toString("base64")}` : undefined;
      if (wanted && req.headers.authorization !== wanted) {
        res.writeHead(401).end("bad credentials");
        return;
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: this.token }));
      return;
    }
    const storage = /^\/storage\/(sha256:[a-f0-9]{64})$/.exec(url.pathname);
    if (storage) {
      const blob = this.corrupt.get(storage[1]) ?? this.blobs.get(storage[1]);
      res.writeHead(blob ? 200 : 404).end(blob);
      return;
    }
    if (!this.authorized(req, res)) return;
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) {
      res.writeHead(url.pathname === "/v2/" ? 200 : 404).end();
      return;
    }
    const [, repository, what, reference] = m;
    if (what === "manifests") {
      const found = this.manifests.get(repository)?.get(reference);
      // As registry 2.8: without an Accept for OCI types, an OCI manifest is "not found".
      if (!found || (found.type.includes("oci") && !String(req.headers.accept ?? "").includes(found.type))) {
        res.writeHead(404, { "content-type": "application/json" }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
        return;
      }
      res.writeHead(200, { "content-type": found.type, "docker-content-digest": sha256(found.body) }).end(found.body);
      return;
    }
    if (!this.blobs.has(reference)) {
      res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
      return;
    }
    if (this.redirectBlobs) {
      res.writeHead(307, { location: `${this.url}/storage/${reference}` }).end();
      return;
    }
    res.writeHead(200).end(this.corrupt.get(reference) ?? this.blobs.get(reference));
  }
}
