/**
 * The Dockerfile, .dockerignore and compose.yaml, checked without a Docker engine: the runtime
 * stage's settings load with FEEDS alone, its paths match what the code reads, its HEALTHCHECK
 * command behaves as described when run, and every variable compose sets is one newswire reads.
 */
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse as parseYaml } from "yaml";
import { loadCatalog } from "../../src/config/catalog.js";
import { ConfigError } from "../../src/config/errors.js";
import { parseSettings } from "../../src/config/settings.js";
import { MIGRATIONS_DIR } from "../../src/store/postgres.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (name: string) => readFileSync(join(ROOT, name), "utf8");
const TOKEN = "123456:ABC-def_ghi";

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's stages, each a list of instructions (continuation lines joined, comments dropped). */
function dockerStages(text: string): Instruction[][] {
  const instructions = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const [keyword = "", ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    });
  const stages: Instruction[][] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") stages.push([]);
    stages.at(-1)?.push(instruction);
  }
  return stages;
}

const stages = dockerStages(read("Dockerfile"));
const runtime = stages.at(-1)!;
const all = (stage: Instruction[], keyword: string) => stage.filter((instruction) => instruction.keyword === keyword);
const one = (stage: Instruction[], keyword: string): string => {
  const found = all(stage, keyword);
  assert.equal(found.length, 1, `the runtime stage should have one ${keyword}`);
  return found[0]!.args;
};

/** `ENV A=1 B=2` of the runtime stage, as an environment. */
function runtimeEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of all(runtime, "ENV")) {
    for (const [, name, value] of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[name!] = value!.replace(/^"|"$/g, "");
  }
  return env;
}

/** A COPY's sources and destination (JSON form not used in this Dockerfile). */
function copies(stage: Instruction[]): { from?: string; sources: string[]; dest: string }[] {
  return all(stage, "COPY").map(({ args }) => {
    const words = args.split(/\s+/);
    const from = words.find((word) => word.startsWith("--from="))?.slice("--from=".length);
    const paths = words.filter((word) => !word.startsWith("--"));
    return { ...(from ? { from } : {}), sources: paths.slice(0, -1), dest: paths.at(-1)! };
  });
}

describe("Dockerfile", () => {
  const workdir = one(runtime, "WORKDIR");

  test("builds in one stage and runs on the same base in another (sqlite3's addon needs the same libc)", () => {
    assert.equal(stages.length, 2);
    const [build, run] = stages.map((stage) => stage[0]!.args.split(/\s+/)[0]);
    assert.equal(run, build);
    assert.match(stages[0]![0]!.args, /\bAS build$/i);
  });

  test("the runtime stage's settings load with FEEDS alone, no config file anywhere", (t) => {
    const cwd = mkdtempSync(join(tmpdir(), "newswire-docker-"));
    const before = process.cwd();
    process.chdir(cwd);
    t.after(() => {
      process.chdir(before);
      rmSync(cwd, { recursive: true, force: true });
    });
    const settings = parseSettings({ ...runtimeEnv(), BOT_TOKEN: TOKEN, FEEDS: "https://example.org/rss.xml" });
    assert.deepEqual(loadCatalog(settings).feeds.map((feed) => feed.url), ["https://example.org/rss.xml"]);
    // Without FEEDS the same image must still ask for feeds in one line.
    assert.throws(() => loadCatalog(parseSettings({ ...runtimeEnv(), BOT_TOKEN: TOKEN })), ConfigError);
  });

  test("the runtime stage holds dist/, production node_modules, package.json and migrations/ where the code reads them", () => {
    const fromBuild = copies(runtime).filter((copy) => copy.from === "build");
    assert.deepEqual(fromBuild.flatMap((copy) => copy.sources).sort(), ["/app/dist", "/app/node_modules"]);
    /** Where `source` lands in the image: into a destination ending in "/", else at it (a folder's contents too). */
    const inImage = (source: string): string => {
      const copy = copies(runtime).find((candidate) => candidate.sources.includes(source)) ?? assert.fail(`${source} is not copied`);
      return posix.resolve(workdir, copy.dest, copy.dest.endsWith("/") ? posix.basename(source) : "");
    };
    // MIGRATIONS_DIR is found relative to src/store/ (dist/store/ once compiled).
    const relative = posix.relative(join(ROOT, "src/store"), MIGRATIONS_DIR);
    assert.equal(inImage("migrations"), posix.resolve(inImage("/app/dist"), "store", relative));
    // package.json beside dist/: src/feeds/fetch.ts reads ../../package.json for its User-Agent.
    assert.equal(inImage("package.json"), posix.resolve(inImage("/app/dist"), "feeds", "../../package.json"));
    const fromContext = copies(runtime).filter((copy) => copy.from === undefined).flatMap((copy) => copy.sources);
    assert.deepEqual(fromContext.sort(), ["migrations", "package.json"], "no sources or tests in the runtime stage");
  });

  test("runs as an unprivileged user, stops on SIGTERM, keeps its data in a volume", () => {
    assert.doesNotMatch(one(runtime, "USER"), /^(root|0)(:|$)/);
    assert.equal(one(runtime, "STOPSIGNAL"), "SIGTERM");
    const volume = JSON.parse(one(runtime, "VOLUME")) as string[];
    // The SQLite store the image's settings name (a relative path is the working directory's).
    const store = parseSettings({ ...runtimeEnv(), BOT_TOKEN: TOKEN }).storeUrl;
    assert.match(store, /^sqlite:\/\//);
    assert.deepEqual(volume, [posix.resolve(workdir, dirname(store.slice("sqlite://".length)))]);
  });

  test(".dockerignore lets in only what the build copies from the context", () => {
    const patterns = read(".dockerignore").split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));
    assert.equal(patterns[0], "*", "an allow-list: .env and data/ never reach the build");
    const allowed = new Set(patterns.filter((line) => line.startsWith("!")).map((line) => line.slice(1).replace(/\/$/, "")));
    const sources = stages.flatMap((stage) => copies(stage)).filter((copy) => copy.from === undefined).flatMap((copy) => copy.sources);
    for (const source of sources) assert.ok(allowed.has(source.replace(/\/$/, "")), `${source} is copied but excluded by .dockerignore`);
  });
});

