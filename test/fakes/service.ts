// A container service over the fakes, for unit tests: `machine` is what the
// service drives, to be looked at and told what to do.
import { ContainerIdGenerator } from "../../src/core/container-id.js";
import { ContainerService, type ServiceConfig } from "../../src/core/service/container-service.js";
import {
  FakeDepot,
  FakeDiskQuota,
  FakeFiles,
  FakeFilesystem,
  FakeImageStore,
  FakeLimits,
  FakeNetwork,
  FakeProcessLog,
  FakeRuntime,
  FakeStateStore,
  nullLogger,
} from "./fakes.js";

export const baseConfig: ServiceConfig = {
  defaultRootfs: "/rootfs",
  graceTime: null,
  outputLimit: 100,
  stopTimeoutMs: 50,
  containerUser: "vcap",
  uidPoolStart: 10000,
  uidPoolSize: 10,
  networkPool: { network: 0x0afe0000, prefix: 26 },
  networkReleaseDelayMs: 0,
  portPoolStart: 61001,
  portPoolSize: 3,
};

export class FakeMachine {
  readonly runtime = new FakeRuntime();
  readonly network = new FakeNetwork();
  readonly limits = new FakeLimits();
  readonly quota = new FakeDiskQuota();
  readonly state = new FakeStateStore();
  readonly files = new FakeFiles();
  readonly filesystem = new FakeFilesystem();
  readonly depot = new FakeDepot();
  readonly processLog = new FakeProcessLog();
  readonly images = new FakeImageStore();

  /** A service over this machine (a second one over the same machine is a restarted daemon). */
  service(config: Partial<ServiceConfig> = {}, options: { quota?: boolean; images?: boolean; clock?: () => bigint } = {}): ContainerService {
    return new ContainerService(
      { ...baseConfig, ...config },
      {
        runtime: this.runtime,
        network: this.network,
        limits: this.limits,
        files: this.files,
        diskQuota: options.quota === false ? undefined : this.quota,
        filesystem: this.filesystem,
        images: options.images === false ? undefined : this.images,
        depot: this.depot,
        state: this.state,
        processLog: this.processLog,
        logger: nullLogger,
        ids: new ContainerIdGenerator(options.clock ?? (() => 1000n)),
      },
    );
  }

  /** The id of the only (or the n-th) container made. */
  id(n = 0): string {
    return [...this.depot.dirs][n];
  }
}
