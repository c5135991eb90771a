/**
 * A labelled keyword suite: topics as an operator would configure them (Russian and English) and
 * texts, each with every topic it belongs to. test/unit/topics.test.ts asserts each case;
 * bench/topics.ts scores precision and recall over all (text, topic) pairs, for this code and a
 * baseline. Cases are the failures of issue 9 and their near misses, in both directions.
 */
import type { TopicDefinition } from "../../src/topics/topics.js";

function topic(id: string, keywords: TopicDefinition["keywords"], exclude: string[] = []): TopicDefinition {
  return { id, title: id, keywords, categories: [], exclude };
}

export const SUITE_TOPICS: TopicDefinition[] = [
  topic("usa", ["США", "US", "U.S.", "USA", "Америка", "America", { word: "Штаты", case: "sensitive" }, "Washington"]),
  topic("uk", ["UK", "U.K.", "Britain", "Великобритания", "London", "Лондон"]),
  topic("eu", ["EU", "E.U.", "ЕС", "Евросоюз"]),
  topic("russia", ["Россия", "Russia", "Кремль", "Kremlin", "Москва", "Moscow"]),
  topic("china", [{ word: "China", case: "sensitive" }, "Beijing", "Китай", "Пекин"]),
  topic("navy", ["navy", "флот", "warship"], ["navy blue"]),
  topic("military", ["army", "армия"]),
  topic("mideast", [{ word: "Газа", case: "sensitive" }, "Gaza", "Израиль", "Israel", "Египет", "Egypt"]),
  topic("turkey", [{ word: "Turkey", case: "sensitive" }, "Турция", "Ankara", "Анкара"]),
  topic("ai", ["AI", "ИИ", "искусственный интеллект"]),
  topic("politics", ["nation", "election", "выборы"]),
  topic("europe", ["Германия", "Франция", "Germany", "France", "Украина", "Poland"]),
];

/** [title, the topics it belongs to, in configuration order]. */
export const SUITE_CASES: [string, string[]][] = [
  // Acronyms with dots, and capitals-only keywords.
  ["U.S. Navy deploys a carrier", ["usa", "navy"]],
  ["US imposes new tariffs", ["usa"]],
  ["USA win the relay", ["usa"]],
  ["U.S.-China trade talks resume", ["usa", "china"]],
  ["Washington's response was swift", ["usa"]],
  ["Let us explain what happened", []],
  ["Join us on Sunday", []],
  ["Санкции США против банков", ["usa"]],
  ["Штаты ввели пошлины", ["usa"]],
  ["Посол в Соединённых Штатах", ["usa"]],
  ["Компания сократила штаты", []],
  ["штатный психолог школы", []],
  ["U.K. inflation rises again", ["uk"]],
  ["UK economy grows", ["uk"]],
  ["Britain's prime minister", ["uk"]],
  ["British officials said", ["uk"]],
  ["Выборы в Великобритании", ["uk", "politics"]],
  ["E.U. leaders meet in Brussels", ["eu"]],
  ["EU sanctions extended", ["eu"]],
  ["Решение ЕС по газу", ["eu"]],
  ["Если есть вопросы", []],
  ["Саммит Евросоюза", ["eu"]],
  ["AI chips in short supply", ["ai"]],
  ["ИИ-ассистент для врачей", ["ai"]],
  ["Развитие искусственного интеллекта", ["ai"]],
  ["Ai Weiwei opens a show", []],
  ["he said it was over", []],
  // Compound adjectives.
  ["Российско-китайский саммит", ["russia", "china"]],
  ["российско-американские отношения", ["usa", "russia"]],
  ["Китайско-индийская граница", ["china"]],
  ["израильско-палестинский конфликт", ["mideast"]],
  ["германо-французский проект", ["europe"]],
  ["украинско-польская граница", ["europe"]],
  ["Российский флот", ["russia", "navy"]],
  ["Russell Crowe stars", []],
  // English plurals and derived forms.
  ["The navies of the world", ["navy"]],
  ["Armies clash at the border", ["military"]],
  ["The army withdrew", ["military"]],
  ["Naval exercises in the Baltic", ["navy"]],
  ["The navy's newest warship", ["navy"]],
  ["National elections are due", ["politics"]],
  ["The nation's capital", ["politics"]],
  ["Armed robbery at a bank", []],
  ["The nave of the church", []],
  ["A donation drive", []],
  ["Electricity prices", []],
  // Homographs: names that count only capitalised, and the navy blue colour.
  ["navy blue dress for the party", []],
  ["A navy-blue jacket", []],
  ["China's exports fell", ["china"]],
  ["Chinese warships", ["china", "navy"]],
  ["A bone china tea set", []],
  ["Fine china and porcelain", []],
  ["Удары по Газе", ["mideast"]],
  ["Гуманитарная помощь сектору Газа", ["mideast"]],
  ["Gaza ceasefire talks", ["mideast"]],
  ["Поставки газа в Европу", []],
  ["Цены на газ выросли", []],
  ["Turkey's president said", ["turkey"]],
  ["The Turkish lira fell", ["turkey"]],
  ["Roast turkey dinner recipes", []],
  ["Farmers raise turkeys", []],
  ["Polish farmers protest", ["europe"]],
  ["How to polish your shoes", []],
  ["French president visits", ["europe"]],
  ["Crispy french fries", []],
  // Russian stem changes and irregular adjectives.
  ["Туристы из Египта", ["mideast"]],
  ["Переговоры в Египте", ["mideast"]],
  ["Египет и Израиль", ["mideast"]],
  ["египетский президент", ["mideast"]],
  ["Egyptian officials", ["mideast"]],
  ["Лидер Израиля", ["mideast"]],
  ["Выборы в Турции", ["turkey", "politics"]],
  ["турецкий президент", ["turkey"]],
  ["Визит в Анкару", ["turkey"]],
  ["немецкий канцлер", ["europe"]],
  ["французские власти", ["europe"]],
  ["В Германии бастуют", ["europe"]],
  ["Герман Греф выступил", []],
  ["Поставки на Украину", ["europe"]],
  ["московский суд", ["russia"]],
  ["в Москве прошёл митинг", ["russia"]],
  ["Армии России", ["russia", "military"]],
];
