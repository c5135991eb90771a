/**
 * Words of a text, the way topics and summaries compare them: Unicode word segmentation,
 * lower case, and a Snowball stem chosen by the word's script, so "Китаю" and "Китаем",
 * "sanction" and "sanctions" meet on one form.
 */
import snowball from "snowball-stemmers";

/** Languages newswire tells apart; anything else is treated with the English stemmer's rules. */
export type Language = "ru" | "en";

const russian = snowball.newStemmer("russian");
const english = snowball.newStemmer("english");
const wordSegmenter = new Intl.Segmenter("und", { granularity: "word" });
const CYRILLIC = /\p{Script=Cyrillic}/u;
const CYRILLIC_G = /\p{Script=Cyrillic}/gu;
const LATIN_G = /\p{Script=Latin}/gu;

/** The word-like segments of `text`, lower-cased, in order ("ё" folded to "е"). */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const segment of wordSegmenter.segment(text)) {
    if (segment.isWordLike) out.push(segment.segment.toLowerCase().replaceAll("ё", "е"));
  }
  return out;
}

/** The Snowball stem of one lower-case word; the stemmer follows the word's own script. */
export function stem(word: string): string {
  return CYRILLIC.test(word) ? russian.stem(word) : english.stem(word);
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
