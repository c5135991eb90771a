import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { addressItem } from "../../src/delivery/dispatch.js";
import type { Target } from "../../src/delivery/outbox.js";
import type { Subscriber } from "../../src/delivery/subscribers.js";
import { makeItem } from "../support/builders.js";

const subscriber = (chatId: number, kind: Subscriber["kind"], topics: string[], extra: Partial<Subscriber> = {}): Subscriber => ({
  chatId,
  kind,
  topics,
  since: 0,
  ...extra,
});

/** A target as `[chatId, forward]`, the two things addressing decides. */
const brief = (target: Target) => [target.chatId, target.forward === true] as const;

// An item about China (and science); `all` is always among an item's topics.
const item = makeItem({ topics: ["all", "china", "science"] });

describe("addressItem", () => {
  test("without a home channel every subscriber gets a plain target of its own", () => {
    const subscribers = [
      subscriber(1, "private", ["china"], { language: "ru" }),
      subscriber(-100, "supergroup", ["science"], { threadId: 7 }),
      subscriber(-1001, "channel", ["china"], { linkedBy: 1 }),
      subscriber(2, "private", ["all"]),
    ];
    const { targets, homeIndex } = addressItem(item, subscribers);
    assert.equal(homeIndex, undefined);
    assert.deepEqual(targets.map(brief), [
      [1, false],
      [-100, false],
      [-1001, false],
      [2, false],
    ]);
    assert.ok(targets.every((target) => !("forward" in target)), "no forward flag at all");
    // What the sender needs to address, pace and word each message is carried over.
    assert.equal(targets[0]!.language, "ru");
    assert.equal(targets[1]!.threadId, 7);
    assert.equal(targets[1]!.kind, "supergroup");
    assert.equal(targets[2]!.kind, "channel");
  });

  test("a home channel of the item's topic is posted to first; that topic's readers get forwards", () => {
    const home = subscriber(-1009, "channel", ["china"], { home: true });
    const subscribers = [
      subscriber(1, "private", ["china"]),
      subscriber(2, "private", ["science"]), // only another topic of the item
      subscriber(-100, "supergroup", ["china"], { threadId: 5 }),
      subscriber(-200, "group", ["science", "china"]),
      home,
      subscriber(-1002, "channel", ["china"]), // a linked channel that is not a home
      subscriber(3, "private", ["all"]),
    ];
    const { targets, homeIndex } = addressItem(item, subscribers);
    assert.equal(homeIndex, 0);
    assert.equal(targets[0]!.chatId, -1009);
    assert.equal(targets[0]!.forward, undefined, "the home post itself is a message");
    assert.deepEqual(targets.slice(1).map(brief), [
      [1, true],
      [2, false],
      [-100, true],
      [-200, true],
      [-1002, false],
      [3, true],
    ]);
    assert.equal(targets.length, subscribers.length, "each subscriber exactly once");
    assert.equal(targets.find((target) => target.chatId === -100)?.threadId, 5, "a forward still goes to its thread");
  });

  test("a home channel that follows `all` is the home of every topic; other channels still never forward", () => {
    const subscribers = [
      subscriber(-1002, "channel", ["science"]),
      subscriber(1, "private", ["science"]),
      subscriber(-1009, "channel", ["all"], { home: true }),
      subscriber(2, "private", ["all"]),
    ];
    const { targets, homeIndex } = addressItem(item, subscribers);
    assert.equal(homeIndex, 0);
    assert.deepEqual(targets.map(brief), [
      [-1009, false],
      [-1002, false],
      [1, true],
      [2, true],
    ]);
  });

  test("a reader of the item's other topic gets a message of its own, an `all` reader a forward", () => {
    const subscribers = [subscriber(-1009, "channel", ["china"], { home: true }), subscriber(1, "private", ["science"]), subscriber(2, "private", ["all"])];
    assert.deepEqual(addressItem(item, subscribers).targets.map(brief), [
      [-1009, false],
      [1, false],
      [2, true],
    ]);
  });

  test("only a channel can be a home: a group marked home is not one", () => {
    // Only channels can be homes: a forward's source must be a channel readers can open and join.
    const subscribers = [subscriber(-100, "supergroup", ["china"], { home: true }), subscriber(1, "private", ["china"])];
    const { targets, homeIndex } = addressItem(item, subscribers);
    assert.equal(homeIndex, undefined);
    assert.deepEqual(targets.map(brief), [
      [-100, false],
      [1, false],
    ]);
  });

  test("no subscribers, no targets", () => {
    assert.deepEqual(addressItem(item, []), { targets: [] });
  });
});
