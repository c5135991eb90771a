/**
 * Topic matching: which topics an item belongs to, from its feed, its `<category>` values and the
 * words of its title and text (SPEC "Config file").
 *
 * Everything that depends only on the configuration is computed once by `compileTopics`. Matching
 * an item tokenises its title and text once (not once per topic) and costs one Map lookup per word
 * already seen (a handful the first time), whatever the number of topics. No regular expression is
 * ever built from configuration (ReDoS): keywords are matched as sequences of word tokens.
 *
 * Text words are taken as written (`writtenWords`): a dotted acronym is one word (U.S. is US), and
 * a hyphenated compound is two words, the first of which may take a linking vowel (российско-).
 *
 * Word forms. A configured word matches a text word when the text word is the word itself, or is
 * the word's *key* followed by an ending from a closed list of endings that the word allows:
 * - key: the Snowball stem (src/text/words.ts), widened back when Snowball removed more than an
 *   inflection (безопасность → безопасн is widened to безопасност + ь; election → elect to election).
 *   Text words are never stemmed, because Snowball stems forms of one word inconsistently
 *   (китай → кита but китая → кит, the stem of кит "whale"); cutting a text word into key + ending
 *   is what makes Китай, Китая, Китаю, Китаем, Китае meet.
 * - endings: Russian case endings of nouns and adjectives, and the suffixes of adjectives and
 *   people formed from a name (китайский, российские, украинцы, кремлёвский), and before a hyphen
 *   the first part of a compound adjective (российско-китайский, американо-); English -s, -ed, -ing
 *   (-e, -y, -ies and -es spelling variants), nationality suffixes formed from a name (Chinese,
 *   Russian, Ukrainian, Israeli), and -al after -ion, -ment, -ure, -ic (national, cultural).
 * - the bare key counts as a form only when the word's own ending allows it: Пекин, страна → стран,
 *   sanctions → sanction, but not Китай → кита (the whale's genitive) nor технологии → технолог.
 * - a key of 2 or 3 letters takes only endings that begin like the word's own (Сирия → Сирии,
 *   сирийский; Азия → Азии; Мали → малийский but never малый; navy → navies but not naves).
 * - exact only: words of at most 3 letters (Xi, UN: "Rus" never matches "Russia").
 * - irregular forms: stem changes and adjectives on another root are data, src/topics/irregular-forms.ts
 *   (Египет → Египта, Москва → московский, navy → naval, Britain → British).
 * Case. Keywords match in any case, except:
 * - a word the configuration writes in capitals is an acronym (NATO, США, ИИ, U.S., COVID-19):
 *   exact, and only in capitals ("US" is not "Let us explain"), or capitalised when it has 4
 *   letters or more (Nato);
 * - a keyword marked `{ word, case: sensitive }` keeps its capitals in the word's own forms, which
 *   tells names from homographs (Газа/газа "gas", Turkey/turkey, China/china); the adjectives and
 *   people formed from it keep their own spelling (Китай → китайский).
 * An English possessive 's is ignored on both sides (Beijing's, Xi's).
 * Known limits: where capitals say nothing, at the start of a sentence or in an all-capitals
 * headline, a common word still matches a marked name or an acronym ("Газ подорожал", "LET US
 * EXPLAIN"); a homograph in lower case ("navy blue") is for an `exclude` phrase.
 */
import { detectLanguage, fold, stem, writtenWords } from "../text/words.js";
import { IRREGULAR_FORMS } from "./irregular-forms.js";

/**
 * A keyword or exclude phrase whose capitals must be capitals in the text, so that a name stops
 * matching its lower-case homograph: `{ word: "Газа", case: "sensitive" }` matches «в Газе» but
 * not «поставки газа». Adjectives and people formed from the name keep their own spelling
 * (Китай → китайский).
 */
export interface CaseSensitiveKeyword {
  word: string;
  case: "sensitive";
}

