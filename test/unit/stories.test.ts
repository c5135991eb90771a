/**
 * Stories at acceptance (src/stories/stories.ts): items take the story they report, are stored
 * for the sender, and say why in the log; the index starts from the recent items the store holds;
 * an embeddings model that fails leaves words to decide.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import pino from "pino";
import { RecentItems } from "../../src/items/recent.js";
import { Stories } from "../../src/stories/stories.js";
import { KeyvStoryItems } from "../../src/stories/story-items.js";
import { makeItem, memoryNamespaces, silentLogger } from "../support/builders.js";

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 2, 10, 12);

const tass = () =>
  makeItem({
    feedId: "tass",
    source: "TASS",
    title: "Извержение вулкана Шивелуч началось на Камчатке",
    summary: "Вулкан Шивелуч выбросил столб пепла на высоту 8 км, сообщили в Камчатской группе реагирования на вулканические извержения.",
    publishedAt: NOW - HOUR,
  });
const ria = () =>
  makeItem({
    feedId: "ria",
    source: "RIA",
    title: "Шивелуч выбросил пепел на восемь километров",
    summary: "На Камчатке проснулся вулкан Шивелуч: пепловый шлейф протянулся на 60 км к западу, объявлен оранжевый авиационный код.",
    publishedAt: NOW - HOUR / 2,
  });
const other = () =>
  makeItem({ feedId: "lenta", source: "Lenta", title: "Минфин разместил облигации на 50 млрд рублей", summary: "Спрос на ОФЗ превысил предложение в два раза.", publishedAt: NOW - HOUR / 3 });

async function setup(options: { embedder?: () => Promise<number[][] | undefined>; logLines?: string[] } = {}) {
  const namespaces = memoryNamespaces();
  const recent = await RecentItems.open(namespaces.items, namespaces.recent);
  const items = new KeyvStoryItems(namespaces.stories, 96 * HOUR);
  const logger = options.logLines ? pino({ level: "info" }, { write: (line: string) => void options.logLines!.push(line) }) : silentLogger;
  const open = () => Stories.open({ recent, items, logger, windowMs: 48 * HOUR, ...(options.embedder ? { embedder: options.embedder } : {}) }, NOW);
  return { recent, items, open };
}

describe("Stories", () => {
  test("a later report of the same event takes the first one's story, another event its own; both are stored, the join logged with why", async () => {
    const logLines: string[] = [];
    const { items, open } = await setup({ logLines });
    const stories = await open();
    const first = tass();
    const [assignedFirst] = await stories.assign([first], NOW);
    const [joined, separate] = await stories.assign([ria(), other()], NOW);
    assert.equal(assignedFirst!.storyId, first.key);
    assert.equal(joined!.storyId, first.key);
    assert.equal(separate!.storyId, separate!.key);
    assert.deepEqual(await items.get(joined!.key), joined);
    assert.deepEqual(await items.get(first.key), assignedFirst);
    const [line] = logLines.map((text) => JSON.parse(text) as { msg: string; story: string; matched: string; score: number; shared: string[] });
    assert.equal(line?.msg, "item joins a story");
    assert.equal(line?.matched, first.key);
    assert.ok(line!.score >= 0.3, String(line?.score));
    assert.ok(line!.shared.includes("шивелуч"), line!.shared.join());
  });

  test("after a restart the recent items' stories are known again: a later source still joins", async () => {
    const { recent, open } = await setup();
    const before = await open();
    const assigned = await before.assign([tass()], NOW);
    // A baseline item (no story) is not a story to join.
    await recent.add([...assigned, { ...ria(), key: "l:baseline", feedId: "other" }].map((item) => ({ item })));
    const after = await open();
    assert.equal(after.size, 1);
    const [joined] = await after.assign([ria()], NOW);
    assert.equal(joined!.storyId, assigned[0]!.key);
  });

  test("an item assigned again (a poll retried) keeps its story", async () => {
    const { open } = await setup();
    const stories = await open();
    const first = tass();
    const [assigned] = await stories.assign([first], NOW);
    const [again] = await stories.assign([first], NOW);
    assert.equal(again!.storyId, assigned!.storyId);
    assert.equal(stories.size, 1);
  });

  test("an embeddings model that fails leaves the words to decide", async () => {
    let asked = 0;
    const { open } = await setup({ embedder: async () => (asked++, undefined) });
    const stories = await open();
    const [first] = await stories.assign([tass()], NOW);
    const [joined] = await stories.assign([ria()], NOW);
    assert.equal(asked, 2);
    assert.equal(joined!.storyId, first!.key);
  });
});
