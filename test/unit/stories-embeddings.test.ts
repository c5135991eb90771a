/**
 * The embeddings client against a loopback fake of an OpenAI-compatible `/v1/embeddings`
 * server: what it asks, what it makes of the answer, and undefined (with a warning) for every
 * way the server can fail.
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { embeddingsClient, embeddingsUrl, type EmbeddingsOptions } from "../../src/stories/embeddings.js";
import { json, startModelServer, warningsLogger, type ModelServer } from "../support/model-server.js";

type EmbeddingsRequestBody = { model: string; input: string[] };


let model: ModelServer<EmbeddingsRequestBody>;

function client(overrides: Partial<EmbeddingsOptions> = {}) {
  const { logger, warnings } = warningsLogger();
  const embed = embeddingsClient({ url: `${model.origin}/v1`, model: "embed-model", timeoutMs: 5_000, ...overrides }, logger);
  return { embed, warnings };
}

before(async () => {
  model = await startModelServer(json(200, { data: [] }));
});

after(() => model.close());

beforeEach(() => {
  model.requests.length = 0;
  model.answer = json(200, { data: [] });
});

describe("embeddingsClient", () => {
  test("posts the model and the inputs and returns data[i].embedding in index order", async () => {
    const { embed, warnings } = client({ apiKey: "secret" });
    model.answer = json(200, {
      object: "list",
      data: [
        { object: "embedding", index: 1, embedding: [0, 1] },
        { object: "embedding", index: 0, embedding: [0.5, -0.25] },
      ],
    });
    const vectors = await embed(["Землетрясение на Камчатке", "Earthquake off Japan"]);
    assert.deepEqual(vectors, [
      [0.5, -0.25],
      [0, 1],
    ]);
    assert.equal(model.requests.length, 1);
    assert.equal(model.requests[0]!.url, "/v1/embeddings");
    assert.equal(model.requests[0]!.headers.authorization, "Bearer secret");
    assert.deepEqual(model.requests[0]!.body, { model: "embed-model", input: ["Землетрясение на Камчатке", "Earthquake off Japan"] });
    assert.deepEqual(warnings, []);
  });

  test("an HTTP error gives undefined and one warning with the server's words", async () => {
    const { embed, warnings } = client();
    model.answer = json(404, { error: "model 'embed-model' not found" });
    assert.equal(await embed(["text"]), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.err, /HTTP 404 .*not found/);
  });

  test("no answer within the timeout gives undefined", async () => {
    const { embed, warnings } = client({ timeoutMs: 100 });
    model.answer = (res) => setTimeout(() => json(200, { data: [{ index: 0, embedding: [1] }] })(res), 2_000);
    assert.equal(await embed(["text"]), undefined);
    assert.match(warnings[0]!.err, /no answer within 100 ms/);
  });

  test("an answer without one numeric vector per input gives undefined", async () => {
    const { embed, warnings } = client();
    model.answer = json(200, { data: [{ index: 0, embedding: [1, 2] }] });
    assert.equal(await embed(["one", "two"]), undefined);
    model.answer = json(200, { data: [{ index: 0, embedding: ["1"] }] });
    assert.equal(await embed(["one"]), undefined);
    model.answer = (res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>proxy</html>");
    assert.equal(await embed(["one"]), undefined);
    assert.equal(warnings.length, 3);
  });

  test("the caller's abort rejects instead of falling back", async () => {
    const { embed, warnings } = client();
    model.answer = (res) => setTimeout(() => json(200, { data: [{ index: 0, embedding: [1] }] })(res), 2_000);
    const controller = new AbortController();
    const pending = embed(["text"], controller.signal);
    controller.abort(new Error("shutting down"));
    await assert.rejects(pending, /shutting down/);
    assert.deepEqual(warnings, []);
  });
});

describe("embeddingsUrl", () => {
  test("completes a base or an origin, and keeps a full URL", () => {
    assert.equal(embeddingsUrl("http://127.0.0.1:11434/v1"), "http://127.0.0.1:11434/v1/embeddings");
    assert.equal(embeddingsUrl("http://127.0.0.1:8080"), "http://127.0.0.1:8080/v1/embeddings");
    assert.equal(embeddingsUrl("https://api.example.com/v1/embeddings"), "https://api.example.com/v1/embeddings");
  });
});
