/**
 * Article extraction off the event loop. Parsing a page with linkedom and reading it with
 * Readability takes 100–300 ms for a 1 MB page and seconds for 50,000 nested `<div>`s, all of it
 * synchronous: on the main thread the bot would stop answering meanwhile. So pages go to a small
 * pool of worker threads, each page with a time budget; a worker over budget is terminated and
 * replaced, and the page's promise rejects with `ExtractionTimeout` (the caller then falls back to
 * the feed's text).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ExtractedArticle } from "./extract.js";

/** A page sent to a worker. */
export interface ExtractionRequest {
  id: number;
  html: string;
  url: string;
}

/** A worker's message: it has loaded (sent once, first), or its answer to one page. */
export type ExtractionReply = { ready: true } | { id: number; article: ExtractedArticle } | { id: number; error: string };

/** A page whose extraction took longer than the pool's budget and was abandoned. */
export class ExtractionTimeout extends Error {
  override readonly name = "ExtractionTimeout";
}

/** How a pool runs. */
export interface ExtractionPoolOptions {
  /** Worker threads at most (started when first needed). */
  size: number;
  /** Longest time one page may take in a worker, from when the worker is given it. */
  budgetMs: number;
  /** Heap limit of each worker, so a page that explodes in memory takes its worker down, not the process. */
  maxHeapMb?: number;
  /** The worker's script; the pool's own by default. Tests pass another. */
  workerUrl?: URL;
}

interface Task {
  request: ExtractionRequest;
  resolve(article: ExtractedArticle): void;
  reject(error: unknown): void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  /** Loaded and listening: a page's budget starts only then, not while the worker boots. */
  ready: boolean;
  task?: Task;
  timer?: NodeJS.Timeout;
}

/** The worker script next to this module: `extract-worker.ts` when running from source, `.js` in dist/. */
const OWN_WORKER = new URL(import.meta.url.endsWith(".ts") ? "./extract-worker.ts" : "./extract-worker.js", import.meta.url);

/**
 * A worker thread running `script`. Node 20 does not apply tsx's loader (inherited through
 * `--import tsx`) to a worker's entry point, so a TypeScript script is started from a one-line
 * bootstrap that registers tsx first; compiled JavaScript starts as it is.
 */
