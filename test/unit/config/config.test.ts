import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkUidPool, parseConfig } from "../../../src/config/load.js";

describe("config", () => {
  it("has a default for every key", () => {
    const c = parseConfig("");
    assert.equal(c.server.unix_domain_path, "/tmp/warden.sock");
    assert.equal(c.server.container_grace_time, 300);
    assert.equal(c.server.job_output_limit, 10 * 1024 * 1024);
    assert.equal(c.server.runtime, "crun");
    assert.equal(c.user.pool_start_uid, 10000);
  });

  it("reads the image settings, refusing a mirror that is no http(s) URL", () => {
    const c = parseConfig("images:\n  mirrors:\n    docker.io: [http://127.0.0.1:5000, https://mirror.example/v]\n  insecure_registries: [reg.local:5000]\n  timeout: 5\n");
    assert.deepEqual(c.images.mirrors, { "docker.io": ["http://127.0.0.1:5000", "https://mirror.example/v"] });
    assert.deepEqual(c.images.insecure_registries, ["reg.local:5000"]);
    assert.equal(c.images.timeout, 5);
    assert.equal(parseConfig("").images.max_layers, 120);
    assert.throws(() => parseConfig("images:\n  mirrors:\n    docker.io: [ftp://x]\n"), /images\.mirrors\.docker\.io\.0: must be an http:\/\/ or https:\/\/ URL/);
    assert.throws(() => parseConfig("images:\n  max_layers: 1\n"), /images\.max_layers/);
    assert.throws(() => parseConfig("images:\n  mirror: {}\n"), /images/);
  });

  it("reads Warden's octal permissions as Warden did (YAML 1.1)", () => {
    assert.equal(parseConfig("server:\n  unix_domain_permissions: 0777\n").server.unix_domain_permissions, 0o777);
  });

  it("accepts a null grace time (never reap)", () => {
    assert.equal(parseConfig("server:\n  container_grace_time: ~\n").server.container_grace_time, null);
  });

  it("reads container_rlimits as exact integers", () => {
    const c = parseConfig("server:\n  container_rlimits:\n    as: 4294967296\n    nofile: 8192\n");
    assert.deepEqual(c.server.container_rlimits, { as: 4294967296n, nofile: 8192n });
  });

  it("accepts Warden's sample config", () => {
    const c = parseConfig(`
server:
  container_klass: Warden::Container::Linux
  container_grace_time: 300
  unix_domain_permissions: 0777
  container_rootfs_path: /tmp/warden/rootfs
  container_depot_path: /tmp/warden/containers
  container_rlimits:
    as: 4294967296
    nofile: 8192
    nproc: 512
  job_output_limit: 10485760
  quota:
    disk_quota_enabled: true
  allow_nested_warden: false
health_check_server:
  port: 2345
logging:
  level: debug2
network:
  pool_start_address: 10.254.0.0
  pool_size: 256
  mtu: 1500
user:
  pool_start_uid: 10000
  pool_size: 256
`);
    assert.equal(c.server.container_depot_path, "/tmp/warden/containers");
  });

  it("names the key of a bad value", () => {
    assert.throws(() => parseConfig("server:\n  job_output_limit: -1\n"), /server\.job_output_limit/);
    assert.throws(() => parseConfig("server:\n  runtime: docker\n"), /server\.runtime/);
    assert.throws(() => parseConfig("server:\n  container_depot_path: relative\n"), /server\.container_depot_path: must be an absolute path/);
    assert.throws(() => parseConfig("server:\n  container_rlimits:\n    nofiles: 5\n"), /server\.container_rlimits.*'nofiles'/);
  });

  it("refuses unknown keys", () => {
    assert.throws(() => parseConfig("server:\n  unix_domain_pth: /x\n"), /'unix_domain_pth'/);
  });

  it("refuses a file that is not YAML", () => {
    assert.throws(() => parseConfig("server: [\n"), /not valid YAML/);
  });

  it("refuses a uid pool that overlaps a host user (no user namespace)", () => {
    const c = parseConfig("user:\n  pool_start_uid: 1000\n  pool_size: 10\nsecurity:\n  user_namespace: false\n");
    assert.throws(() => checkUidPool(c, "root:x:0:0::/root:/bin/sh\nme:x:1005:1005::/home/me:/bin/sh\n"), {
      message: "UID in user pool overlaps with user in /etc/passwd",
    });
    checkUidPool(parseConfig("security:\n  user_namespace: false\n"), "me:x:1005:1005::/home/me:/bin/sh\n");
  });

  it("refuses a user namespace range that holds a host user, and a pool that does not fit in it", () => {
    const c = parseConfig("security:\n  uid_map_start: 200000\n");
    assert.throws(() => checkUidPool(c, "me:x:200005:200005::/home/me:/bin/sh\n"), /uid_map_start.*overlap/);
    // In the namespace the pool is the container's own: a host user there is no conflict.
    checkUidPool(c, "me:x:10005:10005::/home/me:/bin/sh\n");
    assert.throws(
      () => parseConfig("security:\n  uid_map_size: 4096\nuser:\n  pool_start_uid: 10000\n"),
      /must fit in security.uid_map_size/,
    );
    assert.throws(() => parseConfig("security:\n  uid_map_start: 0\n"), /uid_map_start/);
  });
});
