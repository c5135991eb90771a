import assert from "node:assert/strict";
import { test } from "node:test";
import { HttpError } from "grammy";
import { createLogger, REDACTED } from "../../src/logging.js";

const TOKEN = "123456:AAE-secret-token_value";

function capture(): { lines: string[]; stream: { write(line: string): void } } {
  const lines: string[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(line) } };
}

test("no secret is written, wherever it hides: an HTTP error's nested cause and stack carry the Bot API URL", () => {
  const { lines, stream } = capture();
  const logger = createLogger("info", [TOKEN, "sk-llm-key", undefined, ""], stream);
  // What grammY gives for a network failure: its HttpError wraps the fetch layer's error, whose
  // message names the URL with the token.
  const cause = new Error(`request to https://api.telegram.org/bot${TOKEN}/sendMessage failed, reason: ECONNRESET`);
  logger.error({ err: new HttpError("Network request for 'sendMessage' failed!", cause), key: "sk-llm-key" }, `call to /bot${TOKEN}/getMe`);
  assert.equal(lines.length, 1);
  assert.ok(!lines[0]!.includes(TOKEN), lines[0]);
  assert.ok(!lines[0]!.includes("sk-llm-key"), lines[0]);
  assert.ok(lines[0]!.includes(REDACTED));
  assert.ok(lines[0]!.includes("ECONNRESET"), "the rest of the message stays");
  assert.equal(JSON.parse(lines[0]!).msg, `call to /bot${REDACTED}/getMe`, "still one JSON line");
});
