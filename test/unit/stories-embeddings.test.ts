/**
 * The embeddings client against a loopback fake of an OpenAI-compatible `/v1/embeddings`
 * server: what it asks, what it makes of the answer, and undefined (with a warning) for every
 * way the server can fail.
 */
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { embeddingsClient, embeddingsUrl, type EmbeddingsOptions } from "../../src/stories/embeddings.js";

interface EmbeddingsRequest {
  url: string;
  headers: IncomingHttpHeaders;
  body: { model: string; input: string[] };
}

type Answer = (res: ServerResponse) => void;

const json = (status: number, body: unknown): Answer => (res) => {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
};

let server: Server;
let origin: string;
let answer: Answer;
const requests: EmbeddingsRequest[] = [];

function client(overrides: Partial<EmbeddingsOptions> = {}) {
  const warnings: Array<{ msg: string; err: string }> = [];
  const logger = pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line)) });
  const embed = embeddingsClient({ url: `${origin}/v1`, model: "embed-model", timeoutMs: 5_000, ...overrides }, logger);
  return { embed, warnings };
}

before(async () => {
  server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      requests.push({ url: req.url ?? "", headers: req.headers, body: JSON.parse(body) });
      answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  requests.length = 0;
  answer = json(200, { data: [] });
});

describe("embeddingsClient", () => {
  test("posts the model and the inputs and returns data[i].embedding in index order", async () => {
    const { embed, warnings } = client({ apiKey: "secret" });
    answer = json(200, {
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
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.url, "/v1/embeddings");
    assert.equal(requests[0]!.headers.authorization, "Bearer secret");
    assert.deepEqual(requests[0]!.body, { model: "embed-model", input: ["Землетрясение на Камчатке", "Earthquake off Japan"] });
    assert.deepEqual(warnings, []);
  });

  test("an HTTP error gives undefined and one warning with the server's words", async () => {
    const { embed, warnings } = client();
    answer = json(404, { error: "model 'embed-model' not found" });
    assert.equal(await embed(["text"]), undefined);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!.err, /HTTP 404 .*not found/);
  });

  test("no answer within the timeout gives undefined", async () => {
    const { embed, warnings } = client({ timeoutMs: 100 });
    answer = (res) => setTimeout(() => json(200, { data: [{ index: 0, embedding: [1] }] })(res), 2_000);
    assert.equal(await embed(["text"]), undefined);
    assert.match(warnings[0]!.err, /no answer within 100 ms/);
  });

  test("an answer without one numeric vector per input gives undefined", async () => {
    const { embed, warnings } = client();
    answer = json(200, { data: [{ index: 0, embedding: [1, 2] }] });
    assert.equal(await embed(["one", "two"]), undefined);
    answer = json(200, { data: [{ index: 0, embedding: ["1"] }] });
    assert.equal(await embed(["one"]), undefined);
    answer = (res) => res.writeHead(200, { "content-type": "text/html" }).end("<html>proxy</html>");
    assert.equal(await embed(["one"]), undefined);
    assert.equal(warnings.length, 3);
  });

  test("the caller's abort rejects instead of falling back", async () => {
    const { embed, warnings } = client();
    answer = (res) => setTimeout(() => json(200, { data: [{ index: 0, embedding: [1] }] })(res), 2_000);
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
