import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ALL_TOPIC, compileTopics } from "../../src/topics/topics.js";
import type { TopicDefinition, TopicMatchInput } from "../../src/topics/topics.js";
import { SUITE_CASES, SUITE_TOPICS } from "../support/topic-suite.js";

function topic(id: string, keywords: TopicDefinition["keywords"], more: Partial<TopicDefinition> = {}): TopicDefinition {
  return { id, title: id, keywords, categories: [], exclude: [], ...more };
}

function item(fields: Partial<TopicMatchInput>): TopicMatchInput {
  return { feedTopics: [], categories: [], title: "", text: "", ...fields };
}

const DEFINITIONS: TopicDefinition[] = [
  topic("china", ["China", "Beijing", "Xi Jinping", "Китай", "Пекин", "Си Цзиньпин"], {
    categories: ["Китай", "Asia"],
    exclude: ["China Open", "фарфор"],
  }),
  topic("navy", ["Флот", "Navy"], { categories: ["Флот", "Navy"] }),
  topic("sanctions", ["санкции", "sanctions"]),
  topic("ai", ["AI"]),
  topic("eu", ["ЕС", "EU"]),
  topic("rus", ["Rus"]),
  topic("nato", ["NATO", "НАТО"]),
  topic("regions", ["Россия", "Украина", "Сирия", "Азия", "Мали", "Кремль", "Израиль", "Европа", "Ukraine", "Europe", "Canada"]),
  topic("words", ["безопасность", "искусственный интеллект", "технологии", "economy", "vaccine", "Apple", "plan"]),
];
const matcher = compileTopics(DEFINITIONS);

/** Whether a title alone puts an item in the topic. */
function titleIn(topicId: string, title: string): boolean {
  return matcher.match(item({ title })).includes(topicId);
}

/** [topic, title, expected]: one row per word form. */
function table(rows: [string, string, boolean][]): void {
  for (const [topicId, title, expected] of rows) {
    test(`${expected ? "" : "not "}${topicId}: ${title}`, () => {
      assert.equal(titleIn(topicId, title), expected);
    });
  }
}

/** [title, the topics `matched` must give]: one row per word form. */
function table2(matched: (title: string) => string[], rows: [string, string[]][]): void {
  for (const [title, expected] of rows) test(`${title} → [${expected.join(", ")}]`, () => assert.deepEqual(matched(title), expected));
}

describe("Russian word forms", () => {
  table([
    ["china", "Китай", true],
    ["china", "Китая", true],
    ["china", "Китаю", true],
    ["china", "Китаем", true],
    ["china", "Китае", true],
    ["china", "КИТАЯ", true],
    ["china", "Пекин", true],
    ["china", "Пекина", true],
    ["china", "Пекине", true],
    ["china", "китайские корабли", true],
    ["china", "Пекинская встреча", true],
    ["china", "Китайцы и китаец", true],
    ["navy", "Флот", true],
    ["navy", "Флота", true],
    ["navy", "на флоте", true],
    ["navy", "флотом", true],
    ["sanctions", "санкции", true],
    ["sanctions", "санкций", true],
    ["sanctions", "санкциям", true],
    ["sanctions", "санкция", true],
    ["regions", "России", true],
    ["regions", "российские войска", true],
    ["regions", "россияне", true],
    ["regions", "украинцы", true],
    ["regions", "Сирии", true],
    ["regions", "сирийский", true],
    ["regions", "в Азии", true],
    ["regions", "малийский", true],
    ["regions", "Кремля", true],
    ["regions", "кремлёвские источники", true],
    ["regions", "израильский", true],
    ["regions", "европейские страны", true],
    ["words", "безопасности", true],
    ["words", "безопасностью", true],
    ["words", "искусственного интеллекта", true],
    ["words", "технологий", true],
  ]);
  table([
    ["china", "кит", false],
    ["china", "кита выбросило на берег", false],
    ["china", "китов", false],
    ["china", "китами", false],
    ["china", "китах", false],
    ["china", "пекинес", false],
    ["china", "пекинеса", false],
    ["regions", "малый бизнес", false],
    ["regions", "Герман", false],
    ["words", "технолог", false],
    ["words", "безопасный", false],
  ]);
});

