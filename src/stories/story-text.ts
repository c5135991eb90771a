/**
 * An item's terms for story clustering: the stemmed content words and the numbers of its title and
 * summary, each with a weight. What tells one event from another on the same topic is who, where
 * and how much, so names (capitalised words not at a sentence's start, acronyms) and numbers weigh
 * more than plain words, and title words more than summary words. How rare a term is among recent
 * items (IDF) is not decided here: it changes as the window moves, so the index applies it.
 */
import { eng, rus } from "stopword";
import { fold, stem, writtenWords } from "../text/words.js";

/** What a term is: names and numbers anchor a story to one event, plain words only to a topic. */
export type TermKind = "word" | "entity" | "number";

/** One term of an item. */
export interface StoryTerm {
  /** The item's own weight for the term (before IDF). */
  weight: number;
  /** The term as the item first wrote it (folded), for explanations: stems read badly in a log. */
  surface: string;
  kind: TermKind;
}

/** An item's terms by key: a stem, or a number in a normalised form ("6,1" and "6.1" as "6.1"). */
export type StoryTerms = Map<string, StoryTerm>;

/** The title says what the story is; the summary adds words that are often less specific. */
const TITLE_WEIGHT = 1.5;
const ENTITY_WEIGHT = 2;
const NUMBER_WEIGHT = 2;

/** Both lists at once: Russian news quotes English names and the reverse. */
const STOP_WORDS = new Set([...eng, ...rus].map(fold));

/** Digits with inner decimal or thousands separators, taken before words so "6.1" stays whole. */
const NUMBER = /\p{Nd}+(?:[.,]\p{Nd}+)*/gu;
/**
 * Sentence ends: the word after one is capitalised by grammar, not because it is a name. The dot
 * of an initial or a dotted acronym ("J. Powell", "the U.S. Federal Reserve") ends no sentence.
 */
const SENTENCE_BREAK = /(?<=[.!?…])(?<!(?:^|[\s.])\p{Lu}\.)\s+/u;
const CAPITALISED = /^\p{Lu}/u;
const HYPHEN_END = /[-‐‑]$/u;
/** Two or more letters, all capitals (ЦБ, NATO, U.S.); dots and hyphens allowed inside. */
const ACRONYM = /^(?=(?:[^\p{L}]*\p{Lu}){2})[\p{Lu}.\-‐‑]+$/u;
/** Words this long in a title tell Title Case ("Fed Holds Rates Steady") from sentence case. */
const TITLE_CASE_MIN_LENGTH = 4;
const TITLE_CASE_SHARE = 0.6;

/**
 * Whether a title capitalises most of its words (AP and some feeds do): then capitals say nothing
 * about names, and only acronyms count as entities in it.
 */
function isTitleCase(title: string): boolean {
  const candidates = writtenWords(title)
    .slice(1)
    .filter((word) => word.length >= TITLE_CASE_MIN_LENGTH && !STOP_WORDS.has(fold(word)));
  if (candidates.length < 3) return false;
  const capitalised = candidates.filter((word) => CAPITALISED.test(word)).length;
  return capitalised / candidates.length >= TITLE_CASE_SHARE;
}

/** Collects occurrences; a term's weight is its heaviest occurrence, growing slowly with repeats. */
class TermCollector {
  readonly #seen = new Map<string, StoryTerm & { count: number }>();

  note(key: string, weight: number, surface: string, kind: TermKind): void {
    const term = this.#seen.get(key);
    if (term === undefined) {
      this.#seen.set(key, { weight, surface, kind, count: 1 });
      return;
    }
    term.count++;
    if (weight > term.weight) term.weight = weight;
    if (kind !== "word" && term.kind === "word") term.kind = kind;
  }

  /** Sub-linear in repeats: a summary that repeats the title's noun has not said it twice as much. */
  terms(): StoryTerms {
    const terms: StoryTerms = new Map();
    for (const [key, { weight, surface, kind, count }] of this.#seen) {
      terms.set(key, { weight: weight * (1 + Math.log(count)), surface, kind });
    }
    return terms;
  }
}

function collectField(collector: TermCollector, text: string, fieldWeight: number, capitalsMeanNames: boolean): void {
  for (const [number] of text.matchAll(NUMBER)) {
    const key = number.replaceAll(",", ".");
    collector.note(key, fieldWeight * NUMBER_WEIGHT, key, "number");
  }
  for (const sentence of text.replace(NUMBER, " ").split(SENTENCE_BREAK)) {
    writtenWords(sentence).forEach((written, index) => {
      const capitalised = CAPITALISED.test(written);
      const acronym = capitalised && ACRONYM.test(written);
      const entity = acronym || (capitalsMeanNames && index > 0 && capitalised);
      // A written word is one word of `words` but for a compound's hyphen, and for a dotted
      // acronym, which is one name ("U.S."): split on its dots it would be letters, too short to keep.
      const word = fold(acronym ? written.replaceAll(".", "") : written).replace(HYPHEN_END, "");
      // An acronym that spells a stop word ("US", "ОН"…) is still a name.
      if (word.length < 2 || (!acronym && STOP_WORDS.has(word))) return;
      collector.note(stem(word), fieldWeight * (entity ? ENTITY_WEIGHT : 1), word, entity ? "entity" : "word");
    });
  }
}

/** The weighted terms of an item's title and summary. */
export function storyTerms(title: string, summary: string): StoryTerms {
  const collector = new TermCollector();
  collectField(collector, title, TITLE_WEIGHT, !isTitleCase(title));
  collectField(collector, summary, 1, true);
  return collector.terms();
}
