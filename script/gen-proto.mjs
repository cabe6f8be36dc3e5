// Generates the static protobuf codecs and their TypeScript declarations from
// src/protocol/warden.proto and src/protocol/cri.proto (Kubernetes' CRI).
// Each is skipped when its output is newer than its .proto.
import { execFileSync } from "node:child_process";
import { statSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules/.bin", name);
const mtime = (p) => { try { return statSync(p).mtimeMs; } catch { return 0; } };

for (const name of ["warden", "cri"]) {
  const proto = join(root, `src/protocol/${name}.proto`);
  const js = join(root, `src/protocol/gen/${name}.js`);
  const dts = join(root, `src/protocol/gen/${name}.d.ts`);
  if (mtime(dts) > mtime(proto) && mtime(js) > mtime(proto)) continue;
  mkdirSync(dirname(js), { recursive: true });
  execFileSync(bin("pbjs"), [
    "-t", "static-module", "-w", "es6", "--keep-case", "--force-long",
    "--no-create", "--no-verify", "--no-convert", "--no-delimited", "--no-typeurl",
    "-o", js, proto,
  ], { stdio: "inherit" });
  execFileSync(bin("pbts"), ["-o", dts, js], { stdio: "inherit" });
}
