/**
 * The worker thread of `ExtractionPool`: extracts the pages it is sent, one at a time, and answers
 * each with its article or the error's message.
 */
import { parentPort } from "node:worker_threads";
import { extractArticle } from "./extract.js";
import type { ExtractionReply, ExtractionRequest } from "./extract-pool.js";

parentPort?.on("message", ({ id, html, url }: ExtractionRequest) => {
  let reply: ExtractionReply;
  try {
    reply = { id, article: extractArticle(html, url) };
  } catch (error) {
    reply = { id, error: (error as Error).message };
  }
  parentPort?.postMessage(reply);
});
parentPort?.postMessage({ ready: true });