/** A configured word or phrase: matched in any case, or as `CaseSensitiveKeyword` says. */
export type Keyword = string | CaseSensitiveKeyword;

/** A topic as the configuration defines it (validated and normalised by the config loader). */
export interface TopicDefinition {
  /** What users type: `[a-z0-9_-]+`, unique, never `all`. */
  id: string;
  /** What users see. */
  title: string;
  /** Words or phrases matched in an item's title and text, in any word form, case-insensitively unless marked. */
  keywords: Keyword[];
  /** Feed `<category>` values that put an item in this topic (whole value, any word form). */
  categories: string[];
  /** Words or phrases that keep an item out of this topic even when one of its keywords matched. */
  exclude: Keyword[];
}

/** The topic that always exists and matches every item. */
export const ALL_TOPIC = "all";

/** What `TopicMatcher.match` looks at in an item. */
export interface TopicMatchInput {
  /** The `topics` of the item's feed; ids that are not configured topics are ignored. */
  feedTopics: readonly string[];
  /** The item's `<category>` values. */
  categories: readonly string[];
  title: string;
  /** The item's plain text. */
  text: string;
}

/** A compiled topic configuration. */
export interface TopicMatcher {
  /** The configured topics in configuration order; `all` is implicit and not among them. */
  readonly topics: readonly TopicDefinition[];
  /**
   * The ids of the topics `input` belongs to: `all` first, then configured topics in configuration
   * order, each once. An item belongs to a topic when its feed lists the topic, when one of its
   * categories is one of the topic's categories, or when a keyword of the topic occurs in its title
   * or text and no `exclude` phrase of the topic does. `exclude` vetoes keyword matches only: feed
   * topics and categories are explicit assignments by the operator and the publisher.
   */
  match(input: TopicMatchInput): string[];
}

/**
 * Compiles topic definitions into a matcher. Throws on an id that is malformed, duplicated or
 * `all` (the config loader reports these to the operator first). A keyword, category or exclude
 * entry with no word in it (punctuation only) matches nothing.
 */
export function compileTopics(definitions: readonly TopicDefinition[]): TopicMatcher {
  checkIds(definitions);
  const vocabulary = new Vocabulary();
  const keywords = new PhraseIndex();
  const excludes = new PhraseIndex();
  const categories = new PhraseIndex();
  definitions.forEach((topic, index) => {
    for (const phrase of topic.keywords) keywords.add(vocabulary.phrase(phrase), index);
    for (const phrase of topic.exclude) excludes.add(vocabulary.phrase(phrase), index);
    for (const phrase of topic.categories) categories.add(vocabulary.phrase(phrase), index);
  });
  const indexById = new Map(definitions.map((topic, index) => [topic.id, index]));

  return {
    topics: definitions,
    match(input) {
      const assigned = new Uint8Array(definitions.length);
      const keywordHit = new Uint8Array(definitions.length);
      const excluded = new Uint8Array(definitions.length);
      for (const id of input.feedTopics) {
        const index = indexById.get(id);
        if (index !== undefined) assigned[index] = 1;
      }
      for (const category of input.categories) {
        const ids = vocabulary.tokenIds(category);
        // A category matches only as a whole: "Asia" is not "Asia Pacific".
        categories.visit(ids, 0, ids.length, (topic) => (assigned[topic] = 1));
      }
      for (const part of [input.title, input.text]) {
        const ids = vocabulary.tokenIds(part);
        for (let at = 0; at < ids.length; at++) {
          keywords.visit(ids, at, undefined, (topic) => (keywordHit[topic] = 1));
          excludes.visit(ids, at, undefined, (topic) => (excluded[topic] = 1));
        }
      }
      const out = [ALL_TOPIC];
      definitions.forEach((topic, index) => {
        if (assigned[index] || (keywordHit[index] && !excluded[index])) out.push(topic.id);
      });
      return out;
    },
  };
}

