// warden-rootfs: builds a root filesystem for containers.
import { parseArgs } from "node:util";
import { buildDebianRootfs, buildDefaultRootfs, isBuilt } from "./build.js";

const USAGE = `usage: warden-rootfs default DIR [--force]
       warden-rootfs debian DIR [--suite bookworm] [--mirror URL] [--force]

default  busybox-static and bash-static (about 4 MiB); what wardend uses unless configured otherwise
debian   a full Debian from debootstrap (minbase), with progress
An existing root filesystem built by this command is kept unless --force is given.
`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        suite: { type: "string", default: "bookworm" },
        mirror: { type: "string", default: "http://deb.debian.org/debian" },
        force: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    process.stderr.write(`warden-rootfs: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const [kind, dir] = positionals;
  if (!dir || !dir.startsWith("/") || (kind !== "default" && kind !== "debian") || positionals.length > 2) {
    process.stderr.write(USAGE);
    return 2;
  }
  if (!values.force && (await isBuilt(dir, kind))) {
    process.stdout.write(`${dir} is already built (use --force to rebuild)\n`);
    return 0;
  }
  const started = Date.now();
  try {
    if (kind === "default") {
      await buildDefaultRootfs(dir, (line) => process.stdout.write(`${line}\n`));
    } else {
      await buildDebianRootfs(dir, {
        suite: values.suite!,
        mirror: values.mirror!,
        progress: (line) => process.stdout.write(`${line}\n`),
      });
    }
  } catch (err) {
    process.stderr.write(`warden-rootfs: ${(err as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`built ${kind} root filesystem in ${dir} (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  return 0;
}
