// Garden's JSON routes (garden's routes/routes.go), each a call on the
// container service. A request on a container holds it against the grace
// reaper while it is served, as Garden's bomberman is paused.
import { readBody } from "../http-body.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { CoreError } from "../../core/errors.js";
import type { ContainerService } from "../../core/service/container-service.js";
import { gardenCapabilities } from "./capabilities.js";
import { gardenError, GardenRequestError } from "./errors.js";
import {
  containerSpec,
  containerSpecSchema,
  infoJson,
  jsonText,
  metricsJson,
  netOutRules,
  netOutRuleSchema,
  parse,
} from "./wire.js";
import { z } from "zod";

export interface GardenRoutesConfig {
  /** Seconds; null: never reaped. */
  graceTimeSeconds: number | null;
  allowPrivileged: boolean;
  externalIp: string;
  capacity: () => Promise<{ memory_in_bytes: number; disk_in_bytes: number; schedulable_disk_in_bytes: number; max_containers: number }>;
}

interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: URLSearchParams;
}

type Handler = (ctx: Ctx) => Promise<unknown>;

const MAX_JSON = 8 * 1024 * 1024;

async function body(req: IncomingMessage): Promise<unknown> {
  const bytes = await readBody(req, MAX_JSON, () => new GardenRequestError(`the request body is larger than ${MAX_JSON} bytes`, 413));
  const text = bytes.toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new GardenRequestError("the request body is not JSON");
  }
}

const decode = (segment: string) => {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GardenRequestError(`bad escape in ${segment}`);
  }
};

const EMPTY = {};
const NO_BANDWIDTH_LIMIT = 4294967295;

/** Guardian's words before the core's, for errors Garden's clients match on. */
function withPrefix(err: unknown, prefix: string): unknown {
  if (err instanceof CoreError && err.code !== "CONTAINER_NOT_FOUND") return new CoreError(err.code, `${prefix}: ${err.message}`, { details: err.details, detail: err.detail, cause: err });
  return err;
}

export class GardenRoutes {
  private readonly table: Array<{ method: string; pattern: RegExp; handler: Handler; container: boolean }> = [];
  /** Handles being destroyed: a second Destroy is told so, as Garden does. */
  private readonly destroying = new Set<string>();

  constructor(
    private readonly service: ContainerService,
    private readonly config: GardenRoutesConfig,
  ) {
    const on = (method: string, path: string, handler: Handler) => {
      const pattern = new RegExp(`^${path.replace(/:[a-z]+/g, "([^/]+)")}$`);
      this.table.push({ method, pattern, handler, container: path.includes(":handle") });
    };
    const s = this.service;
    on("GET", "/ping", async () => EMPTY);
    on("GET", "/capacity", () => this.config.capacity());
    on("GET", "/containers", async ({ query }) => ({ Handles: s.list(Object.fromEntries(query)) }));
    on("POST", "/containers", async ({ req }) => this.create(await body(req)));
    on("GET", "/containers/bulk_info", async ({ query }) => this.bulk(query, (h) => infoJson(s.info(h), this.config.externalIp), "Info"));
    on("GET", "/containers/bulk_metrics", async ({ query }) =>
      this.bulk(query, async (h) => {
        // Guardian answers for a pea by its process id as well.
        try {
          return metricsJson(await s.metrics(h));
        } catch (err) {
          const pea = err instanceof CoreError && err.code === "CONTAINER_NOT_FOUND" ? await s.peaMetrics(h) : undefined;
          if (pea) return metricsJson(pea);
          throw err;
        }
      }, "Metrics"));
    on("GET", "/containers/:handle/info", async ({ params }) => infoJson(s.info(params[0]), this.config.externalIp));
    on("GET", "/containers/:handle/metrics", async ({ params }) => metricsJson(await s.metrics(params[0])));
    on("DELETE", "/containers/:handle", async ({ params }) => this.destroy(params[0]));
    on("PUT", "/containers/:handle/stop", async ({ req, params }) => {
      const request = parse(z.object({ kill: z.boolean().optional() }).nullish(), await body(req), "stop request");
      await s.stop(params[0], { kill: request?.kill ?? false });
      return EMPTY;
    });
    on("PUT", "/containers/:handle/files", async ({ req, params, query }) => {
      try {
        await s.streamIn(params[0], { path: query.get("destination") ?? "", user: query.get("user") || undefined, tar: req });
      } catch (err) {
        throw withPrefix(err, "error streaming in");
      }
      return EMPTY;
    });
    on("GET", "/containers/:handle/files", async ({ res, params, query }) => {
      const tar = await s.streamOut(params[0], { path: query.get("source") ?? "", user: query.get("user") || undefined });
      res.writeHead(200, { "content-type": "application/x-tar" });
      for await (const chunk of tar) {
        if (!res.write(chunk)) await new Promise((r) => res.once("drain", r));
      }
      res.end();
      return undefined;
    });
    on("GET", "/containers/:handle/limits/bandwidth", async ({ params }) => {
      const b = (await s.limits(params[0])).bandwidth;
      // The core's "no limit" (Warden's 2^32 - 1) is Garden's empty limit.
      return b.outRate >= NO_BANDWIDTH_LIMIT ? EMPTY : { rate: b.outRate, burst: b.outBurst };
    });
    on("GET", "/containers/:handle/limits/cpu", async ({ params }) => {
      // cgroup v1 keeps shares: Guardian reports them as limit_in_shares, with no weight.
      return { limit_in_shares: (await s.limits(params[0])).cpuShares };
    });
    on("GET", "/containers/:handle/limits/disk", async ({ params }) => {
      const d = (await s.limits(params[0])).disk;
      return d ? { byte_soft: d.byteSoft, byte_hard: d.byteHard, inode_soft: d.inodeSoft, inode_hard: d.inodeHard } : EMPTY;
    });
    on("GET", "/containers/:handle/limits/memory", async ({ params }) => ({ limit_in_bytes: (await s.limits(params[0])).memoryBytes }));
    on("POST", "/containers/:handle/net/in", async ({ req, params }) => {
      const r = parse(z.object({ host_port: z.number().int().min(0).max(65535).optional(), container_port: z.number().int().min(0).max(65535).optional() }).passthrough(), (await body(req)) ?? {}, "net in request");
      // 0 is Garden's "choose one": a host port from the pool, the container port the same.
      const rule = await s.netIn(params[0], { hostPort: r.host_port || undefined, containerPort: r.container_port || undefined });
      return { host_port: rule.hostPort, container_port: rule.containerPort };
    });
    on("POST", "/containers/:handle/net/out", async ({ req, params }) => {
      await s.netOut(params[0], netOutRules(parse(netOutRuleSchema, (await body(req)) ?? {}, "net out rule")));
      return EMPTY;
    });
    on("POST", "/containers/:handle/net/out/bulk", async ({ req, params }) => {
      const rules = parse(z.array(netOutRuleSchema).nullish(), await body(req), "net out rules") ?? [];
      await s.netOut(params[0], rules.flatMap(netOutRules));
      return EMPTY;
    });
    on("PUT", "/containers/:handle/grace_time", async ({ req, params }) => {
      const ns = parse(z.number().int().nonnegative(), await body(req), "grace time");
      await s.setGraceTime(params[0], ns / 1e9);
      s.touch(params[0]);
      return EMPTY;
    });
    on("GET", "/containers/:handle/properties", async ({ params }) => s.properties(params[0]));
    on("GET", "/containers/:handle/properties/:key", async ({ params }) => ({ value: s.property(params[0], params[1]) }));
    on("PUT", "/containers/:handle/properties/:key", async ({ req, params }) => {
      const r = parse(z.object({ value: z.string() }), (await body(req)) ?? {}, "property");
      await s.setProperty(params[0], params[1], r.value);
      return EMPTY;
    });
    on("DELETE", "/containers/:handle/properties/:key", async ({ params }) => {
      await s.removeProperty(params[0], params[1]);
      return EMPTY;
    });
  }

