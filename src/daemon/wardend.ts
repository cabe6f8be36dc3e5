// wardend: reads the config, prepares the host, wires the parts together and
// serves until SIGTERM, SIGINT or SIGUSR2, then drains. Containers outlive the daemon; when it
// stops with none left, it takes its host set-up down again.
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { parseArgs } from "node:util";
import { checkUidPool, ConfigError, loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { ContainerService } from "../core/service/container-service.js";
import type { Logger } from "../core/interfaces/logger.js";
import { detectCgroups } from "../linux/cgroups/cgroups.js";
import { PlacedCgroups } from "../linux/cgroups/placed-cgroups.js";
import { DirectoryDepot } from "../linux/depot.js";
import { OverlayFilesystem } from "../linux/fs/overlay.js";
import { CONTAINER_USER } from "../linux/fs/container-files.js";
import { Conmon } from "../linux/runtime/conmon.js";
import { bundleCgroupsPath, containerPaths, LinuxRuntime } from "../linux/runtime/linux-runtime.js";
import { LinuxLimits } from "../linux/cgroups/linux-limits.js";
import { BtrfsDepot, BtrfsQuota } from "../linux/fs/btrfs-quota.js";
import { ContainerCopier } from "../linux/fs/container-copy.js";
import { RuntimeMountNamespace } from "../linux/runtime/mount-namespace.js";
import { OciRuntimeCli } from "../linux/runtime/oci-runtime.js";
import { SyslogProcessLogSink } from "../linux/syslog.js";
import { FileStateStore } from "../linux/state-store.js";
import { LinuxNetwork } from "../linux/network/linux-network.js";
import { resolvConf } from "../linux/network/resolv-conf.js";
import { formatCidr } from "../core/ipv4.js";
import { networkSettings } from "../config/network-settings.js";
import { createLogger } from "../log.js";
import { Dispatcher } from "../api/warden/dispatch.js";
import { WardenServer } from "../api/warden/server.js";
import type { CommandRunner } from "../linux/command.js";
import { SpawnerRunner } from "../linux/spawner.js";
import { ShimLauncher } from "../linux/runtime/shim.js";
import { startHealthCheck } from "./health-check.js";
import { PrometheusMetrics } from "./metrics.js";
import { BUILT_GRAFT, BUILT_NETNS, BUILT_RELAY, checkTools, hostPaths, SetupError, setUpHost, tearDownHost } from "./host-setup.js";
import { dirname, join } from "node:path";
import { ShiftedRootfs } from "../linux/fs/shifted-rootfs.js";
import { LinuxImageStore } from "../linux/images/image-store.js";
import { RegistryClient } from "../linux/images/registry-client.js";
import { AdminServer } from "../api/admin/server.js";
import { GardenServer } from "../api/garden/server.js";
import { imageHandlers } from "../api/cri/image-service.js";
import { runtimeHandlers } from "../api/cri/runtime-service.js";
import { Sandboxes } from "../api/cri/sandboxes.js";
import { CriContainers } from "../api/cri/containers.js";
import { CriServer } from "../api/cri/server.js";
import { StreamingServer } from "../api/cri/streaming/streaming-server.js";
import { wardenVersion } from "./version.js";
import { statfs } from "node:fs/promises";
import { totalmem } from "node:os";
import { ROOT_CAPABILITIES } from "../linux/security/capabilities.js";
import type { IdMap } from "../linux/security/id-map.js";
import { hostTarget, loadSeccompProfile, SeccompProfileError, type OciSeccomp } from "../linux/security/seccomp.js";

function readHostResolvConf(): string {
  try {
    return readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    return "";
  }
}

export interface RunningDaemon {
  /** The core the front ends serve (for a daemon run in-process, as the integration tests do). */
  readonly service: ContainerService;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger): Promise<RunningDaemon> {
  checkUidPool(config, readFileSync("/etc/passwd", "utf8"));
  const { runtimePath, shimPath, initPath, initStartsProcesses, spawnPath } = await checkTools(config);
  const server = config.server;
  const paths = hostPaths(config);
  const net = networkSettings(config);
  // Commands go through warden-spawn: forking this process costs its event loop a millisecond or more each.
  const spawner = new SpawnerRunner(spawnPath);
  const commands: CommandRunner = spawner;
  const ns = new RuntimeMountNamespace(server.run_path, commands, undefined, BUILT_GRAFT);
  const { security } = config;
  const idMap: IdMap | undefined = security.user_namespace
    ? { hostId: security.uid_map_start, size: security.uid_map_size }
    : undefined;
  const rootCapabilities = security.allow_net_raw ? [...ROOT_CAPABILITIES, "CAP_NET_RAW"] : ROOT_CAPABILITIES;
  let seccomp: OciSeccomp | undefined;
  try {
    // Resolved for root's capabilities, the most any job holds.
    seccomp = security.seccomp_profile ? loadSeccompProfile(security.seccomp_profile, hostTarget(rootCapabilities)) : undefined;
  } catch (err) {
    if (err instanceof SeccompProfileError) throw new SetupError(`security.seccomp_profile: ${err.message}`);
    throw err;
  }
  const btrfs = server.quota.disk_quota_enabled
    ? new BtrfsDepot({
        depot: server.container_depot_path,
        image: server.quota.image_path ?? `${server.container_depot_path.replace(/\/+$/, "")}.btrfs`,
        imageSize: server.quota.image_size,
        log,
        commands,
      })
    : undefined;
  await setUpHost(config, paths, ns, btrfs, commands);
  const quota = btrfs ? new BtrfsQuota(btrfs, server.container_depot_path, log, commands) : undefined;
  const network = new LinuxNetwork({
    netnsDir: paths.netnsDir,
    mtu: config.network.mtu,
    userns: { ...(idMap ? { map: idMap } : {}), dir: paths.usernsDir, helper: BUILT_NETNS },
    firewall: {
      table: config.network.nft_table,
      pool: formatCidr(net.pool),
      allowNetworks: config.network.allow_networks,
      allowHostAccess: config.network.allow_host_access,
    },
    log,
    commands,
    relayPath: BUILT_RELAY,
  });
  await network.setUp();
  // A pod's sandbox has its cgroup under the kubelet's pod cgroup; a restarted daemon finds it in the bundle.
  const cgroups = new PlacedCgroups(await detectCgroups(server.cgroup_parent), server.cgroup_parent, (id) => bundleCgroupsPath(join(server.container_depot_path, id)));
  const depot = new DirectoryDepot(server.container_depot_path);
  const state = new FileStateStore(depot, server.container_depot_path);
  const oci = new OciRuntimeCli({ name: server.runtime, path: runtimePath, stateRoot: paths.runtimeStateRoot }, commands);
  const conmon = new Conmon({ path: server.conmon_path, runtime: oci, socketDir: paths.socketDir }, ns);
  const runtime = new LinuxRuntime({
    depot,
    oci,
    conmon,
    shim: new ShimLauncher({ path: shimPath, oci, nullDevice: paths.nullDevice, inRuntimeNamespace: (argv, dir) => ns.wrap(argv, dir) }),
    shimPath,
    cgroups,
    placement: cgroups,
    cgroupParent: server.cgroup_parent,
    initPath,
    initStartsProcesses,
    pidsLimit: server.container_pids_limit,
    socketDir: paths.socketDir,
    copyHelperPath: server.copy_helper_path,
    idMap,
    idmappedBindMounts: server.runtime === "crun",
    seccomp,
    reuseCompiledSeccomp: server.runtime === "crun",
    rootCapabilities,
    commands,
  });
  let ca: string | undefined;
  if (config.images.ca_file) {
    try {
      ca = readFileSync(config.images.ca_file, "utf8");
    } catch (err) {
      throw new SetupError(`images.ca_file: ${(err as Error).message}`);
    }
  }
  const images = new LinuxImageStore({
    root: config.images.store_path ?? join(server.container_depot_path, ".images"),
    registry: new RegistryClient({
      mirrors: config.images.mirrors,
      insecure: config.images.insecure_registries,
      ca,
      timeoutMs: config.images.timeout * 1000,
    }),
    commands,
    log,
    idMap,
    maxLayers: config.images.max_layers,
    concurrency: config.images.concurrent_downloads,
  });
  const bases = idMap ? new ShiftedRootfs(join(server.container_depot_path, ".rootfs"), idMap, log, commands) : undefined;
  // Read at scrape time only, once the service exists.
  const metrics = config.metrics.port !== undefined ? new PrometheusMetrics(() => service.stats()) : undefined;
  const service: ContainerService = new ContainerService(
    {
      defaultRootfs: server.container_rootfs_path,
      graceTime: server.container_grace_time,
      outputLimit: server.job_output_limit,
      stopTimeoutMs: server.stop_timeout * 1000,
      ...(idMap ? { sharedIdMap: idMap } : {}),
      uidPoolStart: config.user.pool_start_uid,
      uidPoolSize: config.user.pool_size,
      containerUser: CONTAINER_USER,
      networkPool: net.pool,
      networkReleaseDelayMs: net.releaseDelayMs,
      portPoolStart: net.portPoolStart,
      portPoolSize: net.portPoolSize,
    },
    {
      runtime,
      network,
      limits: new LinuxLimits(cgroups, (id) => containerPaths(depot.path(id)).run),
      files: new ContainerCopier(oci, commands),
      diskQuota: quota,
      filesystem: new OverlayFilesystem(
        depot,
        ns,
        (hostIp) => resolvConf(readHostResolvConf(), config.network.dns_servers, hostIp),
        commands,
        quota,
        idMap && bases ? { map: idMap, bases } : undefined,
      ),
      images,
      depot,
      state,
      processLog: new SyslogProcessLogSink(server.syslog_socket, log),
      logger: log,
      metrics,
    },
  );
  const { recovered, removed } = await service.recover();
  const wardenServer = new WardenServer({
    path: server.unix_domain_path,
    permissions: server.unix_domain_permissions,
    maxFrameBytes: server.max_frame_bytes,
    maxConnections: server.max_connections,
    maxRequestsInFlight: server.max_requests_in_flight,
    handler: new Dispatcher(service, {
      containerUser: CONTAINER_USER,
      outputLimit: server.job_output_limit,
      containerRlimits: server.container_rlimits,
      lang: process.env.LANG || "en_US.UTF-8",
    }),
    logger: log,
  });
  const adminPath = server.admin_unix_domain_path ?? `${server.unix_domain_path}.admin`;
  const adminServer = new AdminServer({ path: adminPath, permissions: server.unix_domain_permissions, images: service.images, logger: log });
  await adminServer.listen();
  const gardenSocket = config.garden.bind_socket ?? join(dirname(server.unix_domain_path), "garden.sock");
  const gardenServer = new GardenServer({
    socketPath: gardenSocket || undefined,
    socketPermissions: server.unix_domain_permissions,
    bindIp: config.garden.bind_ip,
    bindPort: config.garden.bind_port,
    service,
    logger: log,
    maxConnections: server.max_connections,
    graceTimeSeconds: server.container_grace_time,
    allowPrivileged: config.garden.allow_privileged,
    externalIp: config.garden.bind_port !== undefined ? config.garden.bind_ip : "127.0.0.1",
    capacity: async () => {
      const fs = await statfs(server.container_depot_path);
      const disk = fs.blocks * fs.bsize;
      return { memory_in_bytes: totalmem(), disk_in_bytes: disk, schedulable_disk_in_bytes: disk, max_containers: Math.min(config.user.pool_size, 2 ** (32 - net.pool.prefix) / 4) };
    },
  });
  await gardenServer.listen();
  const sandboxes = new Sandboxes(service);
  const streamingServer = config.cri.socket
    ? new StreamingServer({ host: config.cri.stream_ip, port: config.cri.stream_port, logger: log.child({ api: "cri" }) })
    : undefined;
  await streamingServer?.listen();
  const criServer = config.cri.socket
    ? new CriServer({
        socketPath: config.cri.socket,
        socketPermissions: server.unix_domain_permissions,
        runtime: runtimeHandlers({
          runtimeVersion: wardenVersion(),
          features: { userNamespaces: true, recursiveReadOnlyMounts: true, supplementalGroupsPolicy: true },
          info: () => ({ config: { runtime: server.runtime, depot: server.container_depot_path, pool: formatCidr(net.pool) } }),
          sandboxes,
          containers: new CriContainers({ service, sandboxes, listImages: () => service.images.list() }),
          ...(streamingServer ? { streaming: streamingServer } : {}),
        }),
        images: imageHandlers({
          storePath: config.images.store_path ?? join(server.container_depot_path, ".images"),
          list: () => service.images.list(),
          remove: (image) => service.images.remove(image),
          pull: (image, credentials) => service.images.pull(image, { credentials }),
        }),
        logger: log.child({ api: "cri" }),
      })
    : undefined;
  await criServer?.listen();
  const health = config.health_check_server.port ? await startHealthCheck(config.health_check_server.port) : undefined;
  const metricsServer = metrics && config.metrics.port !== undefined ? await metrics.listen(config.metrics.port) : undefined;
  // Last: clients (and supervisors) take an answering Warden socket as "the daemon is up",
  // so everything else must already be listening when it does.
  await wardenServer.listen();
  if (server.pidfile) writeFileSync(server.pidfile, `${process.pid}\n`);
  log.info(
    {
      socket: server.unix_domain_path,
      garden: gardenServer.addresses,
      cri: config.cri.socket,
      runtime: server.runtime,
      depot: server.container_depot_path,
      pool: formatCidr(net.pool),
      ports: `${net.portPoolStart}-${net.portPoolStart + net.portPoolSize - 1}`,
      recovered,
      removed,
    },
    `Listening on ${server.unix_domain_path}`,
  );

  let stopping: Promise<void> | undefined;
  return {
    service,
    stop() {
      stopping ??= (async () => {
        await wardenServer.drain(server.drain_timeout * 1000);
        await adminServer.close();
        await gardenServer.close();
        await criServer?.close();
        await streamingServer?.close();
        await service.shutdown();
        health?.close();
        metricsServer?.close();
        if (server.pidfile) rmSync(server.pidfile, { force: true });
        if (service.containerCount === 0) {
          await state.clearCounters();
          await bases?.removeAll();
          await tearDownHost(config, paths, ns, cgroups, network, btrfs);
          log.info({}, "stopped; no containers left, host set-up removed");
        } else {
          log.info({ containers: service.containerCount }, "stopped; containers keep running");
        }
        spawner.close();
      })();
      return stopping;
    },
  };
}

export async function main(argv: string[]): Promise<number> {
  let configPath: string | undefined;
  try {
    const { values } = parseArgs({ args: argv, options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } } });
    if (values.help) {
      process.stdout.write("usage: wardend [--config FILE]\n");
      return 0;
    }
    configPath = values.config;
  } catch (err) {
    process.stderr.write(`wardend: ${(err as Error).message}\nusage: wardend [--config FILE]\n`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig(configPath);
  } catch (err) {
    process.stderr.write(`wardend: ${(err as Error).message}\n`);
    return 1;
  }
  const log = createLogger({ level: config.logging.level, file: config.logging.file });
  // The daemon stays up through a promise nobody waited on; the log says where it came from.
  process.on("unhandledRejection", (err) => {
    log.error({ err: err instanceof Error ? err.stack : String(err) }, "unhandled rejection");
  });
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon(config, log);
  } catch (err) {
    const known = err instanceof SetupError || err instanceof ConfigError;
    process.stderr.write(`wardend: ${known ? (err as Error).message : (err as Error).stack}\n`);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      log.info({ signal }, "shutting down");
      daemon.stop().then(resolve, (err) => {
        log.error({ err: String(err) }, "shutdown failed");
        resolve();
      });
    };
    // SIGUSR2 is Warden's drain; SIGTERM and SIGINT drain the same way.
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    process.once("SIGUSR2", onSignal);
  });
  return 0;
}
