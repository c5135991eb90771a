/**
 * The words an archived item is found by, and the words of a query, in one form on both sides,
 * computed here for both stores (SQLite FTS5 and PostgreSQL tsvector index these, not the text):
 * each word that is not a stop word, as its Snowball stem (src/text/words.ts), and for a Russian
 * stem one more cut, of a final vowel, й or ь. Snowball stems forms of one word inconsistently
 * (Китай → кита, Китая → кит), and PostgreSQL's `russian` configuration, the same Snowball, does
 * too (`to_tsvector('russian', 'Китай')` is 'кита', the query 'Китая' is 'кит': checked), so
 * neither finds the other's form without the cut.
 * A term holds letters, marks and digits only: it can never be an operator of FTS5's or of
 * tsquery's syntax, whatever the user typed.
 */
import { eng, rus } from "stopword";
import { stem, words } from "../text/words.js";

const STOP_WORDS = new Set([...eng, ...rus].map((word) => word.toLowerCase().replaceAll("ё", "е")));
const CYRILLIC = /\p{Script=Cyrillic}/u;
const SOFT_END = /[аеиоуыэюяйь]$/u;
const APOSTROPHE_S = /['’]s$/u;
const APOSTROPHES = /['’]/gu;

/** The most words of a query that are searched for: the rest of a long paste is ignored. */
export const MAX_QUERY_WORDS = 8;

/** One written word (lower case, as `words` gives it) as a search term, or undefined for a stop word. */
export function searchTerm(word: string): string | undefined {
  const bare = word.replace(APOSTROPHE_S, "").replace(APOSTROPHES, "");
  if (bare.length < 2 || STOP_WORDS.has(bare)) return undefined;
  const stemmed = stem(bare);
  return CYRILLIC.test(stemmed) && stemmed.length > 3 && SOFT_END.test(stemmed) ? stemmed.slice(0, -1) : stemmed;
}

/** The search terms of a text, in order, repeats kept (they weigh in the ranking). */
export function searchWords(text: string): string[] {
  const terms: string[] = [];
  for (const word of words(text)) {
    const term = searchTerm(word);
    if (term !== undefined) terms.push(term);
  }
  return terms;
}

/** What a query asks for: every term, the last one also as the start of a longer word when `prefix`. */
export interface SearchTerms {
  terms: string[];
  /** The last term is the beginning of a word still being typed (inline queries). */
  prefix: boolean;
}

/** A query's terms: distinct, at most MAX_QUERY_WORDS; none for a query of stop words only. */
export function queryTerms(query: string, { prefix = false }: { prefix?: boolean } = {}): SearchTerms {
  return { terms: [...new Set(searchWords(query))].slice(0, MAX_QUERY_WORDS), prefix };
}

/** The terms as an FTS5 query: every term must occur (`"a" "b"`, the last `"c"*` as a prefix). */
export function ftsQuery({ terms, prefix }: SearchTerms): string {
  return terms.map((term, index) => `"${term}"${prefix && index === terms.length - 1 ? "*" : ""}`).join(" ");
}

/** The terms as a tsquery: every term must occur (`'a' & 'b'`, the last `'c':*` as a prefix). */
export function tsQuery({ terms, prefix }: SearchTerms): string {
  return terms.map((term, index) => `'${term}'${prefix && index === terms.length - 1 ? ":*" : ""}`).join(" & ");
}
