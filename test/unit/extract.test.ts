import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { extractArticle } from "../../src/summaries/extract.js";
import { stripBoilerplate } from "../../src/summaries/furniture.js";
import { summarize } from "../../src/summaries/summarize.js";
import { words } from "../../src/text/words.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name: string): string => readFileSync(resolve(here, "../fixtures/summaries", name), "utf8");
const SEED = resolve(here, "../../../shared/fixtures/seed-article.txt");

function assertAbsent(text: string, planted: string[]): void {
  for (const boilerplate of planted) assert.ok(!text.includes(boilerplate), `boilerplate survived: ${boilerplate}`);
}

function assertPresent(text: string, sentences: string[]): void {
  for (const sentence of sentences) assert.ok(text.includes(sentence), `article sentence lost: ${sentence}`);
}

describe("extractArticle on an English news page", () => {
  const article = extractArticle(fixture("boilerplate-article.html"), "https://harbordaily.example/local/2024/millbrook-solar");

  test("keeps every article paragraph", () => {
    assertPresent(article.text, [
      "The Harbor town council voted seven to two on Tuesday night to build a floating solar farm on the Millbrook reservoir",
      "The array will cover about eleven hectares of the reservoir's northern basin",
      "Water quality was the question that filled most of the four-hour meeting.",
      "The engineering challenge is winter.",
      "The chamber of commerce sent a letter of support signed by more than forty member companies.",
      "\"What we have is water, and tonight we decided to use it.\"",
    ]);
    assert.ok(words(article.text).length > 1000, "the whole body, not a fragment");
  });

  test("drops every piece of site furniture", () => {
    assertAbsent(article.text, [
      "Sign in", "Home", "Opinion", "Advertisement", "dataLayer", "gtag", "ads.push",
      "1,284", "37", "+5", "Image source", "Jonas Moreno", "Photo:",
      "Read also", "Tidal energy pilot", "Share this article", "Facebook",
      "By Maria Okafor", "Who pays and who gains",
      "Subscribe to our newsletter", "morning briefing", "Sign up",
      "leave a comment", "log in", "Comments (37)",
      "Most read", "Ferry operators warn", "Local bakery wins", "Rowing club", "Port authority posts",
      "© 2024", "All rights reserved", "Privacy policy",
    ]);
  });

  test("paragraphs are separated by blank lines", () => {
    const paragraphs = article.text.split("\n\n");
    assert.equal(paragraphs.length, 16); // the 16 <p> of the body; the "read also" link and the subheading go
    assert.ok(paragraphs.every((paragraph) => paragraph.trim() === paragraph && !paragraph.includes("\n")));
  });

  test("title, og:image and language", () => {
    assert.equal(article.title, "Harbor council approves floating solar farm on Millbrook reservoir");
    assert.equal(article.image, "https://cdn.harbordaily.example/img/2024/millbrook-solar-1200.jpg");
    assert.equal(article.lang, "en");
  });
});

describe("extractArticle on a Russian news page", () => {
  const article = extractArticle(fixture("boilerplate-article-ru.html"), "https://vesti-zarechye.example/city/elektrobus");

  test("keeps every article paragraph", () => {
    assertPresent(article.text, [
      "В Заречье в понедельник открылась первая в области станция ночной зарядки электробусов",
      "Станцию построили на территории старого автобусного парка на улице Кирова.",
      "Водители прошли двухнедельное обучение.",
      "Отдельный вопрос — как машины поведут себя в сильные морозы.",
      "и будут обращать внимание только на то, приходит ли он вовремя.",
    ]);
  });

  test("drops every piece of site furniture", () => {
    assertAbsent(article.text, [
      "Войти", "Главная", "Реклама", "ym(", "2475", "+8", "Источник изображения", "пресс-служба",
      "Анна Соколова", "Читайте также", "Трамвайную линию", "Поделиться", "ВКонтакте",
      "Подпишитесь", "рассылку", "оставить комментарий", "Зарегистрируйтесь",
      "Популярное", "Мост через Лесную", "Хоккейная команда", "Завод стройматериалов",
      "Все права защищены", "Перепечатка", "©", "Свидетельство о регистрации",
    ]);
  });

  test("title, og:image and language", () => {
    assert.equal(article.title, "В Заречье открыли первую в области станцию зарядки электробусов");
    assert.equal(article.image, "https://static.vesti-zarechye.example/photo/2024/elektrobus.jpg");
    assert.equal(article.lang, "ru");
  });
});

describe("extractArticle on awkward pages", () => {
  const paragraph =
    "<p>The committee met on Friday to discuss the proposal, and members agreed that more study was needed before any vote.</p>";

  test("without og:image, the article's first image, resolved against <base> and the page URL", () => {
    const page = `<html><head><base href="/news/"></head><body><article><img src="img/lead.jpg">${paragraph.repeat(6)}</article></body></html>`;
    assert.equal(extractArticle(page, "https://site.example/a/b.html").image, "https://site.example/news/img/lead.jpg");
  });

  test("a page nested too deep for Readability still gives its longest run of paragraphs", () => {
    // Unclosed tags nest the article hundreds of levels deep, where Readability takes seconds.
    const page = `<html><body>${"<div>".repeat(300)}${paragraph.repeat(3)}<div class="sidebar"><p>Other.</p><p>Two.</p><p>Three.</p><p>Four.</p></div></body></html>`;
    const article = extractArticle(page, "https://site.example/deep");
    assert.equal(article.text.split("\n\n").length, 3);
    assert.ok(article.text.startsWith("The committee met on Friday"));
  });

  test("empty, tag-less and relative-URL input never throws", () => {
    assert.equal(extractArticle("", "https://site.example/").text, "");
    assert.equal(extractArticle("<html><body></body></html>", "not a url").text, "");
    assert.equal(extractArticle("Just one line of text.", "/relative").text, "Just one line of text.");
  });
});