  async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://garden");
    let release: (() => void) | undefined;
    try {
      const route = this.table.find((r) => r.method === req.method && r.pattern.test(url.pathname));
      if (!route) throw new GardenRequestError(`no route ${req.method} ${url.pathname}`, 404);
      const params = route.pattern.exec(url.pathname)!.slice(1).map(decode);
      // Destroy holds nothing: the container is going.
      if (route.container && req.method !== "DELETE") release = this.service.hold(params[0]);
      const result = await route.handler({ req, res, params, query: url.searchParams });
      if (result !== undefined && !res.headersSent) send(res, 200, result);
    } catch (err) {
      const { status, body } = gardenError(err);
      if (!res.headersSent) send(res, status, body);
      else res.destroy();
    } finally {
      release?.();
    }
  }

  private async create(raw: unknown): Promise<unknown> {
    const { spec, privileged } = containerSpec(parse(containerSpecSchema, raw ?? {}, "container spec"), { graceTimeSeconds: this.config.graceTimeSeconds });
    if (privileged && !this.config.allowPrivileged) {
      throw new GardenRequestError("privileged container creation is disabled (garden.allow_privileged)", 500);
    }
    // Guardian's host name is the handle, its last 49 characters when longer.
    const hostname = spec.handle && /^[^\s\x00/]+$/.test(spec.handle) ? spec.handle.slice(-49) : undefined;
    const handle = await this.service.create({ ...spec, privileged, capabilities: gardenCapabilities(privileged), hostname });
    return { Handle: handle };
  }

  private async destroy(handle: string): Promise<unknown> {
    if (this.destroying.has(handle)) throw new GardenRequestError("container already being destroyed", 500);
    this.destroying.add(handle);
    try {
      await this.service.destroy(handle);
      return EMPTY;
    } finally {
      this.destroying.delete(handle);
    }
  }

  private async bulk(query: URLSearchParams, one: (handle: string) => unknown, field: "Info" | "Metrics"): Promise<unknown> {
    const handles = (query.get("handles") ?? "").split(",").filter((h) => h !== "");
    const out: Record<string, unknown> = {};
    for (const handle of handles) {
      try {
        out[handle] = { [field]: await one(handle), Err: null };
      } catch (err) {
        out[handle] = { [field]: {}, Err: gardenError(err).body };
      }
    }
    return out;
  }
}

function send(res: ServerResponse, status: number, value: unknown): void {
  const text = `${jsonText(value)}\n`;
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}
