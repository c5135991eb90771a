/**
 * A stand-in for src/summaries/extract-worker.ts: answers every page at once with its HTML as the
 * text, except a page whose HTML is "stall", on which it spins forever (a page no budget saves).
 */
import { parentPort } from "node:worker_threads";
import type { ExtractionRequest } from "../../src/summaries/extract-pool.js";

parentPort?.on("message", ({ id, html }: ExtractionRequest) => {
  if (html === "stall") for (;;);
  parentPort?.postMessage({ id, article: { text: html } });
});
parentPort?.postMessage({ ready: true });
