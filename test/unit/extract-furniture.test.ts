import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { chooseText } from "../../src/summaries/choose-text.js";
import { ExtractionPool, ExtractionTimeout } from "../../src/summaries/extract-pool.js";
import { extractArticle } from "../../src/summaries/extract.js";
import { feedFooter, stripBoilerplate } from "../../src/summaries/furniture.js";
import { htmlToText } from "../../src/summaries/html-text.js";

const page = (name: string): string => readFileSync(new URL(`../fixtures/extract/${name}`, import.meta.url), "utf8");

/** Pages modelled on real failures: the article, and the furniture that must not survive extraction. */
const PAGES = [
  {
    title: "a Russian bank's article inside <div class=\"article-share\">",
    file: "share-wrapper-ru.html",
    present: [
      "С понедельника банк снизил ставки по семейной ипотеке",
      "Минимальная ставка теперь составляет 5,5 процента годовых",
      "Условия действуют и для тех, кто рефинансирует уже выданный кредит",
    ],
    absent: ["ВКонтакте", "Одноклассники", "Поделиться", "Другие новости", "Кешбэк", "©", "Интернет-банк", "Политика"],
  },
  {
    title: "a whole page inside ASP.NET's <form id=\"aspnetForm\">",
    file: "aspnet-form-ru.html",
    present: [
      "Городская администрация утвердила план ремонта пяти школ",
      "На работы из городского бюджета выделено 214 миллионов рублей",
      "Родители смогут следить за ходом работ на сайте управления образования",
    ],
    absent: ["Найти", "Документы", "Приём граждан", "Публичные слушания", "Все права защищены", "VIEWSTATE"],
  },
  {
    title: "an English page inside <div class=\"page-banner\">, its article marked subscription-not-behind-paywall",
    file: "page-banner-en.html",
    present: [
      "The city will run buses to the airport through the night from next Monday",
      "Airport workers had asked for the service for years",
      "The authority expects about nine hundred riders a night",
    ],
    absent: ["Skip to content", "U.S.", "Business", "Dana Whitfield", "Photo:", "originally appeared", "newsletter", "All rights reserved"],
  },
  {
    title: "a login banner for guests, inside and around the article",
    file: "login-banner-ru.html",
    present: [
      "На 1142-м километре трассы М-5 в воскресенье открыли движение",
      "Развязка заменила опасный перекрёсток",
      "Строители возвели путепровод длиной 86 метров",
      "до конца года на трассе уберут ещё два пересечения",
    ],
    absent: ["Баннер", "незарегистрированным", "Войти", "Зарегистрироваться"],
  },
  {
    title: "a Telegram-channel promo, alone and at the end of an article paragraph; photo credits; read-also links",
    file: "telegram-promo-ru.html",
    present: [
      "Ледоход на Оби в районе Барнаула начался в среду",
      "Уровень воды за сутки поднялся на 38 сантиметров, но пока остаётся ниже отметки, при которой подтапливает дачные посёлки.",
      "Жителей прибрежных районов просят не выходить на лёд",
    ],
    absent: ["Подписывайтесь", "Telegram", "Фото:", "пресс-служба", "Читайте также", "Паводок"],
  },
];

describe("extraction keeps the article and drops the furniture around and inside it", () => {
  for (const { title, file, present, absent } of PAGES) {
    test(title, () => {
      const { text } = extractArticle(page(file), `https://site.example/news/${file}`);
      for (const sentence of present) assert.ok(text.includes(sentence), `article sentence lost: ${sentence}\n---\n${text}`);
      for (const furniture of absent) assert.ok(!text.includes(furniture), `furniture survived: ${furniture}\n---\n${text}`);
    });
  }
});

describe("furniture inside the article goes, sentence by sentence", () => {
  test("English, Russian, French, German and Spanish furniture lines", () => {
    const article = "The council approved the new budget on Monday after a long debate about schools.";
    const furniture = [
      "Read more: Council delays the vote on schools",
      "© Provided by Harbour Daily",
      "This article originally appeared on The Conversation.",
      "Photo: John Smith/Getty Images",
      "Jane Doe is a staff reporter at the Harbour Daily.",
      "Подпишитесь на наш канал в Telegram, чтобы не пропустить главное.",
      "Материал впервые опубликован на сайте издания.",
      "Abonnez-vous à notre newsletter.",
      "Lire aussi : Le conseil reporte le vote",
      "Dieser Artikel erschien zuerst auf Zeit Online.",
      "Lesen Sie auch: Der Rat verschiebt die Abstimmung",
      "Suscríbete a nuestro boletín.",
      "Este artículo fue publicado originalmente en The Conversation.",
      "Skip to content",
      "Advertisement",
    ];
    assert.equal(stripBoilerplate([article, ...furniture].join("\n")), article);
    assert.equal(stripBoilerplate(`${article} ${furniture[5]}`), article);
  });

  test("article sentences that merely mention the same words survive", () => {
    const text = [
      "The company said it would subscribe to the new standard by the end of the year, its chief executive told reporters.",
      "Telegram, the messaging app, said its channel for news had grown to ten million readers.",
      "Photographs of the flood were shared widely on Monday.",
    ].join("\n");
    assert.equal(stripBoilerplate(text), text.replaceAll("\n", "\n\n"));
  });
});

