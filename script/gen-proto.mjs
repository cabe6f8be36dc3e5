// Generates the static protobuf codec and its TypeScript declarations from
// src/protocol/warden.proto. Skipped when the output is newer than the .proto.
import { execFileSync } from "node:child_process";
import { statSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const proto = join(root, "src/protocol/warden.proto");
const js = join(root, "src/protocol/gen/warden.js");
const dts = join(root, "src/protocol/gen/warden.d.ts");
const bin = (name) => join(root, "node_modules/.bin", name);

const mtime = (p) => { try { return statSync(p).mtimeMs; } catch { return 0; } };
if (mtime(dts) > mtime(proto) && mtime(js) > mtime(proto)) process.exit(0);

mkdirSync(dirname(js), { recursive: true });
execFileSync(bin("pbjs"), [
  "-t", "static-module", "-w", "es6", "--keep-case", "--force-long",
  "--no-create", "--no-verify", "--no-convert", "--no-delimited", "--no-typeurl",
  "-o", js, proto,
], { stdio: "inherit" });
execFileSync(bin("pbts"), ["-o", dts, js], { stdio: "inherit" });
