/**
 * The LLM summariser against a loopback fake of an OpenAI-compatible chat-completions server:
 * what it asks (endpoint, model, language, key), what it makes of the answer, and the extractive
 * fallback for every way the model can fail.
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chatCompletionsUrl, configuredSummarizer, llmSummarizer, type LlmSummarizerOptions } from "../../src/summaries/llm.js";
import { extractiveSummarizer, summarize } from "../../src/summaries/summarize.js";
import { json, startModelServer, warningsLogger, type Answer, type ModelServer } from "../support/model-server.js";

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/summaries/${name}`, import.meta.url), "utf8");
const EN = { title: "Elm Street bridge to close to cars", text: fixture("article-en.txt") };
const RU = { title: "Речной мост закроют для автомобилей", text: fixture("article-ru.txt") };

type ChatRequestBody = { model: string; messages: Array<{ role: string; content: string }>; stream?: boolean };

const completion = (content: string): Answer => json(200, { choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }] });

let model: ModelServer<ChatRequestBody>;

/** A summariser against the fake, with its warnings collected. */
function summarizer(overrides: Partial<LlmSummarizerOptions> = {}) {
  const { logger, warnings } = warningsLogger();
  const summarise = llmSummarizer({ url: `${model.origin}/v1`, model: "test-model", timeoutMs: 5_000, ...overrides }, extractiveSummarizer, logger);
  return { summarise, warnings };
}

before(async () => {
  model = await startModelServer(completion(""));
});

after(() => model.close());

beforeEach(() => {
  model.requests.length = 0;
  model.answer = completion("");
});