describe("English word forms", () => {
  table([
    ["china", "China", true],
    ["china", "China's", true],
    ["china", "Chinese warships", true],
    ["china", "Beijing", true],
    ["china", "Beijing’s", true],
    ["sanctions", "sanction", true],
    ["sanctions", "sanctions", true],
    ["sanctions", "sanctioned", true],
    ["sanctions", "sanctioning", true],
    ["navy", "Navy", true],
    ["navy", "the navy's ships", true],
    ["regions", "Ukrainian", true],
    ["regions", "European", true],
    ["regions", "Canadian", true],
    ["words", "economies", true],
    ["words", "economic", true],
    ["words", "vaccines", true],
    ["words", "plans", true],
  ]);
  table([
    ["china", "Brazil", false],
    ["china", "Brazilian", false],
    ["china", "Indochina", false],
    ["china", "his chin", false],
    ["words", "applied", false],
    ["words", "planes", false],
  ]);
});

describe("phrases", () => {
  table([
    ["china", "Xi Jinping", true],
    ["china", "Xi Jinping's visit", true],
    ["china", "Си Цзиньпин", true],
    ["china", "Си Цзиньпина", true],
    ["china", "встреча с Си Цзиньпином", true],
    ["china", "Jinping said", false],
    ["china", "Xi said", false],
    ["china", "Цзиньпин", false],
    ["china", "Си и Цзиньпин", false],
  ]);

  test("a phrase does not run from the title into the text", () => {
    assert.deepEqual(matcher.match(item({ title: "Meeting with Xi", text: "Jinping arrived." })), [ALL_TOPIC]);
  });
});

describe("short words and acronyms match only whole and exactly", () => {
  table([
    ["ai", "AI", true],
    ["ai", "new AI rules", true],
    // A keyword written in capitals is an acronym and counts only in capitals (issue 9: US ≠ "us").
    ["ai", "new ai rules", false],
    ["ai", "he said", false],
    ["ai", "AIs", false],
    ["eu", "ЕС", true],
    ["eu", "EU's budget", true],
    ["eu", "если весь", false],
    ["rus", "Rus", true],
    ["rus", "Russia", false],
    ["nato", "NATO", true],
    ["nato", "NATO's", true],
    ["nato", "НАТО", true],
    ["nato", "натовские", false],
    ["nato", "Nato summit", true],
    ["nato", "nato", false],
    ["eu", "Ес", false],
  ]);
});

describe("acronyms written with dots", () => {
  const dotted = compileTopics([topic("usa", ["U.S."]), topic("us", ["US"]), topic("uk", ["UK"]), topic("navy", ["navy"])]);
  const matched = (title: string) => dotted.match(item({ title })).slice(1);

  test("U.S. is the word US, and the next word is still a word", () => {
    assert.deepEqual(matched("U.S. Navy"), ["usa", "us", "navy"]);
    assert.deepEqual(matched("US Navy"), ["usa", "us", "navy"]);
    assert.deepEqual(matched("U.K. and U.S.-led talks"), ["usa", "us", "uk"]);
  });

  test("lower-case abbreviations are not acronyms", () => {
    assert.deepEqual(matched("u.s. mail, т.е. нет"), []);
  });
});

describe("compound adjectives", () => {
  table([
    ["regions", "российско-украинские переговоры", true],
    ["china", "китайско-индийская граница", true],
    ["regions", "израильско-палестинский", true],
    // A linking vowel is a form only before a hyphen.
    ["regions", "российско", false],
    ["china", "китайско и", false],
  ]);
});

