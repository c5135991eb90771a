/**
 * An archived article as one rich message (src/delivery/rich-article.ts): the title, the lead
 * image, the page's headings where they stood, the paragraphs, the footer; within Telegram's
 * limits, cut after the last paragraph that fits with a link to the rest.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { InputRichMessage } from "grammy/types";
import { RICH_BLOCK_LIMIT, RICH_TEXT_LIMIT, richArticle } from "../../src/delivery/rich-article.js";
import type { ArticleText } from "../../src/items/archive.js";
import { makeItem } from "../support/builders.js";

type Block = NonNullable<InputRichMessage["blocks"]>[number];
const item = makeItem({ title: "Harbor plan", source: "Harbor Daily", link: "https://harbor.example/plan", publishedAt: Date.UTC(2026, 10, 5, 9, 30) });
const shape = (blocks: readonly Block[]) => blocks.map((block) => ("text" in block && typeof block.text === "string" ? `${block.type}: ${block.text}` : block.type));
const textOf = (value: unknown): string =>
  typeof value === "string" ? value : Array.isArray(value) ? value.map(textOf).join("") : value && typeof value === "object" && "text" in value ? textOf(value.text) : "";

describe("richArticle", () => {
  test("title, lead image, headings before their paragraphs, footer with the source's link", () => {
    const article: ArticleText = {
      text: "Harbor plan\n\nFirst paragraph.\n\nSecond paragraph.\n\nThird paragraph.",
      headings: [{ text: "What it costs", before: "Second par" }, { text: "What comes next", before: "Third" }],
      image: "https://harbor.example/lead.jpg",
    };
    const { blocks } = richArticle(item, article, "en");
    assert.deepEqual(shape(blocks!), [
      "heading: Harbor plan",
      "photo",
      "paragraph: First paragraph.",
      "heading: What it costs",
      "paragraph: Second paragraph.",
      "heading: What comes next",
      "paragraph: Third paragraph.",
      "footer",
    ]);
    assert.equal(textOf((blocks!.at(-1) as { text: unknown }).text), "Harbor Daily · 2026-11-05 09:30 UTC · Source");
    assert.equal(shape(richArticle(item, article, "en", false).blocks!).includes("photo"), false, "without the image when asked");
  });

  test("a heading whose paragraph is gone is dropped, not the headings after it", () => {
    const article: ArticleText = { text: "One.\n\nTwo.", headings: [{ text: "Lost", before: "Filtered away" }, { text: "Kept", before: "Two" }] };
    assert.deepEqual(shape(richArticle(item, article, "en").blocks!), ["heading: Harbor plan", "paragraph: One.", "heading: Kept", "paragraph: Two.", "footer"]);
  });

  test("a paragraph that begins like a later heading's does not take it before its own place", () => {
    const article: ArticleText = {
      text: "Reuters reported first.\n\nBackground paragraph.\n\nReuters again, on the timeline.",
      headings: [{ text: "Background", before: "Background par" }, { text: "Timeline", before: "Reuters" }],
    };
    assert.deepEqual(shape(richArticle(item, article, "en").blocks!), [
      "heading: Harbor plan",
      "paragraph: Reuters reported first.",
      "heading: Background",
      "paragraph: Background paragraph.",
      "heading: Timeline",
      "paragraph: Reuters again, on the timeline.",
      "footer",
    ]);
  });

  test("past 32,768 characters or 500 blocks: cut after the last paragraph that fits, with a link to the rest", () => {
    for (const article of [
      { text: Array.from({ length: 400 }, (_, index) => `Paragraph ${index} ${"word ".repeat(30)}`).join("\n\n"), headings: [] },
      { text: Array.from({ length: 600 }, (_, index) => `Point ${index}.`).join("\n\n"), headings: Array.from({ length: 600 }, (_, index) => ({ text: `H${index}`, before: `Point ${index}.` })) },
    ]) {
      const { blocks } = richArticle(item, article, "en");
      assert.ok(blocks!.length <= RICH_BLOCK_LIMIT, `${blocks!.length} blocks`);
      assert.ok([...blocks!.map((block) => ("text" in block ? textOf(block.text) : "")).join("")].length <= RICH_TEXT_LIMIT);
      const rest = blocks!.at(-2) as { type: string; text: unknown };
      assert.equal(rest.type, "paragraph");
      assert.deepEqual((rest.text as unknown[]).at(-1), { type: "url", text: "The rest of the article is at the source", url: "https://harbor.example/plan" });
    }
  });
});
