/**
 * Story clustering (src/stories): one event from several feeds becomes one story, in Russian and
 * in English; another event on the same topic, a follow-up days later and a feed's own items do
 * not join; the window forgets; ties and explanations are deterministic.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { StoryIndex, type StoryItem } from "../../src/stories/story-index.js";
import { storyTerms } from "../../src/stories/story-text.js";

const T0 = Date.UTC(2026, 2, 10, 6, 0);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let serial = 0;
function item(feedId: string, minutes: number, title: string, summary: string, extra: Partial<StoryItem> = {}): StoryItem {
  return { key: `${feedId}/${++serial}`, feedId, title, summary, publishedAt: T0 + minutes * MINUTE, ...extra };
}

/** assign() for each item in order; the story of each. */
function stories(index: StoryIndex, items: StoryItem[]): string[] {
  return items.map((entry) => index.assign(entry, entry.publishedAt).storyId);
}

/** Items of other stories the same days, so that document frequencies are not those of 3 items. */
const BACKGROUND: StoryItem[] = [
  item("bg1", -300, "В Самаре открылся новый мост через Волгу", "Движение по мосту длиной 3,4 км запустили в присутствии губернатора Вячеслава Федорищева."),
  item("bg2", -280, "Минфин разместил облигации на 50 млрд рублей", "Спрос на ОФЗ на аукционе в среду превысил предложение в два раза, сообщило министерство."),
  item("bg3", -260, "Власти Ярославля отменили занятия в школах из-за морозов", "Температура в регионе опустилась до минус 32 градусов, сообщил Гидрометцентр."),
  item("bg4", -240, "Council approves new cycle lanes for Leeds city centre", "Leeds City Council voted on Tuesday to add 12 km of protected lanes by next summer."),
  item("bg5", -220, "Airline shares fall as fuel costs climb", "Shares in easyJet and Ryanair dropped more than 3% in London as jet fuel prices rose."),
  item("bg6", -200, "Researchers map coral loss on Australia's reef", "Scientists at James Cook University said bleaching had affected 40% of surveyed reefs."),
];

function withBackground(): StoryIndex {
  const index = new StoryIndex();
  stories(index, BACKGROUND);
  return index;
}

