// Look-alikes of the Docker Hub images GATS names, served from a registry
// on loopback that script/gats gives the daemon as docker.io's mirror. Each
// holds what the suite's specs check inside it (../shared/tools/README.md,
// "What the specs check inside images"), built from the default root
// filesystem (Debian's busybox-static and bash-static), nothing more:
//
//   cloudfoundry/garden-rootfs   PATH and TEST in the image config; alice (1001, groups 1010 1011),
//                                testuser (1000, staff 50), root also in group 10; a setuid binary;
//                                hello-world only in /sbin; /test/foo behind an opaque whiteout
//   cfgarden/preexisting_users   alice's home with alicesfile, /.foo, root-owned /bin
//   busybox:1.37.0               no /etc/hosts nor /etc/resolv.conf
//
// Images it cannot make honestly (Ubuntu's sudo and useradd, garden-fuse's
// ping with file capabilities, images that reach the internet) stay in
// test/gats/skip.txt.
//
//   node dist/test/gats/images.js DIR     prints "registry HOST:PORT" once ready; serves until SIGTERM
import { appendFile, chmod, chown, cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../src/linux/command.js";
import { DEFAULT_ROOTFS } from "../integration/harness.js";
import { LayoutWriter } from "../integration/oci-layout.js";
import { serveImages } from "../integration/registry.js";

const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/bin";

async function baseLayer(root: string): Promise<void> {
  await run(["cp", "-a", `${DEFAULT_ROOTFS}/.`, root]);
}

async function gardenRootfs(root: string): Promise<void> {
  await baseLayer(root);
  await writeFile(
    join(root, "etc/passwd"),
    ["root:x:0:0:root:/root:/bin/sh", "alice:x:1001:1010:Alice:/home/alice:/bin/sh", "testuser:x:1000:50:Test:/home/testuser:/bin/sh", ""].join("\n"),
  );
  await writeFile(
    join(root, "etc/group"),
    ["root:x:0:", "wheel:x:10:root", "staff:x:50:testuser", "alice:x:1010:", "alice-extra:x:1011:alice", ""].join("\n"),
  );
  for (const [home, uid, gid] of [["home/alice", 1001, 1010], ["home/testuser", 1000, 50]] as const) {
    await mkdir(join(root, home), { recursive: true, mode: 0o755 });
    await chown(join(root, home), uid, gid);
  }
  // Any binary will do: the specs look at its mode only.
  await cp(join(root, "bin/busybox"), join(root, "bin/usemem-with-setuid"));
  await chmod(join(root, "bin/usemem-with-setuid"), 0o4755);
  await mkdir(join(root, "sbin"), { recursive: true });
  await writeFile(join(root, "sbin/hello-world"), "#!/bin/sh\necho hello world\n", { mode: 0o755 });
  await mkdir(join(root, "test"));
  await writeFile(join(root, "test/from-the-first-layer"), "hidden by the next layer's opaque whiteout\n");
}

async function opaqueTestDir(root: string): Promise<void> {
  await mkdir(join(root, "test/foo"), { recursive: true });
  await writeFile(join(root, "test/.wh..wh..opq"), "");
}

// BusyBox's own image has neither /etc/hosts nor /etc/resolv.conf: the daemon must give them.
async function busybox(root: string): Promise<void> {
  await baseLayer(root);
  await rm(join(root, "etc/hosts"), { force: true });
  await rm(join(root, "etc/resolv.conf"), { force: true });
}

async function preexistingUsers(root: string): Promise<void> {
  await baseLayer(root);
  await appendFile(join(root, "etc/passwd"), "alice:x:1001:1001:Alice:/home/alice:/bin/sh\n");
  await appendFile(join(root, "etc/group"), "alice:x:1001:\n");
  await mkdir(join(root, "home/alice"), { recursive: true, mode: 0o755 });
  await writeFile(join(root, "home/alice/alicesfile"), "alice's\n");
  await chown(join(root, "home/alice/alicesfile"), 1001, 1001);
  await chown(join(root, "home/alice"), 1001, 1001);
  await writeFile(join(root, ".foo"), "this is a pre-existing dotfile\n");
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write("usage: images.js DIR\n");
  process.exit(2);
}
await serveImages(dir, async (registry) => {
  const layout = new LayoutWriter(await mkdtemp(join(dir, "layout-")));
  await layout.tag(
    "garden-rootfs",
    await layout.image({
      layers: [gardenRootfs, opaqueTestDir],
      config: { Env: [`PATH=${BASE_PATH}:/from-dockerfile`, "TEST=second-test-from-dockerfile:test-from-dockerfile"] },
    }),
  );
  await layout.tag("preexisting_users", await layout.image({ layers: [preexistingUsers], config: { Env: [`PATH=${BASE_PATH}`] } }));
  await layout.tag("busybox", await layout.image({ layers: [busybox], config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] } }));
  await registry.push(layout.dir, "garden-rootfs", "cloudfoundry/garden-rootfs:latest");
  await registry.push(layout.dir, "busybox", "library/busybox:1.37.0");
  await registry.push(layout.dir, "preexisting_users", "cfgarden/preexisting_users:latest");
});
