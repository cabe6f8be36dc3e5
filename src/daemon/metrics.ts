// Prometheus metrics on 127.0.0.1:<metrics.port>/metrics, beside Warden's
// health check: what the core reports as it happens (create and destroy
// times, OOM kills, failures) and what it holds now (containers by state,
// jobs, pool usage), plus the process's own (memory, descriptors, event loop).
import { createServer, type Server } from "node:http";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ServiceStats } from "../core/service/container-service.js";
import type { MetricsSink } from "../core/interfaces/metrics-sink.js";

// Creates take 50-200 ms here; a slow host or a big base can take seconds.
const LATENCY_BUCKETS = [0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8];

export class PrometheusMetrics implements MetricsSink {
  readonly registry = new Registry();
  private readonly created: Histogram;
  private readonly destroyed: Histogram;
  private readonly failures: Counter<"operation">;
  private readonly ooms: Counter;

  constructor(stats: () => ServiceStats) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "wardend_" });
    this.created = new Histogram({
      name: "warden_container_create_seconds",
      help: "Time to create a container, from request to answer",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.destroyed = new Histogram({
      name: "warden_container_destroy_seconds",
      help: "Time to destroy a container",
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.failures = new Counter({
      name: "warden_container_operation_failures_total",
      help: "Creates and destroys that failed",
      labelNames: ["operation"],
      registers,
    });
    this.ooms = new Counter({
      name: "warden_oom_events_total",
      help: "Containers stopped because the kernel killed a process of theirs for memory",
      registers,
    });
    new Gauge({
      name: "warden_containers",
      help: "Containers by state",
      labelNames: ["state"],
      registers,
      collect() {
        for (const [state, n] of Object.entries(stats().containers)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: "warden_jobs",
      help: "Processes by state (ended ones are kept until collected or their container goes)",
      labelNames: ["state"],
      registers,
      collect() {
        const { running, ended } = stats().processes;
        this.set({ state: "running" }, running);
        this.set({ state: "finished" }, ended);
      },
    });
    new Gauge({
      name: "warden_pool_size",
      help: "Networks (/30 blocks), uids and ports in each pool",
      labelNames: ["pool"],
      registers,
      collect() {
        for (const [pool, p] of Object.entries(stats().pools)) this.set({ pool }, p.size);
      },
    });
    new Gauge({
      name: "warden_pool_in_use",
      help: "Networks, uids and ports of each pool held by containers",
      labelNames: ["pool"],
      registers,
      collect() {
        for (const [pool, p] of Object.entries(stats().pools)) this.set({ pool }, p.inUse);
      },
    });
  }

  containerCreated(seconds: number): void {
    this.created.observe(seconds);
  }

  containerDestroyed(seconds: number): void {
    this.destroyed.observe(seconds);
  }

  createFailed(): void {
    this.failures.inc({ operation: "create" });
  }

  destroyFailed(): void {
    this.failures.inc({ operation: "destroy" });
  }

  outOfMemory(): void {
    this.ooms.inc();
  }

  /** Serves GET /metrics on 127.0.0.1:port. */
  listen(port: number): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.method !== "GET" || req.url?.split("?")[0] !== "/metrics") {
        res.writeHead(404).end("not found\n");
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": this.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(`${String(err)}\n`),
      );
    });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve(server));
    });
  }
}
