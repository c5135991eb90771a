/**
 * Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint (a local llama.cpp or Ollama
 * server, or a hosted API), for story clustering. Like the LLM summariser, the model is an
 * improvement, never a dependency: on any failure (timeout, HTTP error, bad JSON, a missing or
 * malformed vector) the answer is undefined, with one warning in the log, and stories are matched
 * on words alone.
 */
import type { Logger } from "pino";
import { askModel, type ModelEndpoint } from "../summaries/model-request.js";

export interface EmbeddingsOptions extends ModelEndpoint {
  /** An API base such as `http://127.0.0.1:11434/v1`, a bare origin, or the full `…/embeddings` URL. */
  url: string;
  /** The model name the server knows, e.g. `nomic-embed-text`. */
  model: string;
}

/** The vectors for `inputs`, in order, or undefined when the model cannot give them all. */
export type Embedder = (inputs: readonly string[], signal?: AbortSignal) => Promise<number[][] | undefined>;

/** As chatCompletionsUrl: a full URL as given, an API base + `/embeddings`, an origin + `/v1/embeddings`. */
export function embeddingsUrl(url: string): string {
  const endpoint = new URL(url);
  const path = endpoint.pathname.replace(/\/+$/u, "");
  if (!path.endsWith("/embeddings")) endpoint.pathname = `${path === "" ? "/v1" : path}/embeddings`;
  return endpoint.href;
}

/**
 * `data[i].embedding` for every input, ordered by `data[i].index` when the server gives it (the
 * API allows any order).
 * @throws Error saying what is wrong when the answer is not a list of one numeric vector per input.
 */
function answerVectors(answer: unknown, count: number, endpoint: string): number[][] {
  const data = (answer as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length !== count) throw new Error(`the answer from ${endpoint} has no data list of ${count} embeddings: is it an embeddings API?`);
  const vectors: number[][] = new Array(count);
  data.forEach((entry: { index?: unknown; embedding?: unknown }, position) => {
    const at = typeof entry?.index === "number" ? entry.index : position;
    const vector = entry?.embedding;
    if (!Array.isArray(vector) || vector.length === 0 || !vector.every((value) => typeof value === "number" && Number.isFinite(value))) {
      throw new Error(`the answer from ${endpoint} has no numeric embedding at data[${position}]`);
    }
    vectors[at] = vector;
  });
  if (vectors.some((vector) => vector === undefined)) throw new Error(`the answer from ${endpoint} repeats or skips an index`);
  return vectors;
}

/** One request; rejects with a one-line reason on any failure. */
async function askVectors(endpoint: string, options: EmbeddingsOptions, inputs: readonly string[], signal: AbortSignal | undefined): Promise<number[][]> {
  const answer = await askModel(endpoint, options, { model: options.model, input: inputs }, signal);
  return answerVectors(answer, inputs.length, endpoint);
}

/**
 * An embedder that asks the endpoint for all inputs in one request and answers undefined on any
 * failure, logging the reason once at warn. Rejects only when `signal` aborts.
 */
export function embeddingsClient(options: EmbeddingsOptions, logger: Logger): Embedder {
  const endpoint = embeddingsUrl(options.url);
  return async (inputs, signal) => {
    if (inputs.length === 0) return [];
    try {
      return await askVectors(endpoint, options, inputs, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      logger.warn({ model: options.model, err: (error as Error).message }, "embeddings failed; stories are matched on words alone");
      return undefined;
    }
  };
}
