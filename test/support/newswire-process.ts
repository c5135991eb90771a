/**
 * Runs the real entry point (src/main.ts, through tsx) as a child process, the way an operator
 * would: settings in the environment, a working directory of its own. Collects its log lines.
 * `startWorld` sets up the loopback doubles it talks to.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startFakeTelegram, type FakeTelegram, type FakeTelegramOptions } from "./fake-telegram.js";
import { startFeedSite, type FeedSite } from "./feed-site.js";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

/** A running newswire process. */
export interface NewswireProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /**
   * Resolves when `count` (default 1) lines of output contain `text`; rejects after `timeoutMs` or
   * if the process exits.
   */
  waitForOutput(text: string, timeoutMs?: number, count?: number): Promise<void>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends `signal` if the process still runs, and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/** Starts newswire with exactly `env` (plus PATH and HOME) in `cwd`. */
export function startNewswire(env: Record<string, string>, cwd: string): NewswireProcess {
  const child = spawn(process.execPath, ["--import", TSX, MAIN], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? cwd, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString("utf8");
    for (const listener of listeners) listener();
  };
  child.stdout!.on("data", append);
  child.stderr!.on("data", append);
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => {
      resolve(code ?? signal ?? "unknown");
      for (const listener of listeners) listener();
    }),
  );

  const waitForOutput = (text: string, timeoutMs = 30_000, count = 1) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (output.split(text).length > count) done();
        else if (child.exitCode !== null || child.signalCode !== null) done(new Error(`newswire exited before printing "${text}":\n${output}`));
      };
      const done = (error?: Error) => {
        clearTimeout(timer);
        listeners.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(() => done(new Error(`newswire did not print "${text}" within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      listeners.add(check);
      check();
    });

  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };

  return { child, output: () => output, waitForOutput, exited, stop };
}

/** The loopback world an end-to-end test runs newswire in: a Bot API double, a feed site, a work folder. */
export interface World {
  telegram: FakeTelegram;
  site: FeedSite;
  workdir: string;
  /**
   * Settings for newswire in this world: the Bot API double, a store in the work folder, a poll
   * every second, info logs; `extra` adds settings or overrides these.
   */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Stops the doubles and removes the work folder. */
  close(): Promise<void>;
}

/** Starts a world; `name` tags its work folder. */
export async function startWorld(name: string, telegramOptions?: FakeTelegramOptions): Promise<World> {
  const telegram = await startFakeTelegram(telegramOptions);
  const site = await startFeedSite();
  const workdir = mkdtempSync(join(tmpdir(), `newswire-${name}-`));
  return {
    telegram,
    site,
    workdir,
    env: (extra = {}) => ({
      BOT_TOKEN: telegram.token,
      TELEGRAM_API_ROOT: telegram.apiRoot,
      STORE_URL: `sqlite://${join(workdir, "state", "newswire.sqlite")}`,
      POLL_CRON: "* * * * * *",
      LOG_LEVEL: "info",
      ...extra,
    }),
    close: async () => {
      await telegram.close();
      await site.close();
      rmSync(workdir, { recursive: true, force: true });
    },
  };
}