describe("extractArticle: the article's headings", () => {
  const paragraph = (topic: string) => `The council spent the evening on ${topic}, and members asked for figures before any vote on the matter next week.`;
  const page = `<html><body><article><h1>Harbor plan</h1><p>${paragraph("the harbor")}</p>
    <h2>What the council wants</h2><div><p>${paragraph("the budget")}</p><p>${paragraph("the schools")}</p></div>
    <h3>Read more</h3><p>Subscribe</p><h2>What comes next</h2><p>${paragraph("the vote")}</p><h2>Ending with no text after it</h2></article></body></html>`;
  const article = extractArticle(page, "https://site.example/harbor");

  test("each kept with the beginning of the paragraph it comes before, in page order", () => {
    assert.deepEqual(
      article.headings.map(({ text, before }) => [text, article.text.split("\n\n").findIndex((kept) => kept.startsWith(before))]),
      [
        ["Harbor plan", 0],
        ["What the council wants", 1],
        ["What comes next", 3],
      ],
    );
  });

  test("the text itself holds the prose only, as summaries need", () => {
    assert.equal(article.text.split("\n\n").length, 4);
    assert.doesNotMatch(article.text, /What the council wants|Subscribe/);
  });
});

describe("stripBoilerplate", () => {
  test("a blurb without a full stop survives when there is no prose at all", () => {
    assert.equal(stripBoilerplate("Officials say talks will resume next week"), "Officials say talks will resume next week");
  });

  test("sentences that merely start like furniture survive", () => {
    const text = "Share prices rose by five percent on Monday after the results.\nPhotographers gathered outside the court.";
    assert.equal(stripBoilerplate(text), "Share prices rose by five percent on Monday after the results.\n\nPhotographers gathered outside the court.");
  });

  test("a long article paragraph that mentions copyright is not a footer", () => {
    const long =
      "The court ruled that the phrase all rights reserved printed on the cover did not by itself prove ownership, and the judge said the publisher would have to show contracts with each of the photographers whose work appeared in the book.";
    const text = `The case began two years ago.\n${long}\nThe publisher said it would appeal.`;
    assert.equal(stripBoilerplate(text), text.replaceAll("\n", "\n\n"));
  });

  test("everything after a copyright line that follows the article is footer", () => {
    const text = "Counters: 12\nThe article says something important.\n© 2023 Example Media\nA related headline that ends with a stop.";
    assert.equal(stripBoilerplate(text), "The article says something important.");
  });
});

describe("the seed article (text of a real page, one <p> per line)", () => {
  test("extract + summarize gives a clean summary of the article itself", (t) => {
    if (!existsSync(SEED)) {
      t.skip(`${SEED} absent (../shared is not checked out next to the repo)`);
      return;
    }
    const seed = readFileSync(SEED, "utf8");
    const escape = (line: string): string => line.replaceAll("&", "&amp;").replaceAll("<", "&lt;");
    const html = `<!DOCTYPE html><html><body>${seed.split("\n").map((line) => `<p>${escape(line)}</p>`).join("\n")}</body></html>`;
    const article = extractArticle(html, "https://vpk.example/news/china-russia");
    const summary = summarize(article.text);

    assert.ok(words(summary).length >= 25, summary);
    assert.ok(summary.length <= 600, `${summary.length} chars`);
    assert.ok(summary.startsWith("Relations between Russia and China have become stronger"), summary);
    const boilerplate = [
      "Войти", "1310", "+2", "Image source", "POOL", "Bonnie Lin", "Author:",
      "The rights to this material", "copyright holder", "Original publication", "InoSMI", "The news mentions",
      "leave a comment", "Log in", "ПОДПИСКА НА НОВОСТИ", "Ежедневная рассылка", "Discussion", "Update",
      "24.11 00:12", "5860", "Without carrot and stick", "Орешника", "юмористического раздела",
      "Северной верфи", "Tu-214",
    ];
    assertAbsent(summary, boilerplate);
    assertAbsent(article.text, boilerplate);
    // The body survives: its last paragraph is still in the text.
    assert.ok(article.text.includes("mutual distrust and skepticism towards each other persist in both of these states."));
  });
});

describe("stripBoilerplate on feed text", () => {
  test("WordPress's \"The post … appeared first on …\" line goes, in English and Russian", () => {
    const english = "The council approved the budget on Monday after a long debate.\nThe post Council approves budget appeared first on Harbor Daily.";
    assert.equal(stripBoilerplate(english), "The council approved the budget on Monday after a long debate.");
    const russian = "Совет депутатов утвердил бюджет в понедельник после долгих споров.\nСообщение Совет утвердил бюджет появились сначала на Вести Заречья.";
    assert.equal(stripBoilerplate(russian), "Совет депутатов утвердил бюджет в понедельник после долгих споров.");
    const prose = "The post of harbour master, which appeared in 1890, was abolished on Monday.";
    assert.equal(stripBoilerplate(prose), prose);
  });
});