describe("case-sensitive keywords", () => {
  const named = compileTopics([
    topic("gaza", [{ word: "Газа", case: "sensitive" }]),
    topic("turkey", [{ word: "Turkey", case: "sensitive" }, { word: "Xi", case: "sensitive" }]),
    topic("china", [{ word: "Китай", case: "sensitive" }], { exclude: [{ word: "Bone", case: "sensitive" }] }),
  ]);
  const matched = (title: string) => named.match(item({ title })).slice(1);

  test("the keyword's capitals must be capitals, in every case form", () => {
    assert.deepEqual(matched("в Газе"), ["gaza"]);
    assert.deepEqual(matched("сектор Газа"), ["gaza"]);
    assert.deepEqual(matched("ГАЗА"), ["gaza"]);
    assert.deepEqual(matched("поставки газа"), []);
    assert.deepEqual(matched("Turkey's"), ["turkey"]);
    assert.deepEqual(matched("turkeys"), []);
    assert.deepEqual(matched("xi"), []);
  });

  test("adjectives and people formed from the name keep their own spelling", () => {
    assert.deepEqual(matched("китайские"), ["china"]);
    assert.deepEqual(matched("Turkish"), ["turkey"]);
  });

  test("an exclude phrase can be case-sensitive too", () => {
    assert.deepEqual(matched("Bone: Китай"), []);
    assert.deepEqual(matched("bone Китай"), ["china"]);
  });
});

describe("English -ies and -al", () => {
  const english = compileTopics([topic("military", ["navy", "army"]), topic("politics", ["nation", "culture", "sign"])]);
  const matched = (title: string) => english.match(item({ title })).slice(1);
  table2(matched, [
    ["navies", ["military"]],
    ["armies", ["military"]],
    ["armed", []],
    ["arms", []],
    ["national", ["politics"]],
    ["nationals", ["politics"]],
    ["cultural", ["politics"]],
    ["signal", []],
    ["naval", ["military"]],
  ]);
});

describe("irregular forms of place names", () => {
  const places = compileTopics([topic("egypt", ["Египет"]), topic("europe", ["Германия", "Poland"]), topic("moscow", ["Москва"])]);
  const matched = (title: string) => places.match(item({ title })).slice(1);
  table2(matched, [
    ["из Египта", ["egypt"]],
    ["в Египте", ["egypt"]],
    ["египетский", ["egypt"]],
    ["египта", []],
    ["немецкий", ["europe"]],
    ["Polish farmers", ["europe"]],
    ["polish the shoes", []],
    ["московский", ["moscow"]],
    ["москвичи", ["moscow"]],
  ]);
});

describe("labelled keyword suite (issue 9; precision and recall: bench/topics.ts)", () => {
  const suite = compileTopics(SUITE_TOPICS);
  test(`has at least 60 cases`, () => assert.ok(SUITE_CASES.length >= 60));
  for (const [title, expected] of SUITE_CASES) {
    test(`${title} → [${expected.join(", ")}]`, () => {
      assert.deepEqual(suite.match(item({ title })), [ALL_TOPIC, ...expected]);
    });
  }
});

describe("categories", () => {
  function inNavy(categories: string[]): boolean {
    return matcher.match(item({ categories })).includes("navy");
  }

  test("an item category equal to a topic category puts the item in the topic", () => {
    assert.equal(inNavy(["Флот"]), true);
    assert.equal(inNavy(["Экономика", "Navy"]), true);
  });

  test("compared case-insensitively and by word form", () => {
    assert.equal(inNavy(["флот"]), true);
    assert.equal(inNavy(["NAVY"]), true);
    assert.equal(inNavy(["Флоте"]), true);
    assert.equal(matcher.match(item({ categories: ["Китая"] })).includes("china"), true);
  });

  test("a category must match as a whole value", () => {
    assert.equal(inNavy(["Navy News"]), false);
    assert.equal(inNavy(["Флотилия"]), false);
    assert.equal(inNavy(["Экономика"]), false);
  });

  test("a topic category is not a keyword: it is not looked for in the text", () => {
    assert.equal(matcher.match(item({ title: "Asia" })).includes("china"), false);
  });
});