/** What a topic id may be: what users type after /subscribe. */
export const TOPIC_ID = /^[a-z0-9_-]+$/;

function checkIds(definitions: readonly TopicDefinition[]): void {
  const seen = new Set<string>();
  for (const { id } of definitions) {
    if (!TOPIC_ID.test(id)) throw new Error(`topic id "${id}" must match [a-z0-9_-]+`);
    if (id === ALL_TOPIC) throw new Error(`topic id "${ALL_TOPIC}" is reserved: it always exists`);
    if (seen.has(id)) throw new Error(`topic id "${id}" is defined twice`);
    seen.add(id);
  }
}

// ---- Endings ---------------------------------------------------------------------------------

function cross(heads: readonly string[], tails: readonly string[]): string[] {
  return heads.flatMap((head) => tails.map((tail) => head + tail));
}

const RU_NOUN = [
  "а", "я", "о", "е", "у", "ю", "ы", "и", "ь", "й", "ом", "ем", "ой", "ей", "ам", "ям", "ах", "ях",
  "ов", "ев", "ами", "ями", "ия", "ие", "ии", "ию", "ий", "ием", "ией", "иям", "иями", "иях",
  "ье", "ья", "ьи", "ью", "ьев", "ьей", "ьем", "ьям", "ьями", "ьях",
];
const RU_ADJECTIVE = [
  "ый", "ий", "ой", "ая", "яя", "ое", "ее", "ые", "ие", "ого", "его", "ому", "ему", "ым", "им",
  "ом", "ем", "ую", "юю", "ых", "их", "ыми", "ими", "ей",
];
/** Case endings of Russian nouns and adjectives (ё is folded to е by `words`). */
const RU_INFLECTION = new Set(["", ...RU_NOUN, ...RU_ADJECTIVE]);
/** Adjectives and people formed from a name: китайский, европейские, израильский; китаец, украинцы, россияне. */
const RU_DERIVED = [
  ...cross(["ск", "йск", "ийск", "ейск", "анск", "овск", "евск", "ьск"], RU_ADJECTIVE),
  "ец", "анец",
  ...cross(["ц", "йц", "ийц", "ейц", "анц"], ["а", "у", "ом", "е", "ы", "ев", "ам", "ами", "ах"]),
  ...cross(["иян", "ян"], ["ин", "ина", "ину", "ином", "ине", "е", "", "ам", "ами", "ах"]),
];
/**
 * The first part of a hyphenated compound adjective: the adjective's stem and a linking vowel
 * (российско-китайский, американо-, израильско-). Forms only before a hyphen.
 */
const RU_LINKED: ReadonlySet<string> = new Set(
  cross(["ск", "йск", "ийск", "ейск", "анск", "овск", "евск", "ьск", "ан"], ["о", "е"]),
);
/** Own endings after which the bare key is itself a form (страна → стран, выборы → выбор). */
const RU_BARE_OWN = new Set(["", "а", "о", "ы"]);

/** The forms of a word in -y: economy, economies; studied. */
const EN_Y = ["y", "ies", "ied"];
const EN_INFLECTION = new Set(["", "s", "es", "ed", "ing", "e", ...EN_Y]);
/** Adjectives in -al, only after the endings that take it: national, environmental, cultural, musical. */
const EN_AL = ["al", "als"];
const EN_AL_AFTER = ["ion", "ment", "ur", "ic"];
/** Nationality and adjective suffixes: Russian, Ukrainian, European, Chinese, Israeli, economic. */
const EN_DERIVED = ["n", "ns", "an", "ans", "ian", "ians", "ean", "eans", "ese", "i", "is", "ic", "ics"];
const EN_DERIVED_SET: ReadonlySet<string> = new Set(EN_DERIVED);
const EN_VOWELS = new Set(["a", "e", "i", "o", "u"]);
const EN_SIBILANT = ["s", "x", "z", "ch", "sh"];

