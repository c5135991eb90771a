/**
 * How long the instance lease keeps a restart out after its holder is SIGKILLed, per store: a
 * child process takes the lease, a second taker is refused (timed), the child is SIGKILLed, and the
 * lease is taken again (timed). The baseline, in the same run, is a take on a free store. Medians
 * of 5 runs; SQLite always, Redis with TEST_REDIS_URL (its database 11 is emptied: give a server
 * of no use otherwise). PostgreSQL takes no instance lease (src/store/sender-lease.ts).
 *
 * Run: node --import tsx bench/instance-lease.ts
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { takeInstanceLease } from "../src/store/instance-lease.js";
import { redisDatabase, storeServers } from "../test/support/store-servers.js";

const RUNS = 5;
const logger = pino({ level: "silent" });

if (process.argv[2] === "--hold") {
  await takeInstanceLease(process.argv[3]!, { logger, lost: () => undefined });
  console.log("held");
  setInterval(() => undefined, 60_000);
} else {
  const dir = mkdtempSync(join(tmpdir(), "newswire-lease-bench-"));
  const stores = [
    { name: "sqlite", url: async () => `sqlite://${join(dir, "bench.sqlite")}` },
    ...(storeServers.redis ? [{ name: "redis", url: () => redisDatabase(storeServers.redis!, 11) }] : []),
  ];
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const timed = async (work: () => Promise<unknown>) => {
    const started = performance.now();
    await work();
    return performance.now() - started;
  };
  const takeAndRelease = async (url: string) => (await takeInstanceLease(url, { logger, lost: () => undefined })).release();
  const refused = (url: string) =>
    takeInstanceLease(url, { logger, lost: () => undefined }).then(
      () => Promise.reject(new Error("a second taker was not refused")),
      (error: Error) => (/another newswire instance/.test(error.message) ? undefined : Promise.reject(error)),
    );
  const self = fileURLToPath(import.meta.url);
  try {
    for (const store of stores) {
      const url = await store.url();
      const free: number[] = [];
      const refusal: number[] = [];
      const afterKill: number[] = [];
      for (let run = 0; run < RUNS; run++) {
        free.push(await timed(() => takeAndRelease(url)));
        const holder = spawn(process.execPath, ["--import", "tsx", self, "--hold", url], { stdio: ["ignore", "pipe", "inherit"] });
        await new Promise<void>((resolve) => holder.stdout.on("data", (chunk: Buffer) => chunk.toString().includes("held") && resolve()));
        refusal.push(await timed(() => refused(url)));
        holder.kill("SIGKILL");
        await new Promise((resolve) => holder.once("exit", resolve));
        afterKill.push(await timed(() => takeAndRelease(url)));
      }
      console.log(
        `${store.name}: take on a free store ${median(free).toFixed(1)} ms; refusal ${median(refusal).toFixed(1)} ms; take after SIGKILL of the holder ${median(afterKill).toFixed(1)} ms (${(median(afterKill) / median(free)).toFixed(2)}x the free take)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
