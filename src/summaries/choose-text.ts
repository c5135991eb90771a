/**
 * Which text an item is summarised from, when a `fulltext` feed's article page was read: the
 * page's or the feed's. Decided by quality, not length: 15 characters of "Skip to content" must
 * not beat a one-line description, and a login wall or another article must not beat the feed.
 */
import { stem, words } from "../text/words.js";
import { proseLength } from "./furniture.js";

/** What the choice weighs; both texts already cleaned of furniture (`stripBoilerplate`). */
export interface TextChoice {
  title: string;
  feedText: string;
  pageText: string;
}

/** Words shorter than this are mostly function words in every language newswire reads. */
const MIN_REFERENCE_WORD = 4;
/** How much of the feed's text is the item's reference besides its title (its lead). */
const REFERENCE_CHARS = 300;
/** Fewer reference words than this say too little to judge a page by. */
const MIN_REFERENCE_WORDS = 2;
/** The share of the title's and lead's words a page about the same story has (stems, as substrings). */
const MIN_OVERLAP = 0.3;

/** Scripts written without spaces: a "word" is a whole clause there, compared by its character pairs. */
const UNSPACED = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Thai}]/u;

/** What a reference word is looked for by: its stem, or the character pairs of an unspaced run. */
function terms(word: string): string[] {
  if (UNSPACED.test(word)) {
    const chars = [...word];
    return chars.length < 2 ? [] : chars.slice(1).map((char, i) => chars[i]! + char);
  }
  return word.length >= MIN_REFERENCE_WORD ? [stem(word)] : [];
}

/** Between a page title's headline and its site name, section or series: "Headline - Site", "Headline | Site", "Headline ＜Site＞". */
const TITLE_SEPARATOR = /\s[-–—|:·•»/]\s|::|[|[\]<>＜＞【】「」]/u;

/** The headline of a title that may carry the site's name: its longest part between separators. */
function headline(title: string): string {
  return title.split(TITLE_SEPARATOR).reduce((longest, part) => (part.trim().length > longest.length ? part.trim() : longest), "");
}

/** Share of `reference`'s terms found in `page` (its words joined), or undefined when it has too few to judge by. */
function shareFound(reference: string, page: string): number | undefined {
  const wanted = new Set(words(reference).flatMap(terms));
  if (wanted.size < MIN_REFERENCE_WORDS) return undefined;
  let found = 0;
  for (const term of wanted) if (page.includes(term)) found++;
  return found / wanted.size;
}

/**
 * How much the page text is about the item: the larger share of the words of the title's headline,
 * or of the feed text's lead, that it has (by stem, so inflected forms count; by character pairs
 * in Chinese and Japanese); undefined when neither gives enough words to judge by.
 */
export function overlap({ title, feedText, pageText }: TextChoice): number | undefined {
  const page = words(pageText).join(" ");
  const shares = [shareFound(headline(title), page), shareFound(feedText.slice(0, REFERENCE_CHARS), page)];
  const known = shares.filter((share) => share !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

/**
 * "page" when the page's text has prose (sentence-like paragraphs) and either the feed's text has
 * none, or the page is about the item (it shares enough of the headline's or lead's words, or
 * there are too few to tell) and has at least as much prose as the feed's text; otherwise "feed".
 * A page without prose never wins: "Skip to content" is no summary.
 */
export function chooseText(choice: TextChoice): "page" | "feed" {
  const pageProse = proseLength(choice.pageText);
  if (pageProse === 0) return "feed";
  const feedProse = proseLength(choice.feedText);
  if (feedProse === 0) return "page";
  const shared = overlap(choice);
  if (shared !== undefined && shared < MIN_OVERLAP) return "feed";
  return pageProse >= feedProse ? "page" : "feed";
}
