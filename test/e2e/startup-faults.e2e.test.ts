/**
 * Start-up against an environment that is not there: Telegram (a closed port, a proxy answering
 * 502, a socket that accepts and never answers), Redis or PostgreSQL on a closed port. Each must
 * end the real entry point with exit code 1 and one line on stderr naming what is unreachable,
 * well within the 30 s the spec allows, with no stack trace and never the bot's token.
 */
import assert from "node:assert/strict";
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { startNewswire, startWorld, type World } from "../support/newswire-process.js";

/** The spec's limit for giving up at start. */
const START_LIMIT_MS = 30_000;

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("unreachable at start", () => {
  let world: World;
  const servers: Server[] = [];
  const sockets: Socket[] = [];

  before(async () => {
    world = await startWorld("startup");
  });
  after(async () => {
    for (const socket of sockets) socket.destroy();
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await world?.close();
  });

  /** Runs newswire with `extra` settings; asserts exit 1 with one line matching `line`, in time. */
  async function failsToStart(extra: Record<string, string>, line: RegExp): Promise<void> {
    const bot = startNewswire(world.env({ FEEDS: world.site.url("/feed.xml"), ...extra }), world.workdir);
    let timer: NodeJS.Timeout | undefined;
    const tooLate = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("still running"), START_LIMIT_MS)));
    const outcome = await Promise.race([bot.exited, tooLate]);
    clearTimeout(timer);
    await bot.stop("SIGKILL");
    assert.equal(outcome, 1, `expected exit 1 within ${START_LIMIT_MS} ms, got ${outcome}:\n${bot.output()}`);
    const lines = bot.output().trim().split("\n");
    assert.equal(lines.length, 1, bot.output());
    assert.match(lines[0]!, line);
    assert.doesNotMatch(lines[0]!, /^\s+at |"level"/, "no stack trace, no JSON");
    assert.ok(!bot.output().includes(world.telegram.token.split(":")[1]!), "the token is never printed");
  }

  test("Telegram on a closed port", async () => {
    const root = `http://127.0.0.1:${await closedPort()}`;
    await failsToStart({ TELEGRAM_API_ROOT: root }, new RegExp(`^newswire: Telegram \\(${root}\\) unreachable: .*ECONNREFUSED`));
  });

  test("Telegram behind a proxy answering 502", async () => {
    const server = createHttpServer((_, response) => response.writeHead(502, { "content-type": "text/html" }).end("<html>Bad Gateway</html>"));
    servers.push(server);
    const root = await listen(server);
    await failsToStart({ TELEGRAM_API_ROOT: root }, new RegExp(`^newswire: Telegram \\(${root}\\) unreachable: HTTP 502`));
  });

  test("Telegram on a socket that accepts and never answers", async () => {
    const server = createServer((socket) => sockets.push(socket));
    servers.push(server);
    const root = await listen(server);
    await failsToStart({ TELEGRAM_API_ROOT: root }, new RegExp(`^newswire: Telegram \\(${root}\\) unreachable: no answer within`));
  });

  test("Redis on a closed port", async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    await failsToStart({ STORE_URL: url }, /^newswire: store \(redis:\/\/127\.0\.0\.1:\d+\) unreachable: .*ECONNREFUSED/);
  });

  test("PostgreSQL on a closed port (its password is not printed)", async () => {
    const url = `postgres://newswire:s3cret@127.0.0.1:${await closedPort()}/newswire`;
    await failsToStart({ STORE_URL: url }, /^newswire: store \(postgres:\/\/newswire:\*\*\*@127\.0\.0\.1:\d+\/newswire\) unreachable: .*ECONNREFUSED/);
  });
});