describe("Dockerfile HEALTHCHECK", () => {
  const line = one(runtime, "HEALTHCHECK");
  const command = JSON.parse(line.slice(line.indexOf("CMD") + "CMD".length)) as string[];
  let status = 200;
  const server = createServer((request, response) => {
    response.writeHead(request.url === "/healthz" ? status : 404).end();
  });
  after(() => server.close());
  const check = async (env: Record<string, string>): Promise<number> => {
    try {
      await promisify(execFile)(command[0]!, command.slice(1), { env: { PATH: process.env.PATH, ...env }, timeout: 10_000 });
      return 0;
    } catch (error) {
      return (error as { code: number }).code;
    }
  };
  const listening = new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)));

  test("uses node itself (slim images have no curl)", () => {
    assert.equal(command[0], "node");
  });

  test("passes while /healthz answers 200 on PORT, fails on another status or nothing listening", async () => {
    const port = await listening;
    status = 200;
    assert.equal(await check({ PORT: String(port) }), 0);
    status = 503;
    assert.equal(await check({ PORT: String(port) }), 1);
    const closed = createServer();
    const freePort = await new Promise<number>((resolve) => closed.listen(0, "127.0.0.1", () => resolve((closed.address() as AddressInfo).port)));
    await new Promise((resolve) => closed.close(resolve));
    assert.equal(await check({ PORT: String(freePort) }), 1);
  });

  test("passes without PORT: no HTTP server to ask", async () => {
    assert.equal(await check({}), 0);
  });
});

/** compose's interpolation for the forms compose.yaml uses: `${X:-default}` and `${X:?message}`, from `env`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, kind?: string, rest?: string) => {
    if (env[name] !== undefined && env[name] !== "") return env[name];
    if (kind === "?") assert.fail(`compose would refuse to start without ${name}: ${rest}`);
    return rest ?? "";
  });
}

describe("compose.yaml", () => {
  const compose = parseYaml(read("compose.yaml")) as {
    services: Record<string, Record<string, unknown>>;
    volumes?: Record<string, unknown>;
  };
  const postgres = compose.services["postgres"] as {
    image: string;
    environment: Record<string, string>;
    volumes: string[];
    healthcheck: { test: string[] };
  };
  const newswire = compose.services["newswire"] as {
    build: string;
    deploy: { replicas: number };
    environment: Record<string, string>;
    depends_on: Record<string, { condition: string }>;
    restart: string;
  };
  const given = { BOT_TOKEN: TOKEN };
  const environment = Object.fromEntries(Object.entries(newswire.environment).map(([name, value]) => [name, interpolate(String(value), given)]));

  test("PostgreSQL 16 with a healthcheck and its data in a named volume", () => {
    assert.match(postgres.image, /^postgres:16(\b|$)/);
    assert.ok(postgres.healthcheck.test.join(" ").includes("pg_isready"));
    const [volume, path] = postgres.volumes[0]!.split(":");
    assert.equal(path, "/var/lib/postgresql/data");
    assert.ok(compose.volumes && volume! in compose.volumes, `${volume} is a declared volume`);
  });

  test("newswire: built here, two replicas on the one PostgreSQL, started once it is healthy, restarted unless stopped", () => {
    assert.equal(newswire.build, ".");
    assert.equal(newswire.deploy.replicas, 2);
    assert.deepEqual(newswire.depends_on, { postgres: { condition: "service_healthy" } });
    assert.equal(newswire.restart, "unless-stopped");
    assert.ok(!("ports" in newswire), "a fixed host port would clash between replicas");
  });

  test("every variable it sets is a setting newswire reads: garbage in it is refused by name", () => {
    for (const name of Object.keys(newswire.environment)) {
      assert.throws(
        () => parseSettings({ ...environment, FEEDS: "https://example.org/rss.xml", [name]: "\u0001not a valid value" }),
        (error: unknown) => error instanceof ConfigError && error.message.startsWith(`${name} `),
        `${name} is not a setting newswire reads (or accepts any value)`,
      );
    }
  });

  test("STORE_URL names the postgres service with its user, password and database; PORT is served", () => {
    const settings = parseSettings({ ...environment, FEEDS: "https://example.org/rss.xml" });
    const store = new URL(settings.storeUrl);
    const pg = Object.fromEntries(Object.entries(postgres.environment).map(([name, value]) => [name, interpolate(String(value), given)]));
    assert.equal(store.protocol, "postgres:");
    assert.equal(store.hostname, "postgres");
    assert.equal(store.username, pg["POSTGRES_USER"]);
    assert.equal(decodeURIComponent(store.password), pg["POSTGRES_PASSWORD"]);
    assert.equal(store.pathname, `/${pg["POSTGRES_DB"]}`);
    assert.ok(settings.port !== undefined, "PORT: the image's HEALTHCHECK and /readyz need it");
  });
});