const ALL_ENDINGS = new Set([...RU_INFLECTION, ...RU_DERIVED, ...RU_LINKED, ...EN_INFLECTION, ...EN_DERIVED, ...EN_AL]);
/** Endings that make a form of the word itself, where a case-sensitive word's capitals must stay. */
const INFLECTIONS: ReadonlySet<string> = new Set([...RU_INFLECTION, ...EN_INFLECTION]);
const LONGEST_ENDING = Math.max(...[...ALL_ENDINGS].map((ending) => ending.length));
/** Keys shorter than this give no forms. */
const MIN_KEY = 2;
/** Keys this short or shorter take only endings that begin like the configured word's own. */
const SHORT_KEY = 3;
/** Configured words this short match only themselves. */
const EXACT_MAX_LENGTH = 3;

/** One way a configured word may be written: `key` followed by one of `endings`. */
interface Form {
  key: string;
  endings: ReadonlySet<string>;
}

/**
 * The key + endings forms of one lower-case configured word that is not exact-only. A `named`
 * word must keep its capitals, which tell it from other words as well as a long key does.
 */
function formsOf(word: string, named: boolean): Form[] {
  const russian = detectLanguage(word) === "ru";
  const inflection = russian ? RU_INFLECTION : EN_INFLECTION;
  let key = commonPrefix(stem(word), word);
  // Porter2 spells a final y as i and keeps that i from -ies (economies → economi): key off the
  // i, so that economy and economies share the key econom.
  if (!russian && key.endsWith("i") && EN_Y.some((ending) => word.endsWith(ending))) key = key.slice(0, -1);
  const own = longestSuffixIn(word.slice(key.length), inflection);
  key = word.slice(0, word.length - own.length);
  if (key.length < MIN_KEY) return [];

  const forms: Form[] = [{ key, endings: endingsAfter(russian, key, own, named) }];
  // China → Chinese, Canada → Canadian: nationality suffixes also replace a final vowel.
  const vowelless = key.slice(0, -1);
  if (!russian && EN_VOWELS.has(key.at(-1)!) && vowelless.length > SHORT_KEY) {
    forms.push({ key: vowelless, endings: EN_DERIVED_SET });
  }
  return forms;
}

/** Ending sets by the few things they depend on, shared by every word that has them. */
const endingSets = new Map<string, ReadonlySet<string>>();

/** The endings `key` takes in a word whose own ending (after `key`) is `own`. */
function endingsAfter(russian: boolean, key: string, own: string, named: boolean): ReadonlySet<string> {
  const sibilant = !russian && EN_SIBILANT.some((tail) => key.endsWith(tail));
  const adjectival = !russian && EN_AL_AFTER.some((tail) => key.endsWith(tail));
  const short = key.length <= SHORT_KEY;
  const memo = `${russian}|${own}|${sibilant}|${adjectival}|${short}|${named}`;
  let endings = endingSets.get(memo);
  if (!endings) {
    const all = russian ? russianEndings(own) : englishEndings(own, sibilant, adjectival);
    // A short key is too short to trust with any ending: keep those that begin like the word's own,
    // for a word in -y its -ies, -ied (navy, navies; army, armies), and for a named word, whose
    // capital must stay, its case endings (Газа, в Газе; but not газовый).
    const likeOwn = (ending: string) =>
      ending.startsWith(own[0]!) || (EN_Y.includes(own) && EN_Y.includes(ending)) || (named && INFLECTIONS.has(ending));
    endings = new Set(short ? all.filter((ending) => own !== "" && likeOwn(ending)) : all);
    endingSets.set(memo, endings);
  }
  return endings;
}

function russianEndings(own: string): string[] {
  const inflections = [...RU_INFLECTION].filter((ending) => ending !== "" || RU_BARE_OWN.has(own));
  return [...inflections, ...RU_DERIVED, ...RU_LINKED];
}

