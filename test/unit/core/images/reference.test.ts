import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatImageReference, parseImageReference, type RegistryImage } from "../../../../src/core/images/reference.js";

const D = `sha256:${"ab".repeat(32)}`;
const name = (text: string) => formatImageReference(parseImageReference(text) as RegistryImage);

describe("image references", () => {
  it("reads Garden's forms: Docker Hub with library/ implied and the tag after #, or another registry", () => {
    assert.deepEqual(parseImageReference("docker:///busybox#1.37.0"), { kind: "registry", registry: "docker.io", repository: "library/busybox", tag: "1.37.0" });
    assert.equal(name("docker:///busybox"), "docker.io/library/busybox:latest");
    assert.equal(name("docker://127.0.0.1:5000/team/app#v2"), "127.0.0.1:5000/team/app:v2");
  });

  it("reads the usual forms, digests included, telling a registry's port from a tag", () => {
    assert.equal(name("docker://registry.example.com/app:1.0"), "registry.example.com/app:1.0");
    assert.equal(name("localhost:5000/app"), "localhost:5000/app:latest");
    assert.equal(name("busybox:1.37"), "docker.io/library/busybox:1.37");
    assert.equal(name("registry.k8s.io/pause:3.9"), "registry.k8s.io/pause:3.9");
    assert.equal(name("team/app"), "docker.io/team/app:latest");
    assert.deepEqual(parseImageReference(`quay.io/a/b@${D}`), { kind: "registry", registry: "quay.io", repository: "a/b", digest: D });
    assert.equal(name(`busybox:1.37@${D}`), `docker.io/library/busybox:1.37@${D}`);
  });

  it("reads directories and local image files", () => {
    assert.deepEqual(parseImageReference("/var/lib/warden/rootfs"), { kind: "directory", path: "/var/lib/warden/rootfs" });
    assert.deepEqual(parseImageReference("oci:/images/app:v1"), { kind: "oci-layout", path: "/images/app", tag: "v1" });
    assert.deepEqual(parseImageReference("oci:/images/app"), { kind: "oci-layout", path: "/images/app" });
    assert.deepEqual(parseImageReference("oci-archive:/tmp/app.tar"), { kind: "oci-archive", path: "/tmp/app.tar" });
    assert.deepEqual(parseImageReference("docker-archive:/tmp/app.tar"), { kind: "docker-archive", path: "/tmp/app.tar" });
  });

  it("refuses what names no image, saying why", () => {
    for (const [text, why] of [
      ["", /non-empty/],
      ["a b", /blanks/],
      ["Busybox", /lowercase/],
      ["busybox@sha256:1234", /digest/],
      ["busybox:bad tag", /blanks/],
      ["busybox:-x", /tag/],
      ["http://example.com/app", /scheme/],
      ["oci:relative/dir", /absolute/],
      ["oci-archive:x.tar", /absolute/],
      ["docker://bad_host:99/app", /not a host/],
      ["docker://", /repository/],
    ] as const) {
      assert.throws(() => parseImageReference(text), { code: "INVALID_REQUEST", message: why }, text);
    }
  });
});