describe("llmSummarizer", () => {
  test("asks the chat-completions endpoint and returns the model's summary", async () => {
    const { summarise, warnings } = summarizer({ apiKey: "secret-key" });
    model.answer = completion("  Port Alder will close the Elm Street bridge to cars on March 1.\n\nIt will reopen next year for pedestrians, cyclists and trams.  ");
    const summary = await summarise(EN);

    assert.equal(summary, "Port Alder will close the Elm Street bridge to cars on March 1. It will reopen next year for pedestrians, cyclists and trams.");
    assert.equal(model.requests.length, 1);
    const [request] = model.requests;
    assert.equal(request!.url, "/v1/chat/completions");
    assert.equal(request!.headers.authorization, "Bearer secret-key");
    assert.equal(request!.body.model, "test-model");
    assert.equal(request!.body.stream, false);
    const [system, user] = request!.body.messages;
    assert.equal(system!.role, "system");
    assert.match(system!.content, /in English/);
    assert.match(system!.content, /600 characters/);
    assert.match(system!.content, /no preamble/);
    assert.equal(user!.role, "user");
    assert.ok(user!.content.startsWith(`${EN.title}\n\nThe city of Port Alder will close`), user!.content);
    assert.deepEqual(warnings, []);
  });

  test("a Russian article: the request asks for Russian, the Russian answer is kept", async () => {
    const { summarise } = summarizer();
    model.answer = completion("В Нижнеозёрске с сентября закроют для машин Речной мост, весной он откроется для пешеходов и трамваев.");
    const summary = await summarise(RU);

    assert.equal(summary, "В Нижнеозёрске с сентября закроют для машин Речной мост, весной он откроется для пешеходов и трамваев.");
    const system = model.requests[0]!.body.messages[0]!.content;
    assert.match(system, /на русском языке/);
    assert.doesNotMatch(system, /English/);
    assert.equal(model.requests[0]!.headers.authorization, undefined, "no key, no Authorization header");
  });

  test("an over-long answer is cut at a word boundary to 600 characters", async () => {
    const { summarise } = summarizer();
    const long = Array.from({ length: 40 }, (_, i) => `The bridge inspection found corroded beam number ${i + 1}.`).join(" ");
    model.answer = completion(long);
    const summary = await summarise(EN);

    assert.ok(summary.length <= 600, `${summary.length} characters`);
    assert.ok(summary.length > 500, "not cut far short");
    assert.ok(summary.endsWith("…"), summary);
    const kept = summary.slice(0, -1);
    assert.ok(long.startsWith(kept), "a prefix of the answer");
    assert.match(long.slice(kept.length), /^[\s,.]/, "cut between words");
  });

  test("reasoning before the answer is dropped", async () => {
    const { summarise } = summarizer();
    model.answer = completion("<think>The user wants a summary of the bridge story.</think>\nThe Elm Street bridge closes to cars on March 1.");
    assert.equal(await summarise(EN), "The Elm Street bridge closes to cars on March 1.");
  });

  describe("falls back to the extractive summary, with one warning", () => {
    const failures: Array<[string, Answer | "hang", RegExp]> = [
      ["HTTP 500", (res) => res.writeHead(500, { "content-type": "text/plain" }).end("model crashed"), /HTTP 500 .*model crashed/],
      ["HTTP 404 (unknown model)", json(404, { error: "model 'test-model' not found" }), /HTTP 404/],
      ["malformed JSON", (res) => res.writeHead(200, { "content-type": "application/json" }).end('{"choices": [{"message": '), /not JSON/],
      ["JSON without choices", json(200, { object: "chat.completion", choices: [] }), /no choices\[0\]\.message\.content/],
      ["an empty answer", completion(" \n "), /empty/],
      ["an answer in another language", completion("Мост на Элм-стрит закроют для машин первого марта."), /language \(en\)/],
      ["an answer that only repeats the title", completion("Elm Street bridge to close to cars!"), /only repeats the title/],
      ["no answer before the timeout", "hang", /no answer within 300 ms/],
    ];
    for (const [name, failure, reason] of failures) {
      test(name, async () => {
        const { summarise, warnings } = summarizer({ timeoutMs: 300 });
        model.answer = failure === "hang" ? () => {} : failure;
        const summary = await summarise(EN);

        assert.equal(summary, summarize(EN.text));
        assert.equal(model.requests.length, 1);
        assert.equal(warnings.length, 1, JSON.stringify(warnings));
        assert.equal(warnings[0]!.msg, "LLM summary failed; using the extractive summary");
        assert.match(warnings[0]!.err, reason);
      });
    }

    test("a server that is not there", async () => {
      const { summarise, warnings } = summarizer({ url: "http://127.0.0.1:1/v1" });
      assert.equal(await summarise(RU), summarize(RU.text));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!.err, /network error/);
    });
  });

  test("a text that already fits a summary is not sent to the model", async () => {
    const { summarise } = summarizer();
    const short = { title: "Pier reopens", text: "The pier reopened on Monday after repairs." };
    assert.equal(await summarise(short), "The pier reopened on Monday after repairs.");
    assert.equal(model.requests.length, 0);
  });

  test("stopping newswire aborts the request instead of falling back", async () => {
    const { summarise, warnings } = summarizer();
    model.answer = () => {};
    const stop = new AbortController();
    const pending = summarise(EN, stop.signal);
    while (model.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    stop.abort(new Error("stopping"));
    await assert.rejects(pending, /stopping/);
    assert.deepEqual(warnings, []);
  });
});

describe("chatCompletionsUrl", () => {
  test("accepts an API base, a full URL or a bare origin", () => {
    assert.equal(chatCompletionsUrl("http://127.0.0.1:11434/v1"), "http://127.0.0.1:11434/v1/chat/completions");
    assert.equal(chatCompletionsUrl("http://127.0.0.1:8080/v1/"), "http://127.0.0.1:8080/v1/chat/completions");
    assert.equal(chatCompletionsUrl("https://api.example/v1/chat/completions"), "https://api.example/v1/chat/completions");
    assert.equal(chatCompletionsUrl("http://127.0.0.1:8080"), "http://127.0.0.1:8080/v1/chat/completions");
    assert.equal(chatCompletionsUrl("https://gateway.example/openai/v1?api-version=1"), "https://gateway.example/openai/v1/chat/completions?api-version=1");
  });
});

describe("configuredSummarizer", () => {
  test("without settings it is the extractive summariser", () => {
    assert.equal(configuredSummarizer(undefined, warningsLogger().logger), extractiveSummarizer);
  });
});