describe("a feed's footer, found by its repetition across the feed's items", () => {
  const footer = "Harbour Daily is a reader-funded newsroom. Support us at harbourdaily.example/donate.";
  const stories = [
    "The ferry timetable changes on Monday.",
    "The council approved the budget after a long debate.",
    "A storm closed the harbour for two days.",
    "The lighthouse reopens to visitors in May.",
    "Fishing boats return early as the mackerel season ends.",
    "The yacht club elects its first woman commodore.",
  ];

  test("a sentence in most of the feed's items is its footer and goes; the rest stays", () => {
    const texts = [...stories.slice(0, 5).map((story) => `${story}\n${footer}`), stories[5]!];
    const repeated = feedFooter(texts);
    assert.equal(stripBoilerplate(texts[0]!, repeated), stories[0]);
    assert.equal(stripBoilerplate(texts[5]!, repeated), stories[5]);
  });

  test("feedFooter finds it in the entries' HTML, and finds nothing when no entry ends like another", () => {
    const html = (story: string) => `<p>${story}</p><p><em>${footer.replace("harbourdaily.example/donate", '<a href="https://harbourdaily.example/donate">harbourdaily.example/donate</a>')}</em></p>`;
    const repeated = feedFooter(stories.map(html));
    assert.equal(stripBoilerplate(htmlToText(html(stories[1]!)), repeated), stories[1]);
    assert.equal(feedFooter(stories.map((story) => `<p>${story}</p>`)).size, 0);
  });

  test("a sentence two items of ten share is not a footer, nor one ending all of a feed's four items", () => {
    const quote = "The mayor said the harbour was the heart of the town.";
    const texts = Array.from({ length: 10 }, (_, i) => `Story number ${i} about the town.${i < 2 ? ` ${quote}` : ""}`);
    assert.equal(feedFooter(texts).size, 0);
    assert.equal(feedFooter(stories.slice(0, 4).map((story) => `${story} ${footer}`)).size, 0);
  });
});

describe("chooseText: page or feed text, by quality", () => {
  const title = "Harbour council approves the new ferry timetable";
  const article = [
    "The harbour council approved the new ferry timetable on Tuesday after a long debate.",
    "Ferries will leave every twenty minutes in the summer and every forty in the winter.",
    "The council said the timetable would be reviewed after a year.",
  ].join("\n\n");

  test("\"Skip to content\" never beats a feed's short description", () => {
    assert.equal(chooseText({ title, feedText: "Ferry news.", pageText: stripBoilerplate("Skip to content") }), "feed");
    assert.equal(chooseText({ title, feedText: "Ferry news.", pageText: "U.S." }), "feed");
  });

  test("the article page beats the feed's one-line teaser", () => {
    assert.equal(chooseText({ title, feedText: "The council voted on the ferries.", pageText: article }), "page");
  });

  test("a page about something else (a login wall, another story) loses to the feed's text", () => {
    const other = "Our website uses a new design this spring, with larger type and a dark mode for readers at night.";
    assert.equal(chooseText({ title, feedText: "The harbour council voted on the ferry timetable.", pageText: other }), "feed");
  });

  test("a page with prose wins when the feed gives no prose at all", () => {
    assert.equal(chooseText({ title: "Ferries", feedText: "", pageText: article }), "page");
  });
});

describe("pruning chrome by what it holds", () => {
  test("a form or share wrapper around the text stays; a share bar beside it goes", () => {
    const html =
      `<form id="aspnetForm"><div class="article-share"><p>The harbour council approved the new ferry timetable on Tuesday after a long debate.</p>` +
      `<p>Ferries will leave every twenty minutes in the summer and every forty in the winter.</p>` +
      `<div class="share-buttons"><a href="#">Facebook</a> <a href="#">Twitter</a></div></div></form>`;
    const text = htmlToText(html);
    assert.ok(text.startsWith("The harbour council approved"), text);
    assert.ok(text.includes("every forty in the winter."), text);
    assert.ok(!text.includes("Facebook"), text);
  });
});

describe("ExtractionPool", () => {
  test("the real worker extracts a page (from source, through tsx)", async () => {
    const pool = new ExtractionPool({ size: 1, budgetMs: 60_000 });
    try {
      const article = await pool.extract(page("aspnet-form-ru.html"), "https://city.example/news.aspx?id=4512");
      assert.ok(article.text.includes("Городская администрация утвердила план ремонта пяти школ"), article.text);
    } finally {
      await pool.close();
    }
  });

  test("the real worker starts whatever the working directory (as under the operator's service manager)", async () => {
    const cwd = process.cwd();
    process.chdir(tmpdir());
    const pool = new ExtractionPool({ size: 1, budgetMs: 60_000 });
    try {
      const article = await pool.extract(page("share-wrapper-ru.html"), "https://bank.example/news/ipoteka");
      assert.ok(article.text.includes("С понедельника банк снизил ставки"), article.text);
    } finally {
      process.chdir(cwd);
      await pool.close();
    }
  });

  test("a page over budget is abandoned, its worker replaced, and the next page still extracted", async () => {
    const pool = new ExtractionPool({ size: 1, budgetMs: 200, workerUrl: new URL("../support/stalling-extract-worker.ts", import.meta.url) });
    try {
      await assert.rejects(pool.extract("stall", "https://a.example/"), ExtractionTimeout);
      assert.deepEqual(await pool.extract("fine", "https://a.example/"), { text: "fine" });
    } finally {
      await pool.close();
    }
  });

  test("an aborted page rejects with the signal's reason and frees its worker", async () => {
    const pool = new ExtractionPool({ size: 1, budgetMs: 60_000, workerUrl: new URL("../support/stalling-extract-worker.ts", import.meta.url) });
    try {
      const controller = new AbortController();
      const stalled = pool.extract("stall", "https://a.example/", controller.signal);
      const queued = pool.extract("after", "https://a.example/");
      controller.abort(new Error("stopping"));
      await assert.rejects(stalled, /stopping/);
      assert.deepEqual(await queued, { text: "after" });
    } finally {
      await pool.close();
    }
  });
});
