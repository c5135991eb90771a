import { afterEach, describe, mock, test } from "node:test";
import assert from "node:assert/strict";
import { Outbox, type Job } from "../../src/delivery/outbox.js";
import { Sender } from "../../src/delivery/sender.js";
import { StoryMessages } from "../../src/delivery/story-messages.js";
import { Subscribers } from "../../src/delivery/subscribers.js";
import { TelegramBudget } from "../../src/delivery/budget.js";
import type { Item } from "../../src/items/item.js";
import { KeyvStoryItems } from "../../src/stories/story-items.js";
import { runClockUntil } from "../support/fake-clock.js";
import { answers, FAST_LIMITS, makeItem, makeJob, memoryNamespaces, privateTarget, ScriptedTelegram, silentLogger, type ApiRequest } from "../support/builders.js";

const DAY = 24 * 3_600_000;
const running: Sender[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((sender) => sender.stop(100)));
});

/** A sender with stories kept in memory, as main.ts builds it when clustering is on. */
async function setup(namespaces = memoryNamespaces(), before: (outbox: Outbox) => Promise<unknown> = async () => undefined) {
  const telegram = new ScriptedTelegram();
  const subscribers = await Subscribers.open(namespaces.subscribers);
  const outbox = await Outbox.open(namespaces.outbox);
  const items = new KeyvStoryItems(namespaces.stories, 4 * DAY);
  const messages = new StoryMessages(namespaces.stories, 4 * DAY, silentLogger);
  const sender = new Sender({ api: telegram.api(), outbox, subscribers, logger: silentLogger, budget: new TelegramBudget(FAST_LIMITS), stories: { items, messages } });
  running.push(sender);
  await outbox.startSending(() => sender.deliveriesReady());
  await before(outbox);
  sender.start();
  /** Accepts items as the poller does: stored as stories' items, then one job each. */
  const deliver = async (jobs: Job[]) => {
    await items.add(jobs.map((job) => (job.payload as { item: Item }).item));
    await outbox.enqueue(jobs);
    await sender.idle();
  };
  return { telegram, sender, outbox, deliver, messages, items, namespaces };
}

/** Three sources of one story: the first its founder, the others joined to it. */
function oneStory() {
  const tass = makeItem({ source: "TASS", feedId: "tass", link: "https://tass.example/1" });
  const ria = makeItem({ source: "RIA", feedId: "ria", link: "https://ria.example/1", storyId: tass.key });
  const lenta = makeItem({ source: "Lenta", feedId: "lenta", link: "https://lenta.example/1", storyId: tass.key });
  return { tass: { ...tass, storyId: tass.key }, ria, lenta };
}

const edits = (telegram: ScriptedTelegram) => telegram.calls("editMessageText");
const textOf = (request: ApiRequest | undefined) => String(request?.params.text);

