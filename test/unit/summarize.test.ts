import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { splitSentences, summarize } from "../../src/summaries/summarize.js";
import { clip } from "../../src/text/clip.js";
import { detectLanguage } from "../../src/text/words.js";
import { longArticleText } from "../support/long-article.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string): string => readFileSync(resolve(here, "../fixtures/summaries", name), "utf8");
const ENGLISH = fixture("article-en.txt");
const RUSSIAN = fixture("article-ru.txt");
const CHINESE = fixture("article-zh.txt");
const JAPANESE =
  "東京都は月曜日、新しい防災計画を発表した。「備えが命を守る！」と知事は述べた。計画では、すべての区に避難所を増やし、" +
  "非常食の備蓄を倍にする。費用は約三百億円と見込まれている。専門家は計画を評価しつつも、高齢者への支援が不十分だと指摘した。";

/** Asserts `summary` is whole sentences of `text`, each once, in the text's order. */
function assertSentencesInOrder(summary: string, text: string): void {
  let rest = summary;
  for (const sentence of splitSentences(text)) {
    if (rest.startsWith(sentence)) rest = rest.slice(sentence.length).trimStart();
  }
  assert.equal(rest, "", `not whole sentences in order; left over: ${rest}`);
}

const ENDS_AS_SENTENCE = /[.!?…]["'»”’)]*$/u;

describe("summarize", () => {
  for (const [name, text] of [["English", ENGLISH], ["Russian", RUSSIAN]] as const) {
    describe(`a ${name} article`, () => {
      const summary = summarize(text);

      test("is at most 600 characters but not trivially short", () => {
        assert.ok(text.length > 1500, "the fixture is long enough to need summarising");
        assert.ok(summary.length <= 600, `${summary.length} chars`);
        assert.ok(summary.length >= 300, `${summary.length} chars: ${summary}`);
      });

      test("keeps the lead sentence first", () => {
        const lead = splitSentences(text)[0]!;
        assert.ok(summary.startsWith(lead), summary);
      });

      test("is whole sentences in their original order, ending as a sentence", () => {
        assertSentencesInOrder(summary, text);
        assert.match(summary, ENDS_AS_SENTENCE);
        assert.ok(!summary.includes("\n"));
      });

      test("respects a smaller budget", () => {
        const short = summarize(text, { maxChars: 300 });
        assert.ok(short.length <= 300, `${short.length} chars`);
        assertSentencesInOrder(short, text);
      });

      test("is deterministic", () => {
        assert.equal(summarize(text), summary);
      });
    });
  }

  test("a Russian text gives a Russian summary", () => {
    const summary = summarize(RUSSIAN);
    assert.equal(detectLanguage(summary), "ru");
    assert.match(summary, /^В Нижнеозёрске/u);
  });

  test("a short item passes through whole, as one paragraph", () => {
    assert.equal(summarize("The vote is on Monday.  Polls open at 8 a.m.\n\nResults follow."), "The vote is on Monday. Polls open at 8 a.m. Results follow.");
    assert.equal(summarize("Headline without a stop"), "Headline without a stop");
  });

  test("empty or blank text gives an empty summary", () => {
    assert.equal(summarize(""), "");
    assert.equal(summarize(" \n\n\t "), "");
  });

  test("a 15,000-character text is summarised within limits", () => {
    const paragraphs = ENGLISH.split("\n\n");
    const long = Array.from({ length: 60 }, (_, i) => paragraphs[i % paragraphs.length]).join("\n\n").slice(0, 15_000);
    assert.ok(long.length >= 15_000 - 500);
    const summary = summarize(long);
    assert.ok(summary.length <= 600 && summary.length >= 300, `${summary.length} chars`);
    assert.ok(summary.startsWith("The city of Port Alder will close"));
    assert.match(summary, ENDS_AS_SENTENCE);
  });

  test("a lead longer than the budget is cut at a word boundary with an ellipsis", () => {
    const lead = `${"Officials in the northern districts announced ".repeat(20)}a plan.`;
    const summary = summarize(`${lead} Another sentence follows here.`, { maxChars: 100 });
    assert.ok(summary.length <= 100, `${summary.length} chars`);
    assert.ok(summary.endsWith("…"));
    const kept = summary.slice(0, -1);
    assert.ok(lead.startsWith(kept));
    assert.match(lead.charAt(kept.length), /\s/u, "the cut falls between two words");
  });

  test("the lead is the first real sentence, not a heading or byline before it", () => {
    const text = `City Desk\n\nBy A. Writer\n\n${ENGLISH}`;
    assert.ok(summarize(text).startsWith("The city of Port Alder will close"));
  });
});

describe("summaries of Chinese and Japanese articles", () => {
  test("are several whole sentences, the lead first, without spaces between them", () => {
    const summary = summarize(CHINESE, { maxChars: 200 });
    const sentences = splitSentences(CHINESE);
    assert.ok(summary.length <= 200, `${summary.length} chars`);
    assert.ok(summary.startsWith(sentences[0]!), summary);
    assert.ok(summary.length > sentences[0]!.length + 20, `more than the lead: ${summary}`);
    assert.ok(!summary.includes(" "), summary);
    assert.equal(summary.replace(/[^。！？]/gu, "").length >= 3, true, summary);
    assertSentencesInOrder(summary.replace(/([。！？])/gu, "$1 "), CHINESE.replace(/([。！？])/gu, "$1 "));
  });

  test("Japanese: the lead and whole sentences within the budget", () => {
    const summary = summarize(JAPANESE, { maxChars: 80 });
    assert.ok(summary.length <= 80, `${summary.length} chars`);
    assert.ok(summary.startsWith("東京都は月曜日、新しい防災計画を発表した。"), summary);
    assert.match(summary, /。$/u);
  });
});

describe("the title is never repeated", () => {
  const TITLE = "Port Alder closes the Harbour Bridge for two years";

  test("a description that is the title gives an empty summary", () => {
    assert.equal(summarize(TITLE, { title: TITLE }), "");
    assert.equal(summarize("Port Alder CLOSES the harbour bridge for two years.", { title: TITLE }), "", "case, punctuation");
    assert.equal(summarize("«Мосты Заречья закроют на ремонт»", { title: "Мост в Заречье закроют на ремонт" }), "", "word forms, quotes");
    assert.equal(summarize("港湾市议会通过了漂浮式太阳能电站计划。", { title: "港湾市议会通过漂浮式太阳能电站计划" }), "", "Chinese");
  });

  test("the rest of a short text is kept", () => {
    assert.equal(summarize(`${TITLE}. Repairs start in May. Ferries will run every hour.`, { title: TITLE }), "Repairs start in May. Ferries will run every hour.");
  });

  test("a sentence that says more than the title stays", () => {
    const text = "Port Alder closes the Harbour Bridge for two years from May, the council said after a vote on Monday.";
    assert.equal(summarize(text, { title: TITLE }), text);
  });

  test("in a long article the title line is skipped and the lead is the article's first sentence", () => {
    const summary = summarize(`${TITLE}\n\n${ENGLISH}`, { title: TITLE });
    assert.ok(summary.startsWith("The city of Port Alder will close"), summary);
    assert.ok(!summary.includes(TITLE), summary);
    assert.ok(summary.length <= 600, `${summary.length} chars`);
  });

  test("a Russian article's lead repeated as its title makes the next sentence the lead", () => {
    const [lead, second] = splitSentences(RUSSIAN);
    const summary = summarize(RUSSIAN, { title: lead!.replace(/\.$/u, "") });
    assert.ok(!summary.includes(lead!), summary);
    assert.ok(summary.startsWith(second!), summary);
    assert.equal(detectLanguage(summary), "ru");
  });
});

describe("an item of any length costs what a long article does", () => {
  test("a 25,000-sentence text is summarised from its beginning, within limits", () => {
    const text = longArticleText(25_000);
    const summary = summarize(text);
    const sentences = splitSentences(text.slice(0, 60_000));
    assert.ok(summary.startsWith(sentences[0]!), summary);
    assert.ok(summary.length <= 600 && summary.length >= 300, `${summary.length} chars`);
    let rest = summary;
    for (const sentence of sentences.slice(0, 300)) if (rest.startsWith(sentence)) rest = rest.slice(sentence.length).trimStart();
    assert.equal(rest, "", "only sentences of the first 300");
  });

  test("one huge paragraph without breaks: whole sentences of its beginning, none cut", () => {
    const text = longArticleText(25_000).replaceAll("\n\n", " ");
    const summary = summarize(text);
    assert.ok(summary.length <= 600, `${summary.length} chars`);
    assertSentencesInOrder(summary, text.slice(0, 60_000));
  });

  test("a caption line before one huge paragraph: the summary is the paragraph's, not the caption", () => {
    const body = longArticleText(25_000).replaceAll("\n\n", " ");
    const summary = summarize(`Photo: Reuters\n${body}`);
    assert.ok(!summary.startsWith("Photo"), summary);
    assert.ok(summary.startsWith(splitSentences(body.slice(0, 5_000))[0]!), summary);
  });

  test("100,000 one-word lines give the first of them", () => {
    assert.equal(summarize("word\n".repeat(100_000)).startsWith("word"), true);
  });
});

describe("splitSentences", () => {
  test("Chinese and Japanese sentences end at 。！？ and their full-width forms", () => {
    assert.deepEqual(splitSentences("北京今天下雨。明天会晴天！你们明天去公园吗？天气预报说会很热．"), [
      "北京今天下雨。", "明天会晴天！", "你们明天去公园吗？", "天气预报说会很热．",
    ]);
    assert.deepEqual(splitSentences("東京は晴れです。大阪は雨でした！"), ["東京は晴れです。", "大阪は雨でした！"]);
  });

  test("a quotation stays whole and with its sentence, in Chinese and Japanese", () => {
    assert.deepEqual(splitSentences("市长表示欢迎。“我们终于迈出了这一步！”他说。随后他回答了记者的提问。"), [
      "市长表示欢迎。", "“我们终于迈出了这一步！”他说。", "随后他回答了记者的提问。",
    ]);
    assert.deepEqual(splitSentences("東京は晴れです。「止まれ！」と彼は大きな声で言った。明日は雨でしょう！"), [
      "東京は晴れです。", "「止まれ！」と彼は大きな声で言った。", "明日は雨でしょう！",
    ]);
  });

  test("a quoted exclamation or question inside a sentence does not end it", () => {
    assert.deepEqual(splitSentences(`"Stop!" he said. Then he left. "Why?" asked the mayor. She said "No!" and left. "Enough!" Smith shouted.`), [
      `"Stop!" he said.`, "Then he left.", `"Why?" asked the mayor.`, `She said "No!" and left.`, `"Enough!" Smith shouted.`,
    ]);
    assert.deepEqual(splitSentences("«Стоп!» — сказал он. Потом ушёл. «Куда?» — спросила она. Он крикнул «Беги!» и исчез."), [
      "«Стоп!» — сказал он.", "Потом ушёл.", "«Куда?» — спросила она.", "Он крикнул «Беги!» и исчез.",
    ]);
  });

  test('"U.S." ends a sentence when a new one follows, and stays inside it before a name', () => {
    assert.deepEqual(splitSentences("The deal was signed in the U.S. The next day markets rose. The U.S. Senate voted. Talks moved to the U.K. It rained."), [
      "The deal was signed in the U.S.", "The next day markets rose.", "The U.S. Senate voted.", "Talks moved to the U.K.", "It rained.",
    ]);
  });

  test("abbreviations and initials do not split English sentences", () => {
    assert.deepEqual(
      splitSentences("The U.S. Senate voted on Monday. J. R. R. Tolkien wrote it. Mr. Smith went to Washington, D.C. on Jan. 5. It cost $3.5 million, i.e. a lot."),
      ["The U.S. Senate voted on Monday.", "J. R. R. Tolkien wrote it.", "Mr. Smith went to Washington, D.C. on Jan. 5.", "It cost $3.5 million, i.e. a lot."],
    );
  });

  test("abbreviations and initials do not split Russian sentences", () => {
    assert.deepEqual(
      splitSentences("В. В. Иванов прибыл в г. Тверь на ул. Советскую. Он сказал, т. е. заявил, что всё хорошо. Стройку начали в 2019 г. Закончат её к лету, и т. д. Новая фраза."),
      ["В. В. Иванов прибыл в г. Тверь на ул. Советскую.", "Он сказал, т. е. заявил, что всё хорошо.", "Стройку начали в 2019 г.", "Закончат её к лету, и т. д.", "Новая фраза."],
    );
  });

  test("the fixtures' abbreviations stay inside their sentences", () => {
    const english = splitSentences(ENGLISH);
    assert.ok(english.some((s) => s.startsWith("The decision follows an inspection by Dr. Laura M. Chen, a structural engineer")));
    assert.ok(english.some((s) => s.startsWith("The project is partly paid for by a grant from the U.S. Department of Transportation")));
    const russian = splitSentences(RUSSIAN);
    assert.ok(russian.some((s) => s.startsWith("Такое решение городская дума") && s.endsWith("В. И. Петров.")));
    assert.ok(russian.some((s) => s.startsWith("Похожая реконструкция на ул. Садовой в 2019 г. увеличила")));
  });

  test("paragraphs never share a sentence", () => {
    assert.deepEqual(splitSentences("A heading without a stop\nThe first sentence is here."), ["A heading without a stop", "The first sentence is here."]);
  });
});

describe("clip, as summaries cut a lead too long to fit", () => {
  test("text that fits is unchanged", () => {
    assert.equal(clip("Short text.", 11), "Short text.");
  });

  test("cuts between words and adds an ellipsis within the limit", () => {
    assert.equal(clip("The quick brown fox jumps", 16), "The quick brown…");
    assert.equal(clip("The quick brown fox jumps", 15), "The quick…");
    assert.equal(clip("Alpha, beta, gamma", 13), "Alpha, beta…");
  });

  test("a single word longer than the limit is the only thing cut inside a word", () => {
    const cut = clip("https://example.org/a/very/long/path/without/spaces", 20);
    assert.equal(cut.length, 20);
    assert.ok(cut.endsWith("…"));
  });

  test("never splits a surrogate pair", () => {
    const cut = clip("😀😀😀😀😀😀", 6);
    assert.ok(cut.length <= 6);
    assert.doesNotMatch(cut, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/u);
  });
});