function englishEndings(own: string, sibilant: boolean, adjectival: boolean): string[] {
  if (EN_Y.includes(own)) return [...EN_Y, ...EN_DERIVED];
  const derived = [...EN_DERIVED, ...(adjectival ? EN_AL : [])];
  // -es is a plural of its own only after a sibilant (matches); elsewhere it is -e + -s (vaccines).
  if (own === "e" || (own === "es" && !sibilant)) return ["e", "es", "ed", "ing", ...derived];
  return ["", "s", "ed", "ing", ...(sibilant ? ["es"] : []), ...derived];
}

function commonPrefix(a: string, b: string): string {
  let length = 0;
  while (length < a.length && a[length] === b[length]) length++;
  return a.slice(0, length);
}

/** The longest suffix of `tail` that is in `endings` ("" is always there). */
function longestSuffixIn(tail: string, endings: ReadonlySet<string>): string {
  for (let start = 0; start < tail.length; start++) {
    if (endings.has(tail.slice(start))) return tail.slice(start);
  }
  return "";
}

// ---- Spelling: how a text word must be written, case kept -------------------------------------

/** Whether a text word as written (dots, hyphen and possessive removed) is spelt as required. */
type Spelling = (letters: string) => boolean;

const LETTER = /\p{L}/u;
const isUpper = (char: string | undefined): boolean => char !== undefined && char !== char.toLowerCase();

/** A configured word written in capitals: an acronym (NATO, США, ИИ, U.S.). */
function isCapitals(letters: string): boolean {
  return LETTER.test(letters) && letters === letters.toUpperCase() && letters !== letters.toLowerCase();
}

/**
 * An acronym is matched in capitals only ("US", not "us"); one of 4 letters or more also in the
 * capitalised spelling some newspapers use (Nato, Unesco).
 */
function acronymSpelling(letters: string): Spelling {
  const long = letters.length >= 4;
  return (written) => isUpper(written[0]) && (long || written === written.toUpperCase());
}

/** The capitals of `letters` must be capitals in the text word; none: no requirement. */
function capitalsSpelling(letters: string): Spelling | undefined {
  const at = [...letters].flatMap((char, index) => (isUpper(char) ? [index] : []));
  return at.length === 0 ? undefined : (written) => at.every((index) => isUpper(written[index]));
}

const HYPHEN = new Set(["-", "‐", "‑"]);

/** A word from `writtenWords` without its acronym dots, its compound hyphen and an English possessive ('s). */
function lettersOf(written: string): string {
  let letters = HYPHEN.has(written.at(-1)!) ? written.slice(0, -1) : written;
  if (letters.includes(".")) letters = letters.replaceAll(".", "");
  return letters.endsWith("'s") || letters.endsWith("’s") ? letters.slice(0, -2) : letters;
}

// ---- Vocabulary: configured words and the text words that match them --------------------------

const NO_IDS: readonly number[] = [];
/** Text words whose matches are remembered; the memo is dropped whole when full. */
const MEMO_SIZE = 50_000;

/** A way to write a configured word: the text word's key, which endings follow it, how it must be spelt. */
interface KeyedEntry {
  id: number;
  endings: ReadonlySet<string>;
  spelling: Spelling | undefined;
}

/** The configured words, each with a number, and the lookup from a text word to the numbers it matches. */
class Vocabulary {
  private readonly ids = new Map<string, number>();
  private readonly exact = new Map<string, { id: number; spelling: Spelling | undefined }[]>();
  private readonly keyed = new Map<string, KeyedEntry[]>();
  // News repeats its words: a text word as written always gives the same numbers.
  private readonly memo = new Map<string, readonly number[]>();

  /** The word numbers of a configured phrase, registering its words on first sight. */
  phrase(keyword: Keyword): number[] {
    const sensitive = typeof keyword !== "string";
    return writtenWords(sensitive ? keyword.word : keyword).map((written) => this.word(lettersOf(written), sensitive));
  }

