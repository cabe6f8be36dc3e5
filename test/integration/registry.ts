// A real registry for image tests: Debian's docker-registry (CNCF
// distribution 2.8) on loopback, optionally with TLS from a test CA, basic
// auth (htpasswd) or bearer tokens from a token service in this process.
// Images get in with skopeo, from OCI layouts the tests build.
import { spawn, type ChildProcess } from "node:child_process";
import { createSign, randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, get as httpGet, type Server } from "node:http";
import { get as httpsGet } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { stringify } from "yaml";
import { run } from "../../src/linux/command.js";
import { eventually, freePort } from "./harness.js";


/** A CA, a server certificate for 127.0.0.1 and a token-signing certificate, made with openssl. */
export interface TestPki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  signingCert: string;
  signingKey: string;
}

export async function makePki(dir: string): Promise<TestPki> {
  const p = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => run(["openssl", ...args]);
  await openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=warden test CA", "-keyout", p("ca.key"), "-out", p("ca.pem"));
  for (const [name, subject, ext] of [
    ["server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
    ["signing", "/CN=warden test token issuer", "keyUsage=digitalSignature"],
  ]) {
    await openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`));
    await writeFile(p(`${name}.ext`), `${ext}\n`);
    await openssl("x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", p(`${name}.ext`), "-out", p(`${name}.pem`));
  }
  return { caCert: p("ca.pem"), serverCert: p("server.pem"), serverKey: p("server.key"), signingCert: p("signing.pem"), signingKey: p("signing.key") };
}

/**
 * A network namespace of the test's own with a veth to it, for a registry
 * that is not on loopback (what "insecure" is about). Its /30 is the last of
 * the daemon's default pool, far from what the tests' containers get.
 */
export class TestNetns {
  readonly name = "w-test-registry";
  readonly hostIf = "w-treg-h";
  readonly nsIf = "w-treg-c";
  readonly hostIp = "10.254.3.253";
  readonly address = "10.254.3.254";

  async create(): Promise<void> {
    await this.destroy();
    await run(["ip", "netns", "add", this.name]);
    await run(["ip", "link", "add", this.hostIf, "type", "veth", "peer", "name", this.nsIf]);
    await run(["ip", "link", "set", this.nsIf, "netns", this.name]);
    await run(["ip", "addr", "add", `${this.hostIp}/30`, "dev", this.hostIf]);
    await run(["ip", "link", "set", this.hostIf, "up"]);
    await run(["ip", "-n", this.name, "addr", "add", `${this.address}/30`, "dev", this.nsIf]);
    await run(["ip", "-n", this.name, "link", "set", this.nsIf, "up"]);
    await run(["ip", "-n", this.name, "link", "set", "lo", "up"]);
  }

  async destroy(): Promise<void> {
    await run(["ip", "netns", "del", this.name]).catch(() => {});
    await run(["ip", "link", "del", this.hostIf]).catch(() => {});
  }
}

export interface RegistryOptions {
  dir: string;
  /** Serve from inside this namespace, on its address (port 5000), instead of loopback. */
  netns?: TestNetns;
  tls?: TestPki;
  basic?: { username: string; password: string };
  token?: { pki: TestPki; username: string; password: string };
}

export class TestRegistry {
  private child: ChildProcess | undefined;
  private tokenServer: Server | undefined;
  readonly tokensIssued: string[] = [];
  output = "";

  private constructor(
    readonly port: number,
    private readonly options: RegistryOptions,
  ) {}

  /** host:port, as references name it. */
  get host(): string {
    return `${this.options.netns?.address ?? "127.0.0.1"}:${this.port}`;
  }

  get url(): string {
    return `${this.options.tls ? "https" : "http"}://${this.host}`;
  }

  static async start(options: RegistryOptions): Promise<TestRegistry> {
    const registry = new TestRegistry(options.netns ? 5000 : await freePort(), options);
    await registry.launch();
    return registry;
  }

  private async launch(): Promise<void> {
    const { dir, tls, basic, token } = this.options;
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: "info", accesslog: { disabled: false } },
      storage: { filesystem: { rootdirectory: join(dir, "storage") }, delete: { enabled: true } },
      http: { addr: this.host, ...(tls ? { tls: { certificate: tls.serverCert, key: tls.serverKey } } : {}) },
    };
    if (basic) {
      await writeFile(join(dir, "htpasswd"), `${basic.username}:${bcrypt.hashSync(basic.password, 5)}\n`);
      config.auth = { htpasswd: { realm: "warden-test", path: join(dir, "htpasswd") } };
    }
    if (token) {
      const realm = await this.startTokenServer(token);
      config.auth = { token: { realm, service: "warden-test-registry", issuer: "warden-test-issuer", rootcertbundle: token.pki.caCert } };
    }
    const configPath = join(dir, "registry.yml");
    await writeFile(configPath, stringify(config));
    const argv = ["docker-registry", "serve", configPath];
    // ip netns exec execs the registry: its pid is the registry's.
    this.child = spawn(this.options.netns ? "ip" : argv[0], this.options.netns ? ["netns", "exec", this.options.netns.name, ...argv] : argv.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.on("data", (d) => (this.output += d));
    this.child.stderr!.on("data", (d) => (this.output += d));
    const exited = new Promise<void>((r) => this.child!.once("exit", () => r()));
    await Promise.race([
      eventually(async () => {
        const status = await probe(`${this.url}/v2/`);
        return status === 200 || status === 401;
      }, `the registry on ${this.host}`),
      exited.then(() => {
        throw new Error(`docker-registry exited:\n${this.output}`);
      }),
    ]);
  }

  /** A token service as distribution's token auth expects: JWTs signed by a certificate of the CA, x5c in the header. */
  private async startTokenServer(token: NonNullable<RegistryOptions["token"]>): Promise<string> {
    const key = await readFile(token.pki.signingKey, "utf8");
    const certDer = (await readFile(token.pki.signingCert, "utf8")).replace(/-----[^-]+-----|\s/g, "");
    const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString("base64url");
    this.tokenServer = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://token");
      const expected = `Basic ${Buffer.from(`${token.username}:${token.password}`).toString("base64")}`;
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end("bad credentials");
        return;
      }
      const access = url.searchParams.getAll("scope").flatMap((scope) => {
        const [type, name, actions] = scope.split(":");
        return type === "repository" ? [{ type, name, actions: actions.split(",") }] : [];
      });
      const now = Math.floor(Date.now() / 1000);
      const header = { typ: "JWT", alg: "RS256", x5c: [certDer] };
      const claims = { iss: "warden-test-issuer", sub: token.username, aud: url.searchParams.get("service"), exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access };
      const signing = `${b64(header)}.${b64(claims)}`;
      const signature = createSign("RSA-SHA256").update(signing).sign(key);
      const jwt = `${signing}.${b64(signature)}`;
      this.tokensIssued.push(url.searchParams.getAll("scope").join(" "));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: jwt, expires_in: 300 }));
    });
    await new Promise<void>((r) => this.tokenServer!.listen(0, "127.0.0.1", r));
    return `http://127.0.0.1:${(this.tokenServer.address() as AddressInfo).port}/token`;
  }

  /** Pushes an OCI layout's image (all platforms of an index) to repo:tag. */
  async push(layout: string, layoutTag: string, repoTag: string): Promise<void> {
    const creds = this.options.basic ?? this.options.token;
    await run([
      "skopeo", "copy", "--quiet", "--all",
      ...(this.options.tls ? ["--dest-cert-dir", certDir(this.options.tls)] : ["--dest-tls-verify=false"]),
      ...(creds ? ["--dest-creds", `${creds.username}:${creds.password}`] : []),
      `oci:${layout}:${layoutTag}`, `docker://${this.host}/${repoTag}`,
    ], { timeoutMs: 120_000 });
  }

  /** Lines of the access log for blob downloads of `repo`. */
  blobGets(repo: string): string[] {
    return this.output.split("\n").filter((l) => l.includes(`"GET /v2/${repo}/blobs/sha256:`) && !l.includes(" 307 "));
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child!.once("exit", r));
      this.child.kill("SIGTERM");
      await exited;
    }
    await new Promise<void>((r) => (this.tokenServer ? this.tokenServer.close(() => r()) : r()));
  }
}

