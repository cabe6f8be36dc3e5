// Builds the project: the protobuf codec from the .proto, TypeScript to
// dist/, and the C helpers to dist/bin: the process supervisor (warden-shim),
// the daemon's command starter (warden-spawn), the namespace maker
// (warden-netns) and the containers' init (warden-init, static). The
// generated codec is plain JS, so it is copied next to the compiled code.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// A clean dist/, so a deleted source or test never lingers as compiled code.
rmSync(join(root, "dist"), { recursive: true, force: true });
try {
  execFileSync(process.execPath, [join(root, "script/gen-proto.mjs")], { stdio: "inherit" });
  execFileSync(join(root, "node_modules/.bin/tsc"), ["-p", join(root, "tsconfig.json")], { stdio: "inherit" });
  mkdirSync(join(root, "dist/bin"), { recursive: true });
  execFileSync(
    "cc",
    ["-O2", "-Wall", "-Wextra", "-Werror", "-o", join(root, "dist/bin/warden-shim"), join(root, "src/shim/warden-shim.c")],
    { stdio: "inherit" },
  );
  for (const tool of ["warden-spawn", "warden-netns", "warden-graft", "warden-relay"]) {
    execFileSync("cc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", join(root, "dist/bin", tool), join(root, "src/shim", `${tool}.c`)], { stdio: "inherit" });
  }
  // Static: it runs inside containers, whose root filesystems need not have a C library.
  execFileSync(
    "cc",
    ["-O2", "-static", "-Wall", "-Wextra", "-Werror", "-o", join(root, "dist/bin/warden-init"), join(root, "src/shim/warden-init.c")],
    { stdio: "inherit" },
  );
} catch {
  process.exit(1);
}
const out = join(root, "dist/src/protocol/gen");
mkdirSync(out, { recursive: true });
for (const name of ["warden", "cri"]) {
  copyFileSync(join(root, `src/protocol/gen/${name}.js`), join(out, `${name}.js`));
  // Its types, for the declarations of the published client.
  copyFileSync(join(root, `src/protocol/gen/${name}.d.ts`), join(out, `${name}.d.ts`));
}
// The CLI reflects over the .proto for flag names and types.
copyFileSync(join(root, "src/protocol/warden.proto"), join(root, "dist/src/protocol/warden.proto"));
