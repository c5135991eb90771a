import { test, describe, after, before } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { Api, GrammyError } from "grammy";
import type { Update } from "grammy/types";
import { startFakeTelegram, type FakeTelegram } from "../support/fake-telegram.js";

/** A webhook receiver answering `status()`; keeps what it got. */
interface Received {
  secret: string | undefined;
  update: Update;
}

describe("fake Telegram webhooks", () => {
  let fake: FakeTelegram;
  let api: Api;
  let receiver: Server;
  let url: string;
  let status = 200;
  const received: Received[] = [];

  before(async () => {
    fake = await startFakeTelegram();
    api = new Api(fake.token, { apiRoot: fake.apiRoot });
    receiver = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const secret = req.headers["x-telegram-bot-api-secret-token"];
      received.push({ secret: typeof secret === "string" ? secret : undefined, update: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Update });
      res.writeHead(status).end();
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
  });
  after(async () => {
    await fake.close();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  test("while a webhook is set, updates are POSTed with the secret token and getUpdates answers 409", async () => {
    assert.equal(await api.setWebhook(url, { secret_token: "s3cret", drop_pending_updates: false }), true);
    assert.deepEqual(fake.webhook, { url, secretToken: "s3cret" });
    const info = await api.getWebhookInfo();
    assert.equal(info.url, url);
    assert.equal(info.pending_update_count, 0);

    const update = fake.sendText(42, "/start");
    const delivery = await fake.waitForDelivery((d) => d.update_id === update.update_id);
    assert.equal(delivery.status, 200);
    assert.deepEqual(received.at(-1), { secret: "s3cret", update });

    const conflict = await api.getUpdates({ timeout: 0 }).catch((error: unknown) => error);
    assert.ok(conflict instanceof GrammyError);
    assert.equal(conflict.error_code, 409);
    assert.match(conflict.description, /can't use getUpdates method while webhook is active/);
  });

  test("an update the webhook does not accept is kept and retried, in order", async () => {
    status = 500;
    const first = fake.sendText(43, "one");
    const second = fake.sendText(43, "two");
    await fake.waitForDelivery((d) => d.update_id === first.update_id && d.status === 500);
    assert.equal((await api.getWebhookInfo()).pending_update_count, 2);
    assert.match((await api.getWebhookInfo()).last_error_message ?? "", /500/);
    status = 200;
    await fake.waitForDelivery((d) => d.update_id === second.update_id && d.status === 200);
    const order = received.filter((r) => r.update.message?.chat.id === 43).map((r) => r.update.message?.text);
    assert.deepEqual(order.filter((text, index) => text !== order[index - 1]), ["one", "two"], "retried in order, never overtaken");
    assert.equal(fake.webhookDeliveries.filter((d) => d.update_id === first.update_id && d.status === 200).length, 1);
  });

  test("postToWebhook sends any secret (or none), as a stranger could", async () => {
    const stranger: Update = { update_id: 77, message: { message_id: 1, date: 0, chat: { id: 5, type: "private", first_name: "X" }, from: { id: 5, is_bot: false, first_name: "X" }, text: "hi" } };
    assert.equal(await fake.postToWebhook(stranger, undefined), 200);
    assert.equal(received.at(-1)?.secret, undefined);
    assert.equal(await fake.postToWebhook(stranger, "guess"), 200);
    assert.equal(received.at(-1)?.secret, "guess");
  });

  test("a secret token outside Telegram's characters is refused", async () => {
    const error = await api.setWebhook(url, { secret_token: "not allowed!" }).catch((e: unknown) => e);
    assert.ok(error instanceof GrammyError);
    assert.equal(error.error_code, 400);
  });

  test("deleteWebhook returns to long polling; pending updates wait for getUpdates", async () => {
    await api.deleteWebhook();
    assert.equal(fake.webhook, undefined);
    assert.equal((await api.getWebhookInfo()).url, "");
    const update = fake.sendText(44, "/help");
    const updates = await api.getUpdates({ timeout: 0 });
    assert.deepEqual(updates.map((u) => u.update_id), [update.update_id]);
  });
});