/** The status a URL answers with, or 0 when nothing answers (certificates not checked: only "is it up"). */
function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const get = url.startsWith("https:") ? httpsGet : httpGet;
    const req = get(url, { rejectUnauthorized: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}

// skopeo reads a directory of *.crt (CAs) for a registry.
function certDir(pki: TestPki): string {
  return join(pki.caCert, "..", "certs.d");
}

export async function prepareCertDir(pki: TestPki): Promise<void> {
  await run(["mkdir", "-p", certDir(pki)]);
  await run(["cp", pki.caCert, join(certDir(pki), "ca.crt")]);
}

/**
 * A script's registry of look-alike images (script/gats, script/critest): a
 * registry in `dir`, filled by `fill`, then "registry HOST:PORT" on stdout,
 * serving until SIGTERM or SIGINT; a fill that fails says why and exits 1.
 */
export async function serveImages(dir: string, fill: (registry: TestRegistry) => Promise<void>): Promise<void> {
  await mkdir(join(dir, "registry"), { recursive: true });
  const registry = await TestRegistry.start({ dir: join(dir, "registry") });
  const stop = async () => {
    await registry.stop();
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  try {
    await fill(registry);
    process.stdout.write(`registry ${registry.host}\n`);
  } catch (err) {
    process.stderr.write(`images: ${err instanceof Error ? err.stack : String(err)}\n${registry.output}\n`);
    await registry.stop();
    process.exit(1);
  }
}
