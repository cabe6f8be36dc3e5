// Look-alikes of the images critest names (../shared/tools/README.md, "cri/critest";
// ../shared/reference/cri.md §5 and §8), served from a registry on loopback that
// script/critest gives the daemon as the mirror of registry.k8s.io, k8s.gcr.io
// and gcr.io, so the suite's names (and repo tags) stay as they are:
//
//   e2e-test-images/busybox:1.29-2   Debian's dynamic busybox (from BUSYBOX_DEB_ROOT, the
//                                    package unpacked), every applet a hard link (a masked
//                                    /bin/ls must not hide sh), its C library, procps'
//                                    pgrep and util-linux's ipcs with theirs; root and nobody
//   e2e-test-images/nginx:1.14-2     that busybox and Debian's nginx (from NGINX_DEB_ROOT) with its
//                                    libraries, answering 200 on :80, its pid in /var/run/nginx.pid
//   k8s-staging-cri-tools/hostnet-nginx-amd64
//                                    that nginx on :12003 instead (for pods on the host's network)
//   e2e-test-images/httpd:2.4.39-4   that busybox's httpd serving a page on :80, saying so (as
//                                    Apache's does, its log names httpd)
//   e2e-test-images/nonewprivs:1.3   that busybox, and /usr/local/bin/nnp (setuid root) that
//                                    prints "Effective uid: N"; CMD nnp
//   pause:3.9                        the busybox, and a label of its own
//   k8s-staging-cri-tools/test-image-{1,2,3,latest,tag:test,tag:all,tags:1,2,3}
//                                    the busybox and one empty file each (the three tags of
//                                    test-image-tags are one image)
//   k8s-staging-cri-tools/test-image-user-{uid,username,uid-group,username-group},
//   test-image-predefined-group      the busybox with User 1002, www-data, 1003:1004,
//                                    www-data:1004, and default-user (1000, group 50000)
//
// Images it cannot make honestly stay in test/cri/skip.txt (the image pinned by a
// digest).
//
//   node dist/test/cri/images.js DIR     prints "registry HOST:PORT" once ready; serves until SIGTERM
import { execFileSync } from "node:child_process";
import { chmod, link, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { run } from "../../src/linux/command.js";
import { LayoutWriter } from "../integration/oci-layout.js";
import { serveImages } from "../integration/registry.js";

const PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const BUSYBOX_ROOT = process.env.BUSYBOX_DEB_ROOT ?? "";
const NGINX_ROOT = process.env.NGINX_DEB_ROOT ?? "";

/** The shared libraries a program loads, and the program itself unless told, at the same paths in `root`. */
async function withLibraries(root: string, program: string, librariesOnly = false): Promise<void> {
  const files = librariesOnly ? [] : [program];
  for (const line of execFileSync("ldd", [program], { encoding: "utf8" }).split("\n")) {
    const m = /(\/\S+) \(0x/.exec(line);
    if (m) files.push(m[1]);
  }
  for (const file of files) {
    await mkdir(join(root, dirname(file)), { recursive: true });
    await run(["cp", "-L", file, join(root, file)]);
  }
}

async function busybox(root: string): Promise<void> {
  for (const dir of ["bin", "sbin", "usr/bin", "usr/sbin", "etc", "root", "tmp", "var/run", "home"]) await mkdir(join(root, dir), { recursive: true });
  await run(["chmod", "1777", join(root, "tmp")]);
  await run(["cp", join(BUSYBOX_ROOT, "bin/busybox"), join(root, "bin/busybox")]);
  // Its C library, as the dynamic busybox links it (ldd reads the host's, which is the same Debian's).
  await withLibraries(root, join(BUSYBOX_ROOT, "bin/busybox"), true);
  for (const applet of execFileSync(join(BUSYBOX_ROOT, "bin/busybox"), ["--list-full"], { encoding: "utf8" }).trim().split("\n")) {
    const target = join(root, applet);
    if (applet === "bin/busybox") continue;
    await mkdir(dirname(target), { recursive: true });
    await link(join(root, "bin/busybox"), target).catch(() => {});
  }
  for (const program of ["/usr/bin/pgrep", "/usr/bin/ipcs"]) await withLibraries(root, program);
  await writeFile(
    join(root, "etc/passwd"),
    ["root:x:0:0:root:/root:/bin/sh", "daemon:x:1:1:daemon:/usr/sbin:/bin/false", "www-data:x:33:33:www-data:/var/www:/bin/false", "nobody:x:65534:65534:nobody:/home:/bin/false", ""].join("\n"),
  );
  await writeFile(join(root, "etc/group"), ["root:x:0:", "daemon:x:1:", "www-data:x:33:", "nogroup:x:65534:", ""].join("\n"));
}

const nginx = (port: number) => async (root: string): Promise<void> => {
  await busybox(root);
  await withLibraries(root, join(NGINX_ROOT, "usr/sbin/nginx"), true);
  await run(["cp", join(NGINX_ROOT, "usr/sbin/nginx"), join(root, "usr/sbin/nginx")]);
  for (const dir of ["etc/nginx", "run", "var/log/nginx", "var/lib/nginx/body", "usr/share/nginx/html"]) await mkdir(join(root, dir), { recursive: true });
  await run(["rm", "-rf", join(root, "var/run")]);
  await run(["ln", "-s", "../run", join(root, "var/run")]);
  await writeFile(
    join(root, "etc/nginx/nginx.conf"),
    [
      "user root;",
      "worker_processes 1;",
      "pid /var/run/nginx.pid;",
      "error_log stderr;",
      "events { worker_connections 64; }",
      "http {",
      "  access_log off;",
      `  server { listen ${port}; location / { return 200 'hello from nginx\n'; } }`,
      "}",
      "",
    ].join("\n"),
  );
};

async function nonewprivs(root: string): Promise<void> {
  await busybox(root);
  const source = join(root, "..", "nnp.c");
  await writeFile(source, '#include <stdio.h>\n#include <unistd.h>\nint main(void) { printf("Effective uid: %d\\n", (int)geteuid()); return 0; }\n');
  await mkdir(join(root, "usr/local/bin"), { recursive: true });
  await run(["cc", "-static", "-O2", "-o", join(root, "usr/local/bin/nnp"), source]);
  await chmod(join(root, "usr/local/bin/nnp"), 0o4755);
}

const dir = process.argv[2];
if (!dir || !BUSYBOX_ROOT) {
  process.stderr.write("usage: BUSYBOX_DEB_ROOT=DIR node dist/test/cri/images.js DIR\n");
  process.exit(2);
}
await serveImages(dir, async (registry) => {
  const layout = new LayoutWriter(join(dir, "layout"));
  const config = (extra: Record<string, unknown> = {}) => ({ Env: [PATH], Cmd: ["sh"], ...extra });
  await layout.tag("busybox", await layout.image({ layers: [busybox], config: config() }));
  await registry.push(layout.dir, "busybox", "e2e-test-images/busybox:1.29-2");
  if (NGINX_ROOT) {
    await layout.tag("nginx", await layout.image({ layers: [nginx(80)], config: config({ Cmd: ["nginx", "-g", "daemon off;"] }) }));
    await registry.push(layout.dir, "nginx", "e2e-test-images/nginx:1.14-2");
    await layout.tag("hostnet-nginx", await layout.image({ layers: [nginx(12003)], config: config({ Cmd: ["nginx", "-g", "daemon off;"] }) }));
    await registry.push(layout.dir, "hostnet-nginx", "k8s-staging-cri-tools/hostnet-nginx-amd64:latest");
  }
  const httpd = async (root: string) => {
    await busybox(root);
    await mkdir(join(root, "var/www"), { recursive: true });
    await writeFile(join(root, "var/www/index.html"), "<html><body>It works!</body></html>\n");
  };
  await layout.tag("httpd", await layout.image({
    layers: [httpd],
    config: config({ Cmd: ["sh", "-c", "echo 'httpd: serving /var/www on :80'; exec httpd -f -v -p 80 -h /var/www"] }),
  }));
  await registry.push(layout.dir, "httpd", "e2e-test-images/httpd:2.4.39-4");
  await layout.tag("nonewprivs", await layout.image({ layers: [nonewprivs], config: config({ Cmd: ["nnp"] }) }));
  await registry.push(layout.dir, "nonewprivs", "e2e-test-images/nonewprivs:1.3");
  await layout.tag("pause", await layout.image({ layers: [busybox], config: config({ Labels: { "warden.look-alike": "pause" } }) }));
  await registry.push(layout.dir, "pause", "pause:3.9");
  const withFile = (name: string) => async (root: string) => {
    await busybox(root);
    await writeFile(join(root, name), "");
  };
  const staging = "k8s-staging-cri-tools";
  for (const [repo, file] of [["test-image-1:latest", "1"], ["test-image-2:latest", "2"], ["test-image-3:latest", "3"], ["test-image-latest:latest", "latest"], ["test-image-tag:test", "test"], ["test-image-tag:all", "all"]]) {
    const tag = repo.replace(/[^a-z0-9]/g, "-");
    await layout.tag(tag, await layout.image({ layers: [withFile(file)], config: config() }));
    await registry.push(layout.dir, tag, `${staging}/${repo}`);
  }
  await layout.tag("tags", await layout.image({ layers: [withFile("tags")], config: config() }));
  for (const t of ["1", "2", "3"]) await registry.push(layout.dir, "tags", `${staging}/test-image-tags:${t}`);
  for (const [name, user] of [["uid", "1002"], ["username", "www-data"], ["uid-group", "1003:1004"], ["username-group", "www-data:1004"]]) {
    await layout.tag(`user-${name}`, await layout.image({ layers: [busybox], config: config({ User: user }) }));
    await registry.push(layout.dir, `user-${name}`, `${staging}/test-image-user-${name}:latest`);
  }
  const predefined = async (root: string) => {
    await busybox(root);
    await writeFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\ndefault-user:x:1000:1000:default:/home/default-user:/bin/sh\n");
    await writeFile(join(root, "etc/group"), "root:x:0:\ndefault-user:x:1000:\ngroup50000:x:50000:default-user\n");
  };
  await layout.tag("predefined", await layout.image({ layers: [predefined], config: config({ User: "1000" }) }));
  await registry.push(layout.dir, "predefined", `${staging}/test-image-predefined-group:latest`);
});