describe("exclude", () => {
  test("an exclude phrase keeps out an item that a keyword put in", () => {
    assert.equal(titleIn("china", "China Open: the final"), false);
    assert.equal(titleIn("china", "Китайский фарфор на выставке"), false);
    assert.equal(titleIn("china", "Выставка китайского фарфора"), false);
  });

  test("an exclude word alone, or a keyword without it, behaves as usual", () => {
    assert.equal(titleIn("china", "China keeps its market open"), true);
    assert.equal(titleIn("china", "Фарфор"), false);
  });

  test("exclude vetoes keyword matches only, not the feed's topics or categories", () => {
    assert.ok(matcher.match(item({ title: "China Open", categories: ["Asia"] })).includes("china"));
    assert.ok(matcher.match(item({ title: "China Open", feedTopics: ["china"] })).includes("china"));
  });

  test("exclude is per topic", () => {
    const both = compileTopics([topic("a", ["China"], { exclude: ["Open"] }), topic("b", ["China"])]);
    assert.deepEqual(both.match(item({ title: "China Open" })), [ALL_TOPIC, "b"]);
  });
});

describe("feed topics, all, order", () => {
  test("all is always present, even for an empty configuration and item", () => {
    assert.deepEqual(compileTopics([]).match(item({})), [ALL_TOPIC]);
    assert.deepEqual(matcher.match(item({ title: "Nothing to see" })), [ALL_TOPIC]);
  });

  test("every item of a feed belongs to the feed's topics; unknown ids are ignored", () => {
    assert.deepEqual(matcher.match(item({ feedTopics: ["navy", "sport", ALL_TOPIC] })), [ALL_TOPIC, "navy"]);
  });

  test("topics come once each, all first, then in configuration order", () => {
    const input = item({ feedTopics: ["navy", "china"], categories: ["Флот"], title: "Флот Китая", text: "санкции Китаю" });
    assert.deepEqual(matcher.match(input), [ALL_TOPIC, "china", "navy", "sanctions"]);
  });

  test("title and text are both searched", () => {
    assert.deepEqual(matcher.match(item({ title: "Новости", text: "Флот вышел в море." })), [ALL_TOPIC, "navy"]);
  });

  test("topics lists the configured topics, without all", () => {
    assert.deepEqual(matcher.topics.map((t) => t.id), DEFINITIONS.map((t) => t.id));
  });
});

describe("compileTopics rejects bad ids", () => {
  for (const ids of [["all"], ["China"], ["a b"], [""], ["x", "x"]]) {
    test(JSON.stringify(ids), () => {
      assert.throws(() => compileTopics(ids.map((id) => topic(id, []))), /topic id/);
    });
  }

  test("a keyword with no word in it matches nothing", () => {
    assert.deepEqual(compileTopics([topic("dash", ["—", ""])]).match(item({ title: "— a — b" })), [ALL_TOPIC]);
  });
});

describe("texts full of near misses", () => {
  const fixtures = new URL("../fixtures/topics/", import.meta.url);
  for (const name of ["traps-ru.txt", "traps-en.txt"]) {
    test(name, () => {
      const text = readFileSync(new URL(name, fixtures), "utf8");
      assert.deepEqual(matcher.match(item({ title: "Новости / News", text })), [ALL_TOPIC]);
    });
  }
});

describe("many topics, long item", () => {
  const SYLLABLES = ["ka", "ro", "mi", "tu", "le", "va", "no", "si", "du", "re"];
  /** A made-up word, distinct for each n < 10,000 and free of real English endings. */
  const made = (n: number): string =>
    `${SYLLABLES[n % 10]}${SYLLABLES[Math.floor(n / 10) % 10]}${SYLLABLES[Math.floor(n / 100) % 10]}${SYLLABLES[Math.floor(n / 1000) % 10]}x`;

  test("50 topics × 20 keywords against a 2,000-word item", () => {
    const definitions = Array.from({ length: 50 }, (_, t) =>
      topic(`t${t}`, Array.from({ length: 20 }, (_, k) => (k % 5 === 0 ? `${made(t * 20 + k)} ${made(5000 + k)}` : made(t * 20 + k)))),
    );
    const many = compileTopics(definitions);
    const filler = Array.from({ length: 2000 }, (_, i) => made(2000 + (i % 997)));
    filler[1000] = made(7 * 20 + 3); // a keyword of t7
    filler[1500] = made(30 * 20 + 5); // t30's phrase ...
    filler[1501] = made(5000 + 5); // ... complete
    filler[1700] = made(40 * 20); // t40's phrase, first word only
    assert.deepEqual(many.match(item({ text: filler.join(" ") })), [ALL_TOPIC, "t7", "t30"]);
  });
});
