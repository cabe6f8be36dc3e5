// What the core reports as it happens, for metrics.
export interface MetricsSink {
  containerCreated(seconds: number): void;
  containerDestroyed(seconds: number): void;
  createFailed(): void;
  destroyFailed(): void;
  outOfMemory(): void;
}