describe("StoryIndex", () => {
  test("the same event from three Russian sources, worded differently, is one story", () => {
    const index = withBackground();
    const [first, second, third] = stories(index, [
      item("tass", 0, "Извержение вулкана Шивелуч началось на Камчатке", "Вулкан Шивелуч выбросил столб пепла на высоту 8 км, сообщили в Камчатской группе реагирования на вулканические извержения. Авиации присвоен оранжевый код."),
      item("ria", 20, "Шивелуч выбросил пепел на восемь километров", "На Камчатке проснулся вулкан Шивелуч: пепловый шлейф протянулся на 60 км к западу, для самолетов объявлен оранжевый авиационный код."),
      item("lenta", 45, "Жителей камчатского поселка предупредили о пеплопаде после извержения Шивелуча", "Жителям поселка Ключи рекомендовали не выходить из домов. Высота выброса пепла над Шивелучем достигла 8 км."),
    ]);
    assert.equal(second, first);
    assert.equal(third, first);
  });

  test("the same event from three English sources, worded differently, is one story", () => {
    const index = withBackground();
    const [first, second, third] = stories(index, [
      item("reuters", 0, "Spain's Iberdrola agrees to buy UK grid operator for $9 billion", "Iberdrola said on Wednesday it would buy Electricity North West in a deal worth $9 billion including debt, expanding its British networks business."),
      item("bbc", 30, "Electricity North West sold to Spanish energy giant Iberdrola", "The company, which supplies power to 2.4 million homes in north-west England, is being bought by Iberdrola in a $9 billion deal."),
      item("ap", 70, "Iberdrola expands in Britain with $9 billion purchase", "Spanish utility Iberdrola will acquire Electricity North West, its chief executive Ignacio Galan said, calling Britain a key market."),
    ]);
    assert.equal(second, first);
    assert.equal(third, first);
  });

  test("two earthquakes the same day are two stories", () => {
    const index = withBackground();
    const [japan, chile] = stories(index, [
      item("reuters", 0, "Magnitude 6.1 earthquake strikes off Japan's Hokkaido", "The quake struck at a depth of 40 km off the eastern coast of Hokkaido, the Japan Meteorological Agency said. No tsunami warning was issued."),
      item("ap", 90, "Magnitude 6.3 earthquake strikes northern Chile", "The quake struck at a depth of 90 km near Antofagasta, the U.S. Geological Survey said. No tsunami warning was issued and no damage was reported."),
    ]);
    assert.notEqual(chile, japan);
  });

  test("two central banks' decisions the same day are two stories", () => {
    const index = withBackground();
    const [turkey, hungary] = stories(index, [
      item("interfax", 0, "ЦБ Турции снизил ключевую ставку до 38%", "Центробанк Турции понизил ставку на 150 базисных пунктов, до 38% годовых, сообщил регулятор по итогам заседания."),
      item("tass", 60, "ЦБ Венгрии сохранил ключевую ставку на уровне 6,5%", "Национальный банк Венгрии оставил ставку без изменений по итогам заседания, сообщил регулятор."),
    ]);
    assert.notEqual(hungary, turkey);
  });

  test("a follow-up days later is a new story", () => {
    const index = withBackground();
    const [outbreak, followUp] = stories(index, [
      item("reuters", 0, "Wildfire near Marseille forces 2,000 to evacuate", "Firefighters in southern France battled a wildfire north of Marseille that forced about 2,000 residents to leave their homes."),
      item("bbc", 3 * DAY / MINUTE, "Marseille wildfire: investigators say blaze was started deliberately", "Prosecutors in Marseille said the wildfire that forced 2,000 people to evacuate was started deliberately, and a man has been detained."),
    ]);
    assert.notEqual(followUp, outbreak);
  });

  test("items from one feed never join each other's story, nor a story that has the feed's item", () => {
    const index = withBackground();
    const [first, sameFeed, other, sameFeedAgain] = stories(index, [
      item("tass", 0, "«Аэрофлот» возобновит рейсы в Пхукет с 1 апреля", "Авиакомпания «Аэрофлот» возобновит прямые рейсы из Москвы в Пхукет с 1 апреля, сообщили в пресс-службе перевозчика."),
      item("tass", 10, "«Аэрофлот» возобновит рейсы из Москвы в Пхукет с 1 апреля", "Прямые рейсы «Аэрофлота» в Пхукет возобновятся с 1 апреля, сообщили в авиакомпании."),
      item("ria", 20, "«Аэрофлот» с 1 апреля вернет прямые рейсы в Пхукет", "Полеты из Москвы в Пхукет «Аэрофлот» возобновит с 1 апреля, рассказали в компании."),
      item("ria", 30, "«Аэрофлот» с 1 апреля вернет рейсы в Пхукет из Москвы", "«Аэрофлот» возобновит полеты в Пхукет с 1 апреля, сообщили в компании."),
    ]);
    assert.notEqual(sameFeed, first);
    // The ria item joins one of the two tass stories; the second ria item may join neither of them.
    assert.ok(other === first || other === sameFeed);
    assert.notEqual(sameFeedAgain, other);
  });

  test("items older than the window are forgotten", () => {
    const index = new StoryIndex({ windowMs: 12 * HOUR });
    const first = item("reuters", 0, "Dutch court orders Shell to cut emissions", "A court in The Hague ordered Shell to cut its carbon emissions by 45% by 2030.");
    index.assign(first, first.publishedAt);
    assert.equal(index.size, 1);
    index.evict(first.publishedAt + 12 * HOUR);
    assert.equal(index.size, 1, "an item exactly a window old is still in it");
    const late = item("bbc", 13 * 60, "Shell ordered by Dutch court to cut emissions by 45%", "Judges in The Hague said Shell must reduce its carbon emissions by 45% by 2030.");
    assert.equal(index.match(late, late.publishedAt), undefined, "not compared even before evict()");
    index.evict(late.publishedAt);
    assert.equal(index.size, 0);
    assert.equal(index.assign(late, late.publishedAt).storyId, late.key);
  });

  test("equal scores go to the earlier item, then to the lower key", () => {
    const title = "Volkswagen to close plant in Osnabrück by 2027";
    const summary = "Volkswagen will stop production at its Osnabrück plant in 2027, the carmaker said, affecting 2,300 workers.";
    const index = withBackground();
    index.add({ key: "z", feedId: "reuters", title, summary, publishedAt: T0 });
    index.add({ key: "y", feedId: "ap", title, summary, publishedAt: T0 });
    index.add({ key: "a", feedId: "bbc", title, summary, publishedAt: T0 + 2 * HOUR });
    const match = index.match({ key: "q", feedId: "dw", title, summary, publishedAt: T0 + HOUR }, T0 + HOUR);
    assert.equal(match?.matchedKey, "y");
    assert.equal(match?.storyId, "y");
  });

  test("a match explains itself: its score and the shared terms that made it", () => {
    const index = withBackground();
    const [first] = stories(index, [item("reuters", 0, "Ferrari recalls 3,000 cars over brake fault", "Ferrari is recalling 3,000 vehicles in Europe because of a brake fluid leak, the carmaker said.")]);
    const next = item("ap", 15, "Ferrari recalls 3,000 vehicles because of brake leak", "The Italian carmaker Ferrari said the brake fault affected 3,000 cars sold in Europe.");
    const match = index.match(next, next.publishedAt);
    assert.ok(match);
    assert.equal(match.storyId, first);
    assert.ok(match.score > 0 && match.score <= 1);
    assert.equal(match.embedding, undefined);
    for (const term of ["ferrari", "3.000", "brake"]) assert.ok(match.sharedTerms.includes(term), `${term} in ${match.sharedTerms.join(", ")}`);
    assert.ok(!match.sharedTerms.includes("the"));
  });

  test("embeddings, when both items have them, are blended into the score", () => {
    const a = item("reuters", 0, "Nokia to cut 14,000 jobs", "Nokia said it would cut up to 14,000 jobs to save costs.", { embedding: [1, 0, 0] });
    const b = item("bbc", 10, "Nokia announces 14,000 job cuts", "The Finnish firm Nokia will shed up to 14,000 jobs.", { embedding: [0, 1, 0] });
    const lexicalOnly = withBackground();
    lexicalOnly.add({ ...a, embedding: undefined });
    const plain = lexicalOnly.match({ ...b, embedding: undefined }, b.publishedAt);
    const blended = withBackground();
    blended.add(a);
    const orthogonal = blended.match(b, b.publishedAt);
    assert.ok(plain && orthogonal);
    assert.equal(orthogonal.lexical, plain.lexical);
    assert.equal(orthogonal.embedding, 0);
    assert.ok(Math.abs(orthogonal.score - plain.score / 2) < 1e-12, "half the score is the embeddings' (cosine 0)");
    const agreeing = blended.match({ ...b, embedding: [1, 0, 0] }, b.publishedAt);
    assert.equal(agreeing?.embedding, 1);
    assert.ok(agreeing.score > plain.score);
  });
});

describe("storyTerms", () => {
  test("names, acronyms and numbers outweigh plain words; a sentence's first word is no name", () => {
    const terms = storyTerms("Наводнение в Оренбурге: уровень Урала превысил 9 метров", "Вода поднялась ночью. МЧС эвакуировало 1 200 жителей Оренбурга, сообщили в U.S. и в ООН.");
    assert.equal(terms.get("оренбург")?.kind, "entity");
    assert.equal(terms.get("мчс")?.kind, "entity");
    assert.equal(terms.get("us")?.kind, "entity");
    assert.equal(terms.get("9")?.kind, "number");
    assert.equal(terms.get("вод")?.kind, "word", "capitalised only as a sentence's first word");
    assert.ok(terms.get("оренбург")!.weight > terms.get("уровен")!.weight);
  });

  test("Title Case titles do not make every word a name", () => {
    const terms = storyTerms("Senate Passes Sweeping Farm Bill After Long Delay", "The bill now goes to the House.");
    assert.equal(terms.get("sweep")?.kind, "word");
    assert.equal(terms.get("hous")?.kind, "entity");
  });
});