function startThread(script: URL, options: { resourceLimits: { maxOldGenerationSizeMb: number } }): Worker {
  if (!script.pathname.endsWith(".ts")) return new Worker(script, options);
  // tsx resolved here, next to this module: an eval'd worker would resolve it against the working directory.
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(script.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** Worker threads extracting pages, each page within a time budget. */
export class ExtractionPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: ExtractionPoolOptions) {}

  /** The article of `html` fetched from `url`; rejects with `ExtractionTimeout` past the budget, or with `signal`'s reason. */
  extract(html: string, url: string, signal?: AbortSignal): Promise<ExtractedArticle> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.closed) return Promise.reject(new Error("the extraction pool is closed"));
    return new Promise<ExtractedArticle>((resolve, reject) => {
      const task: Task = { request: { id: this.nextId++, html, url }, resolve, reject, signal };
      if (signal) {
        task.onAbort = () => this.abandon(task, signal.reason);
        signal.addEventListener("abort", task.onAbort, { once: true });
      }
      this.queue.push(task);
      this.dispatch();
    });
  }

  /** Stops every worker; pages not done reject. */
  async close(): Promise<void> {
    this.closed = true;
    for (const task of this.queue.splice(0)) this.settle(task, new Error("the extraction pool is closed"));
    await Promise.all(
      this.slots.splice(0).map((slot) => {
        clearTimeout(slot.timer);
        if (slot.task) this.settle(slot.task, new Error("the extraction pool is closed"));
        return slot.worker.terminate();
      }),
    );
  }

  /** Gives queued pages to idle workers, starting workers up to the pool's size. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const slot = this.slots.find((candidate) => candidate.ready && candidate.task === undefined);
      if (slot === undefined) {
        if (this.slots.every((candidate) => candidate.ready)) this.startWorker();
        return;
      }
      const task = this.queue.shift()!;
      slot.task = task;
      slot.worker.ref();
      slot.timer = setTimeout(() => {
        this.replace(slot, new ExtractionTimeout(`page extraction took over ${this.options.budgetMs} ms; abandoned`));
      }, this.options.budgetMs);
      slot.worker.postMessage(task.request);
    }
  }

  /** Starts one more worker, unless the pool is full; it takes the queue's pages once ready. */
  private startWorker(): void {
    if (this.slots.length >= this.options.size) return;
    const worker = startThread(this.options.workerUrl ?? OWN_WORKER, {
      resourceLimits: { maxOldGenerationSizeMb: this.options.maxHeapMb ?? 512 },
    });
    const slot: Slot = { worker, ready: false };
    worker.on("message", (reply: ExtractionReply) => this.finished(slot, reply));
    worker.on("error", (error) => this.replace(slot, error));
    worker.on("exit", (code) => this.replace(slot, new Error(`extraction worker exited with code ${code}`)));
    this.slots.push(slot);
  }

  private finished(slot: Slot, reply: ExtractionReply): void {
    if ("ready" in reply) {
      slot.ready = true;
      this.dispatch();
      if (slot.task === undefined) slot.worker.unref();
      return;
    }
    const task = slot.task;
    if (task === undefined || task.request.id !== reply.id) return;
    clearTimeout(slot.timer);
    slot.task = undefined;
    if ("article" in reply) this.settle(task, undefined, reply.article);
    else this.settle(task, new Error(reply.error));
    this.dispatch();
    if (slot.task === undefined) slot.worker.unref(); // an idle pool never keeps the process alive
  }

  /** Ends a worker that is over budget, failed or must stop; its page rejects with `error`; a fresh worker takes its place when needed. */
  private replace(slot: Slot, error: unknown): void {
    const index = this.slots.indexOf(slot);
    if (index === -1) return; // already replaced
    this.slots.splice(index, 1);
    clearTimeout(slot.timer);
    slot.worker.removeAllListeners();
    slot.worker.on("error", () => {}); // a late error of a worker being terminated is of no interest
    void slot.worker.terminate();
    if (slot.task) this.settle(slot.task, error);
    // A worker that dies before it is ready cannot run at all (a missing or broken script): the
    // pages waiting fail with its error instead of starting worker after worker.
    if (!slot.ready) for (const task of this.queue.splice(0)) this.settle(task, error);
    if (!this.closed) this.dispatch();
  }

  /** A page given up by its caller: dropped from the queue, or its worker replaced. */
  private abandon(task: Task, reason: unknown): void {
    const queued = this.queue.indexOf(task);
    if (queued !== -1) {
      this.queue.splice(queued, 1);
      this.settle(task, reason);
      return;
    }
    const slot = this.slots.find((candidate) => candidate.task === task);
    if (slot) this.replace(slot, reason);
  }

  private settle(task: Task, error: unknown, article?: ExtractedArticle): void {
    if (task.onAbort) task.signal?.removeEventListener("abort", task.onAbort);
    if (article !== undefined) task.resolve(article);
    else task.reject(error);
  }
}

/** Longest a page may take: far above a real page's 0.1–0.5 s, far below a stalled poll. */
export const EXTRACTION_BUDGET_MS = 5_000;

let shared: ExtractionPool | undefined;

/**
 * The article of a fetched page, extracted in the process's shared pool (one worker per spare
 * core, at least one and at most two; started on first use, idle workers never keep the process alive).
 */
export function extractPage(html: string, url: string, signal?: AbortSignal): Promise<ExtractedArticle> {
  shared ??= new ExtractionPool({ size: Math.max(1, Math.min(2, availableParallelism() - 1)), budgetMs: EXTRACTION_BUDGET_MS });
  return shared.extract(html, url, signal);
}
