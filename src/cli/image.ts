// `warden image ...`: the daemon's image store, over its admin channel.
import { parseArgs } from "node:util";
import { AdminClient, AdminError, type PullProgress } from "../client/admin-client.js";

export const IMAGE_USAGE = `usage: warden [--socket PATH] [--json] image pull REF [--username U --password P]
       warden [--socket PATH] [--json] image load FILE      (an OCI or Docker archive)
       warden [--socket PATH] [--json] image ls
       warden [--socket PATH] [--json] image rm REF|ID...
       warden [--socket PATH] [--json] image prune

REF: busybox, busybox:1.37, host:5000/team/app:v1, name@sha256:..., docker:///busybox#1.37.0,
oci:/path/layout[:tag], oci-archive:/path.tar, docker-archive:/path.tar.
`;

export interface ImageIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stderr is a terminal: progress then rewrites one line. */
  tty: boolean;
}

function size(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function progressLine(p: PullProgress): string {
  return `${p.image}: ${p.layersDone}/${p.layers} layers, ${size(p.bytes)} of ${size(p.totalBytes)}`;
}

export async function image(argv: string[], socket: string, json: boolean, io: ImageIo): Promise<number> {
  const [command, ...rest] = argv;
  const admin = AdminClient.besideWardenSocket(socket);
  const print = (value: unknown, text: string) => io.stdout(json ? `${JSON.stringify(value)}\n` : text);
  try {
    switch (command) {
      case "pull":
      case "load": {
        const { values, positionals } = parseArgs({
          args: rest,
          allowPositionals: true,
          options: { username: { type: "string" }, password: { type: "string" } },
        });
        if (positionals.length !== 1) break;
        const ref = command === "load" ? `oci-archive:${positionals[0]}` : positionals[0];
        let last = "";
        const pulled = await admin.pullImage(ref, {
          username: values.username,
          password: values.password,
          onLine: json ? (line) => io.stdout(`${line}\n`) : undefined,
          onProgress: json
            ? undefined
            : (p) => {
                const line = progressLine(p);
                if (line === last) return;
                last = line;
                io.stderr(io.tty ? `\r\x1b[K${line}` : `${line}\n`);
              },
        });
        if (!json) {
          if (io.tty && last) io.stderr("\n");
          io.stdout(`${pulled.name} ${pulled.id}\n`);
        }
        return 0;
      }
      case "ls": {
        if (rest.length > 0) break;
        const images = await admin.listImages();
        const rows = images.map((i) => [i.name, i.id.slice(0, 19), size(i.size), String(i.holders.length)]);
        const header = ["NAME", "ID", "SIZE", "CONTAINERS"];
        const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
        const table = [header, ...rows].map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join("  ").trimEnd()).join("\n");
        print(images, `${table}\n`);
        return 0;
      }
      case "rm": {
        if (rest.length === 0) break;
        const removed: string[] = [];
        for (const ref of rest) removed.push(await admin.removeImage(ref));
        print({ removed }, removed.map((r) => `removed ${r}\n`).join(""));
        return 0;
      }
      case "prune": {
        if (rest.length > 0) break;
        const result = await admin.pruneImages();
        print(result, `${result.images.map((i) => `removed ${i}\n`).join("")}freed ${size(result.bytes)}\n`);
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof AdminError) {
      io.stderr(json ? `${JSON.stringify({ error: { code: err.code, message: err.message, detail: err.detail } })}\n` : `warden: ${err.message}${err.detail ? ` (${err.detail})` : ""}\n`);
      return 1;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code?.startsWith("ERR_PARSE_ARGS")) {
      io.stderr(`warden: ${(err as Error).message}\n${IMAGE_USAGE}`);
      return 2;
    }
    if (code === "ENOENT" || code === "ECONNREFUSED") {
      io.stderr(`warden: cannot connect to ${admin.socketPath} (is wardend running?)\n`);
      return 1;
    }
    io.stderr(`warden: ${(err as Error).message}\n`);
    return 1;
  }
  io.stderr(IMAGE_USAGE);
  return 2;
}
