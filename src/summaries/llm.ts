/**
 * Summaries by a language model behind an OpenAI-compatible chat-completions endpoint (a local
 * llama.cpp or Ollama server, or a hosted API). The model is an improvement, never a dependency:
 * any failure (timeout, HTTP error, bad JSON, an empty or wrong-language answer) gives the
 * fallback's summary instead, with one warning in the log.
 */
import type { Logger } from "pino";
import { detectLanguage, type Language } from "../text/words.js";
import { normaliseSpaces } from "./html-text.js";
import { askModel, type ModelEndpoint } from "./model-request.js";
import { clip } from "../text/clip.js";
import { DEFAULT_SUMMARY_CHARS, extractiveSummarizer, isTitleRepeated, type Summarizer, type SummaryInput } from "./summarize.js";

/** Where and how to ask the model. */
export interface LlmSummarizerOptions extends ModelEndpoint {
  /**
   * The endpoint: an API base such as `http://127.0.0.1:11434/v1` (Ollama) or
   * `http://127.0.0.1:8080/v1` (llama.cpp), or the full `…/v1/chat/completions` URL.
   */
  url: string;
  /** The model name the server knows, e.g. `qwen2.5:7b-instruct`. */
  model: string;
}

/**
 * The article text sent to the model, in characters. News puts what matters first, and local
 * servers often run with a 2,048–4,096-token context that a longer prompt would overflow.
 */
const MAX_INPUT_CHARS = 4_000;

/** Room for a 600-character answer in any tokenizer (Cyrillic takes the most tokens). */
const MAX_ANSWER_TOKENS = 400;

/** Low but not zero: faithful wording without the loops greedy decoding falls into. */
const TEMPERATURE = 0.2;

/** The instruction, written in the article's language: small models answer in the prompt's language. */
const PROMPTS: Record<Language, string> = {
  en:
    `Summarise the news article below in English, in a few sentences, at most ${DEFAULT_SUMMARY_CHARS} characters. ` +
    "Be faithful to the article: no facts, opinions or guesses of your own. " +
    "Answer with the summary only, as plain text: no preamble, no title, no lists, no markup.",
  ru:
    `Перескажи новостную статью ниже на русском языке в нескольких предложениях, не длиннее ${DEFAULT_SUMMARY_CHARS} знаков. ` +
    "Только то, что сказано в статье: без своих фактов, мнений и догадок. " +
    "Ответь только самим пересказом, простым текстом: без вступления, заголовка, списков и разметки.",
};

/** Reasoning models (Qwen3, DeepSeek-R1) may put their thinking before the answer. */
const THINKING = /<think>[\s\S]*?<\/think>/giu;

/**
 * The chat-completions URL for a configured endpoint: a full `…/chat/completions` URL is used as
 * given, an API base gets `/chat/completions` appended, and a bare origin gets
 * `/v1/chat/completions` (where llama.cpp, Ollama and OpenAI all serve it).
 */
export function chatCompletionsUrl(url: string): string {
  const endpoint = new URL(url);
  const path = endpoint.pathname.replace(/\/+$/u, "");
  if (!path.endsWith("/chat/completions")) endpoint.pathname = `${path === "" ? "/v1" : path}/chat/completions`;
  return endpoint.href;
}

/** The request body: the instruction in the article's language, then the title and the text. */
function chatRequest(input: SummaryInput, language: Language, model: string): object {
  return {
    model,
    messages: [
      { role: "system", content: PROMPTS[language] },
      { role: "user", content: `${input.title}\n\n${clip(input.text, MAX_INPUT_CHARS)}` },
    ],
    temperature: TEMPERATURE,
    max_tokens: MAX_ANSWER_TOKENS,
    stream: false,
  };
}

/**
 * The summary in a chat-completions answer: `choices[0].message.content` without any thinking,
 * on one line, cut at a word boundary to 600 characters.
 * @throws Error saying what is wrong when there is no content, it is empty, it is not in
 * `language`, or it only repeats the title.
 */
function answerSummary(answer: unknown, input: SummaryInput, language: Language, endpoint: string): string {
  const content = (answer as { choices?: Array<{ message?: { content?: unknown } }> } | null)?.choices?.[0]?.message?.content;
  if (typeof content !== "string") throw new Error(`the answer from ${endpoint} has no choices[0].message.content: is it a chat-completions API?`);
  const summary = normaliseSpaces(content.replace(THINKING, " "));
  if (summary === "") throw new Error(`the answer from ${endpoint} is empty`);
  if (detectLanguage(summary) !== language) throw new Error(`the answer from ${endpoint} is not in the article's language (${language})`);
  if (isTitleRepeated(summary, input.title)) throw new Error(`the answer from ${endpoint} only repeats the title`);
  return clip(summary, DEFAULT_SUMMARY_CHARS);
}

/** One request to the model; rejects with a one-line reason on any failure. */
async function askSummary(
  endpoint: string,
  options: LlmSummarizerOptions,
  input: SummaryInput,
  language: Language,
  signal: AbortSignal | undefined,
): Promise<string> {
  const answer = await askModel(endpoint, options, chatRequest(input, language, options.model), signal);
  return answerSummary(answer, input, language, endpoint);
}

/**
 * A summariser that asks the model for a summary in the article's language and returns
 * `fallback`'s summary when that fails, logging the reason once at warn. Items whose text
 * already fits a summary (600 characters) are not sent: the fallback passes them through whole.
 * Rejects only when `signal` aborts.
 */
export function llmSummarizer(options: LlmSummarizerOptions, fallback: Summarizer, logger: Logger): Summarizer {
  const endpoint = chatCompletionsUrl(options.url);
  return async (input, signal) => {
    if (normaliseSpaces(input.text).length <= DEFAULT_SUMMARY_CHARS) return fallback(input, signal);
    try {
      return await askSummary(endpoint, options, input, detectLanguage(`${input.title}\n${input.text}`), signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      logger.warn({ model: options.model, err: (error as Error).message }, "LLM summary failed; using the extractive summary");
      return fallback(input, signal);
    }
  };
}

/** The summariser settings ask for: the model with the extractive fallback when given, else extractive. */
export function configuredSummarizer(options: LlmSummarizerOptions | undefined, logger: Logger): Summarizer {
  return options ? llmSummarizer(options, extractiveSummarizer, logger) : extractiveSummarizer;
}