describe("Sender: stories", () => {
  test("a later source of a story edits the chat's message to name it, instead of sending another", async () => {
    const { telegram, deliver } = await setup();
    const { tass, ria, lenta } = oneStory();
    await deliver([makeJob([privateTarget(1)], tass)]);
    await deliver([makeJob([privateTarget(1)], ria)]);
    await deliver([makeJob([privateTarget(1)], lenta)]);

    assert.equal(telegram.calls("sendMessage").length, 1, "one message in the chat");
    const [first, second] = edits(telegram);
    assert.equal(second?.params.message_id, telegram.calls("sendMessage").length, "the message sent is the one edited");
    assert.match(textOf(first), /Also in: <a href="https:\/\/ria\.example\/1">RIA<\/a>$/m);
    assert.match(textOf(second), /Also in: <a href="https:\/\/ria\.example\/1">RIA<\/a>, <a href="https:\/\/lenta\.example\/1">Lenta<\/a>/);
    assert.match(textOf(second), new RegExp(tass.title), "still the first source's message");
    assert.equal(second?.params.parse_mode, "HTML");
  });

  test("a chat that holds nothing of the story gets the later source as a message of its own", async () => {
    const { telegram, deliver } = await setup();
    const { tass, ria } = oneStory();
    await deliver([makeJob([privateTarget(1)], tass)]);
    await deliver([makeJob([privateTarget(1), privateTarget(2)], ria)]);
    assert.deepEqual(telegram.calls("sendMessage").map((request) => request.params.chat_id), [1, 2]);
    assert.match(telegram.texts(2)[0]!, new RegExp(ria.title));
    assert.deepEqual(edits(telegram).map((request) => request.params.chat_id), [1]);
  });

  test("a later source sent first is the chat's message, and the first source then edits it", async () => {
    const { telegram, deliver } = await setup();
    const { tass, ria } = oneStory();
    await deliver([makeJob([privateTarget(1)], ria)]);
    await deliver([makeJob([privateTarget(1)], tass)]);
    assert.equal(telegram.calls("sendMessage").length, 1);
    assert.match(textOf(edits(telegram)[0]), /Also in: <a href="https:\/\/tass\.example\/1">TASS<\/a>/);
    assert.match(textOf(edits(telegram)[0]), new RegExp(ria.title));
  });

  test("a message Telegram will not edit any more (deleted) gives way to a message of its own", async () => {
    const { telegram, deliver } = await setup();
    const { tass, ria } = oneStory();
    await deliver([makeJob([privateTarget(1)], tass)]);
    telegram.once((request) => request.method === "editMessageText", answers.badRequest("Bad Request: message to edit not found"));
    await deliver([makeJob([privateTarget(1)], ria)]);
    assert.equal(telegram.calls("sendMessage").length, 2);
    assert.match(telegram.texts(1)[1]!, new RegExp(ria.title));
  });

  test("'message is not modified' counts as the edit made; a source repeated (a retry) edits nothing", async () => {
    const { telegram, deliver, outbox } = await setup();
    const { tass, ria } = oneStory();
    await deliver([makeJob([privateTarget(1)], tass)]);
    telegram.once((request) => request.method === "editMessageText", answers.badRequest("Bad Request: message is not modified: specified new message content and reply markup are exactly the same"));
    await deliver([makeJob([privateTarget(1)], ria)]);
    assert.deepEqual(outbox.size, { jobs: 0, deliveries: 0 });
    // The same source again, as after a crash before its delivery was recorded done.
    await deliver([{ ...makeJob([privateTarget(1)], ria), id: `${ria.key}#again` }]);
    assert.equal(edits(telegram).length, 1);
    assert.equal(telegram.calls("sendMessage").length, 1);
  });

  test("what a chat holds outlives the sender: after a restart a later source still edits", async () => {
    const namespaces = memoryNamespaces();
    const first = await setup(namespaces);
    const { tass, ria } = oneStory();
    await first.deliver([makeJob([privateTarget(1)], tass)]);
    await first.sender.stop(100);
    const second = await setup(namespaces);
    await second.deliver([makeJob([privateTarget(1)], ria)]);
    assert.equal(second.telegram.calls("sendMessage").length, 0);
    assert.equal(edits(second.telegram)[0]?.params.message_id, 1);
  });

  test("a store that fails while a later source looks up the chat's message: the delivery waits and is made once the store works", async (t) => {
    // A fake clock from before the budget exists (its bucket starts at the clock's time).
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 });
    t.after(() => mock.timers.reset());
    const { telegram, messages, items, outbox, sender } = await setup();
    const { tass, ria } = oneStory();
    await items.add([tass, ria]);
    await outbox.enqueue([makeJob([privateTarget(1)], tass)]);
    await runClockUntil(() => outbox.size.deliveries === 0 && sender.queued === 0);
    const held = messages.held.bind(messages);
    let failures = 0;
    messages.held = async (...args) => {
      if (failures++ < 2) throw new Error("store down");
      return held(...args);
    };
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    t.after(() => process.off("unhandledRejection", onUnhandled));
    await outbox.enqueue([makeJob([privateTarget(1)], ria)]);
    await runClockUntil(() => outbox.size.deliveries === 0 && sender.queued === 0);
    assert.deepEqual(unhandled, []);
    assert.equal(failures, 3, "tried again after each failure, not in a tight loop");
    assert.equal(edits(telegram).length, 1);
    assert.equal(telegram.calls("sendMessage").length, 1);
  });

  test("after a restart, a first source still queued for a chat that got a later one before edits that message", async () => {
    const namespaces = memoryNamespaces();
    const first = await setup(namespaces);
    const { tass, ria } = oneStory();
    await first.deliver([makeJob([privateTarget(1)], ria)]);
    await first.sender.stop(100);
    // The first source's job, found in the outbox at the next start (its later source's job is done).
    const second = await setup(namespaces, async (outbox) => {
      await new KeyvStoryItems(namespaces.stories, 4 * DAY).add([tass]);
      await outbox.enqueue([makeJob([privateTarget(1)], tass)]);
    });
    await second.sender.idle();
    assert.equal(second.telegram.calls("sendMessage").length, 0, "no second message of the story");
    assert.match(textOf(edits(second.telegram)[0]), /Also in: <a href="https:\/\/tass\.example\/1">TASS<\/a>/);
  });

  test("items without a story are sent as before, and record nothing", async () => {
    const { telegram, deliver, namespaces } = await setup();
    await deliver([makeJob([privateTarget(1)], makeItem())]);
    assert.equal(telegram.calls("sendMessage").length, 1);
    const held: Array<[string, unknown]> = [];
    for await (const entry of namespaces.stories.iterator!(undefined)) held.push(entry as [string, unknown]);
    assert.equal(held.filter(([key]) => String(key).startsWith("message:")).length, 0);
  });
});
