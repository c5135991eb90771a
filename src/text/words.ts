/**
 * Words of a text, the way topics and summaries compare them: runs of letters and digits,
 * lower case, and a Snowball stem chosen by the word's script, so "Китаю" and "Китаем",
 * "sanction" and "sanctions" meet on one form.
 */
import snowball from "snowball-stemmers";

/** Languages newswire tells apart; anything else is treated with the English stemmer's rules. */
export type Language = "ru" | "en";

const russian = snowball.newStemmer("russian");
const english = snowball.newStemmer("english");
// Letters and digits, with inner apostrophes ("Beijing's"); hyphens split, as in Unicode word
// segmentation. A regular expression rather than Intl.Segmenter, which is ~50× slower here.
const WORD = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*/gu;
const CYRILLIC = /\p{Script=Cyrillic}/u;
const CYRILLIC_G = /\p{Script=Cyrillic}/gu;
const LATIN_G = /\p{Script=Latin}/gu;

/** The word-like segments of `text`, lower-cased, in order ("ё" folded to "е"). */
export function words(text: string): string[] {
  return (text.match(WORD) ?? []).map(fold);
}

/** A word the way `words` compares it: composed (NFC), lower case, "ё" as "е". */
export function fold(word: string): string {
  return word.normalize("NFC").toLowerCase().replaceAll("ё", "е");
}

// As WORD, plus acronyms written with dots (U.S., E.U., С.Ш.А.) as one word, and a hyphen that
// joins a word to the next one kept on the first ("российско-" of "российско-китайский").
const WRITTEN_WORD = /(?:\p{Lu}\.){2,}|[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*(?:[-‐‑](?=[\p{L}\p{N}]))?/gu;

/**
 * The words of `text` as written, case kept, for matching that cares how a word is spelt: a
 * dotted acronym is one word with its dots ("U.S."), and the first part of a hyphenated compound
 * ends with its hyphen ("Российско-", then "китайский"). `words(text)` splits the same text
 * on every dot and hyphen.
 */
export function writtenWords(text: string): string[] {
  return text.match(WRITTEN_WORD) ?? [];
}

// Snowball costs tens of microseconds a word and news repeats its words, so stems are cached;
// the cache is dropped whole when full, which keeps it bounded without bookkeeping.
const STEM_CACHE_SIZE = 100_000;
const stemCache = new Map<string, string>();

/** The Snowball stem of one lower-case word; the stemmer follows the word's own script. */
export function stem(word: string): string {
  let stemmed = stemCache.get(word);
  if (stemmed === undefined) {
    stemmed = CYRILLIC.test(word) ? russian.stem(word) : english.stem(word);
    if (stemCache.size >= STEM_CACHE_SIZE) stemCache.clear();
    stemCache.set(word, stemmed);
  }
  return stemmed;
}

/** `words(text)` stemmed. */
export function stems(text: string): string[] {
  return words(text).map(stem);
}

/** The dominant language of `text` by script: Cyrillic letters make it Russian. */
export function detectLanguage(text: string): Language {
  const cyrillic = text.match(CYRILLIC_G)?.length ?? 0;
  const latin = text.match(LATIN_G)?.length ?? 0;
  return cyrillic > latin ? "ru" : "en";
}
