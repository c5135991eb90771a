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
import { fold, stem, words } from "../text/words.js";

const STOP_WORDS = new Set([...eng, ...rus].map((word) => word.toLowerCase().replaceAll("ё", "е")));
const CYRILLIC = /\p{Script=Cyrillic}/u;
const SOFT_END = /[аеиоуыэюяйь]$/u;
const APOSTROPHE_S = /['’]s$/u;
const APOSTROPHES = /['’]/gu;

/** The most words of a query that are searched for: the rest of a long paste is ignored. */
export const MAX_QUERY_WORDS = 8;

/** A written word (lower case, as `words` gives it) without a possessive 's or apostrophes. */
const bare = (word: string): string => word.replace(APOSTROPHE_S, "").replace(APOSTROPHES, "");

/** The term of a bare word, stop word or not. */
function termOf(word: string): string {
  const stemmed = stem(word);
  return CYRILLIC.test(stemmed) && stemmed.length > 3 && SOFT_END.test(stemmed) ? stemmed.slice(0, -1) : stemmed;
}

/** One written word (lower case, as `words` gives it) as a search term, or undefined for a stop word. */
export function searchTerm(word: string): string | undefined {
  const plain = bare(word);
  return plain.length < 2 || STOP_WORDS.has(plain) ? undefined : termOf(plain);
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

/**
 * Russian case endings of nouns (and of names, which Snowball cuts unevenly: Лавров → лавр but
 * Лаврова → лавров; Казахстан → казахста but Казахстаном → казахстан).
 */
const CASE_ENDINGS = ["а", "у", "ом", "е", "ы", "ов", "ам", "ами", "ах", "и", "ой", "ей", "ю", "ем", "я"];
/** The most terms one query word is looked for as. */
const MAX_FORMS = 6;

/**
 * The terms a query word matches: its own, and for a Russian word those of its case forms (its
 * stem alone, and the word and its stem with each case ending), so a form Snowball stems apart
 * from the one typed is still found. Terms that no text has cost a lookup and match nothing.
 */
export function queryForms(written: string): string[] {
  const word = bare(fold(written));
  const own = searchTerm(word);
  if (own === undefined) return [];
  if (!CYRILLIC.test(word)) return [own];
  // The stem alone too: the nominative of an inflected query (Лаврова → лавров → Лавров).
  const base = stem(word);
  const forms = new Set([own, termOf(base)]);
  for (const ending of CASE_ENDINGS) {
    for (const form of [word + ending, base + ending]) {
      if (forms.size < MAX_FORMS) forms.add(termOf(form));
    }
  }
  return [...forms];
}

/** What a query asks for: each of its words in one of its forms, the last perhaps still being typed. */
export interface SearchTerms {
  /** Per word, the terms of its forms (the word's own first). */
  words: string[][];
  /**
   * The last word may be the beginning of a word still being typed (inline queries): the first
   * term of its group is matched as a prefix, its case forms (when the word is whole) as they are.
   */
  prefix: boolean;
}

/** Shorter beginnings of a word are not matched as prefixes: they begin too many words to mean one. */
const MIN_PREFIX = 3;

/**
 * A query's words: distinct, at most MAX_QUERY_WORDS; none for a query of stop words only. With
 * `prefix`, a last word of MIN_PREFIX letters or more is taken as the beginning of a longer one,
 * a stop word too ("the" may be "theatre" half typed).
 */
export function queryTerms(query: string, { prefix = false }: { prefix?: boolean } = {}): SearchTerms {
  const typed = words(query);
  const last = typed.at(-1);
  const partial = prefix && last !== undefined && bare(last).length >= MIN_PREFIX ? [...new Set([termOf(bare(last)), ...queryForms(last)])] : undefined;
  const groups = new Map<string, string[]>();
  for (const word of partial === undefined ? typed : typed.slice(0, -1)) {
    const forms = queryForms(word);
    if (forms.length > 0 && !groups.has(forms[0]!)) groups.set(forms[0]!, forms);
  }
  const whole = [...groups.values()].slice(0, partial === undefined ? MAX_QUERY_WORDS : MAX_QUERY_WORDS - 1);
  return partial === undefined ? { words: whole, prefix: false } : { words: [...whole, partial], prefix: true };
}

/** A query in one syntax: how a term is written, as a prefix, and how alternatives and words are joined. */
interface Syntax {
  term(term: string, prefix: boolean): string;
  or: string;
  and: string;
}

function written({ words: groups, prefix }: SearchTerms, syntax: Syntax): string {
  return groups
    .map((forms, index) => {
      const terms = forms.map((form, position) => syntax.term(form, prefix && index === groups.length - 1 && position === 0));
      return terms.length === 1 ? terms[0]! : `(${terms.join(syntax.or)})`;
    })
    .join(syntax.and);
}

/**
 * An FTS5 query: every word must occur in one of its forms (`"a" AND ("b" OR "c")`, a prefix
 * `"d"*`; FTS5 takes no implicit AND after a parenthesis).
 */
export const ftsQuery = (terms: SearchTerms): string => written(terms, { term: (term, prefix) => `"${term}"${prefix ? "*" : ""}`, or: " OR ", and: " AND " });

/** A tsquery: every word must occur in one of its forms (`'a' & ('b' | 'c')`, a prefix `'d':*`). */
export const tsQuery = (terms: SearchTerms): string => written(terms, { term: (term, prefix) => `'${term}'${prefix ? ":*" : ""}`, or: " | ", and: " & " });