  /** For each word of `text`, the numbers of the configured words it matches. */
  tokenIds(text: string): (readonly number[])[] {
    return writtenWords(text).map((written) => this.idsOf(written));
  }

  private word(letters: string, sensitive: boolean): number {
    const word = fold(letters);
    const acronym = isCapitals(letters);
    const spelling = acronym ? acronymSpelling(letters) : sensitive ? capitalsSpelling(letters) : undefined;
    const name = `${acronym ? "=" : sensitive ? `^${letters}` : "~"}|${word}`;
    const known = this.ids.get(name);
    if (known !== undefined) return known;
    const id = this.ids.size;
    this.ids.set(name, id);
    this.memo.clear();
    if (acronym) push(this.exact, word, { id, spelling });
    else {
      this.add(id, word, spelling);
      for (const form of IRREGULAR_FORMS.get(word) ?? []) this.add(id, fold(form), capitalsSpelling(form));
    }
    return id;
  }

  /** Registers `word` and its forms as ways to write word number `id`. */
  private add(id: number, word: string, spelling: Spelling | undefined): void {
    push(this.exact, word, { id, spelling });
    if (word.length <= EXACT_MAX_LENGTH) return;
    for (const { key, endings } of formsOf(word, spelling !== undefined)) push(this.keyed, key, { id, endings, spelling });
  }

  private idsOf(written: string): readonly number[] {
    let ids = this.memo.get(written);
    if (ids === undefined) {
      ids = this.lookup(written);
      if (this.memo.size >= MEMO_SIZE) this.memo.clear();
      this.memo.set(written, ids);
    }
    return ids;
  }

  /** Every way to cut the text word into a known key and an ending that key allows: at most LONGEST_ENDING + 1 lookups. */
  private lookup(written: string): readonly number[] {
    const letters = lettersOf(written);
    const token = fold(letters);
    const compound = HYPHEN.has(written.at(-1)!);
    let found: number[] | undefined;
    const hit = (id: number) => {
      found ??= [];
      if (!found.includes(id)) found.push(id);
    };
    for (const { id, spelling } of this.exact.get(token) ?? []) if (!spelling || spelling(letters)) hit(id);
    for (let cut = Math.max(MIN_KEY, token.length - LONGEST_ENDING); cut <= token.length; cut++) {
      const ending = token.slice(cut);
      if (!ALL_ENDINGS.has(ending) || (!compound && RU_LINKED.has(ending))) continue;
      for (const { id, endings, spelling } of this.keyed.get(token.slice(0, cut)) ?? []) {
        if (!endings.has(ending)) continue;
        if (spelling && INFLECTIONS.has(ending) && !spelling(letters)) continue;
        hit(id);
      }
    }
    return found ?? NO_IDS;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

// ---- Phrases ---------------------------------------------------------------------------------

/** Phrases (sequences of word numbers) indexed by their first word, each with the topics it serves. */
class PhraseIndex {
  private readonly byFirst = new Map<number, { words: number[]; topics: number[] }[]>();

  add(words: number[], topic: number): void {
    const first = words[0];
    if (first === undefined) return;
    const phrases = this.byFirst.get(first) ?? [];
    const same = phrases.find((phrase) => phrase.words.join() === words.join());
    if (same) same.topics.push(topic);
    else {
      phrases.push({ words, topics: [topic] });
      this.byFirst.set(first, phrases);
    }
  }

  /**
   * Calls `hit` with the topics of every phrase that occurs in `tokens` starting at `at`
   * (and, when `length` is given, is exactly that many words long).
   */
  visit(tokens: readonly (readonly number[])[], at: number, length: number | undefined, hit: (topic: number) => void): void {
    for (const first of tokens[at] ?? NO_IDS) {
      for (const phrase of this.byFirst.get(first) ?? []) {
        if (length !== undefined && phrase.words.length !== length) continue;
        if (phrase.words.every((word, offset) => tokens[at + offset]?.includes(word))) phrase.topics.forEach(hit);
      }
    }
  }
}
