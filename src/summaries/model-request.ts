/**
 * One JSON request to an OpenAI-compatible model endpoint (chat completions for summaries,
 * embeddings for stories): a deadline, the caller's abort, and a one-line reason for every
 * failure, in the words an operator can act on. What the answer must hold is the caller's.
 */
import { describeCause } from "../feeds/fetch.js";
import { normaliseSpaces } from "./html-text.js";

/** How to reach a model endpoint. */
export interface ModelEndpoint {
  /** Sent as `Authorization: Bearer …` when set (hosted APIs; local servers need none). */
  apiKey?: string;
  /** Deadline for the whole request, answer included. */
  timeoutMs: number;
}

/**
 * POSTs `request` as JSON to `endpoint` and resolves with the parsed answer; rejects with a
 * one-line reason on any failure, or with the abort when `signal` aborts.
 */
export async function askModel(endpoint: string, options: ModelEndpoint, request: unknown, signal: AbortSignal | undefined): Promise<unknown> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  let response: Response;
  let body: string;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      },
      body: JSON.stringify(request),
      signal: signal ? AbortSignal.any([deadline, signal]) : deadline,
    });
    body = await response.text();
  } catch (error) {
    if (signal?.aborted) throw error;
    if (deadline.aborted) throw new Error(`no answer within ${options.timeoutMs} ms from ${endpoint}`);
    throw new Error(`network error from ${endpoint}: ${describeCause(error)}`);
  }
  // The server's own words (Ollama: "model 'x' not found") tell the operator what to fix.
  if (!response.ok) throw new Error(`HTTP ${response.status} from ${endpoint}: ${normaliseSpaces(body).slice(0, 200)}`);
  try {
    return JSON.parse(body);
  } catch {
    // A web page (a UI or proxy at that URL) is the usual cause: show its start.
    throw new Error(`the answer from ${endpoint} is not JSON: ${normaliseSpaces(body).slice(0, 200)}`);
  }
}
