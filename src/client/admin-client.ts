// A client of wardend's admin channel (src/api/admin/server.ts): the image
// store. By default the channel is the Warden socket's path + ".admin".
import { request } from "node:http";
import type { ImageSummary, PullProgress } from "../core/interfaces/image-store.js";

// The admin channel sends the store's own summaries and progress as they are.
export type { ImageSummary, PullProgress };

export interface PulledImage {
  name: string;
  id: string;
  layers: number;
  config: { env: string[]; workingDir?: string; user?: string; entrypoint?: string[]; cmd?: string[] };
}

/** What the daemon answered with instead of a result. */
export class AdminError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
    this.name = "AdminError";
  }
}

export class AdminClient {
  constructor(readonly socketPath: string) {}

  /** The admin channel of the daemon listening on this Warden socket. */
  static besideWardenSocket(path: string): AdminClient {
    return new AdminClient(`${path}.admin`);
  }

  listImages(): Promise<ImageSummary[]> {
    return this.call("GET", "/images") as Promise<ImageSummary[]>;
  }

  async removeImage(ref: string): Promise<string> {
    return ((await this.call("DELETE", `/images/${encodeURIComponent(ref)}`)) as { removed: string }).removed;
  }

  pruneImages(): Promise<{ images: string[]; bytes: number }> {
    return this.call("POST", "/images/prune") as Promise<{ images: string[]; bytes: number }>;
  }

  /** Pulls (or loads, for oci:, oci-archive: and docker-archive: references); progress as it comes. */
  pullImage(ref: string, options: { username?: string; password?: string; onProgress?: (p: PullProgress) => void; onLine?: (line: string) => void } = {}): Promise<PulledImage> {
    const body = JSON.stringify({ ref, username: options.username, password: options.password });
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path: "/images/pull", method: "POST", headers: { "content-type": "application/json" } }, (res) => {
        let buffered = "";
        let result: PulledImage | undefined;
        let failure: AdminError | undefined;
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buffered += chunk;
          let nl: number;
          while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            if (line === "") continue;
            options.onLine?.(line);
            const msg = JSON.parse(line) as { progress?: PullProgress; image?: PulledImage; error?: { code: string; message: string; detail?: string } };
            if (msg.progress) options.onProgress?.(msg.progress);
            if (msg.image) result = msg.image;
            if (msg.error) failure = new AdminError(msg.error.code, msg.error.message, msg.error.detail);
          }
        });
        res.on("end", () => {
          if (failure) reject(failure);
          else if (result) resolve(result);
          else reject(new AdminError("INTERNAL", "the daemon ended the pull without a result"));
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  private call(method: string, path: string, body?: object): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: this.socketPath, path, method, headers: { "content-type": "application/json" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          let value: { error?: { code: string; message: string; detail?: string } };
          try {
            value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          } catch {
            reject(new AdminError("INTERNAL", `the daemon answered ${res.statusCode} without JSON`));
            return;
          }
          if (value?.error) reject(new AdminError(value.error.code, value.error.message, value.error.detail));
          else resolve(value);
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end(body ? JSON.stringify(body) : undefined);
    });
  }
}
