/**
 * The words an archived item is found by and the terms of a query (src/items/search-words.ts):
 * one form for every form of a word, stop words dropped, at most MAX_QUERY_WORDS distinct terms,
 * and terms that can never be operators of FTS5's or tsquery's syntax.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ftsQuery, MAX_QUERY_WORDS, queryForms, queryTerms, searchTerm, searchWords, tsQuery } from "../../src/items/search-words.js";

/** The primary term of each query word (its own form; queryForms gives the rest). */
const terms = (query: string) => queryTerms(query).words.map((forms) => forms[0]!);
const TERM = /^[\p{L}\p{M}\p{N}]+$/u;

describe("search words", () => {
  test("the forms of a Russian word give one term, the cut of its final vowel, й or ь included", () => {
    const forms = ["Китай", "Китая", "Китаю", "Китаем", "Китае", "китай", "КИТАЯ"];
    assert.equal(new Set(forms.flatMap(terms)).size, 1, forms.map((form) => `${form}: ${terms(form)}`).join(", "));
    assert.deepEqual(terms("Китай Китая Китаю Китаем Китае"), terms("Китай"));
    assert.deepEqual(terms("санкциями"), terms("санкции"));
    assert.deepEqual(terms("пошлинами"), terms("пошлины"));
    assert.deepEqual(terms("США"), ["сша"], "a short stem is kept whole");
  });

  test("English forms meet on their stem; ё is е; case does not count", () => {
    assert.deepEqual(terms("sanctioned"), terms("sanctions"));
    assert.deepEqual(terms("Sanctioning"), terms("SANCTION"));
    assert.deepEqual(terms("ёлка"), terms("елка"));
    assert.deepEqual(terms("ВВЁЛ"), terms("ввел"));
    assert.deepEqual(terms("Beijing's"), terms("Beijing"), "a possessive 's is dropped");
  });

  test("a decomposed ё (е + U+0308) is е as well; NFD text meets NFC text", () => {
    assert.deepEqual(terms("вве\u0308л"), terms("ввел"));
    assert.deepEqual(terms("cafe\u0301"), terms("café"));
  });

  test("stop words and one-letter words are dropped; a query of them has no terms", () => {
    assert.deepEqual(terms("the sanctions of the EU"), [...terms("sanctions"), ...terms("EU")]);
    assert.deepEqual(terms("санкции и пошлины в ЕС"), [...terms("санкции"), ...terms("пошлины"), ...terms("ЕС")]);
    for (const query of ["", "   ", "the of and", "и в на", "это что", "a", "я", "a OR b", "-x", "') OR 1=1 --", "&|!:*", "🔥🇷🇺"]) {
      assert.deepEqual(queryTerms(query), { words: [], prefix: false }, JSON.stringify(query));
    }
    assert.equal(searchTerm("the"), undefined);
    assert.equal(searchTerm("x"), undefined);
    assert.equal(searchTerm("и"), undefined);
  });

  test(`a query's terms are distinct, in order, at most ${MAX_QUERY_WORDS}`, () => {
    assert.deepEqual(terms("пошлины Китай пошлинами Китаю"), [...terms("пошлины"), ...terms("Китай")]);
    const many = Array.from({ length: MAX_QUERY_WORDS + 5 }, (_, index) => `word${index}`);
    assert.deepEqual(terms(many.join(" ")), many.slice(0, MAX_QUERY_WORDS));
    assert.equal(terms("x".repeat(10_000) + " " + "y ".repeat(5_000)).length, 1);
    assert.deepEqual(queryTerms("санкц", { prefix: true }), { words: [["санкц"]], prefix: true });
  });

  test("an item's words keep their repeats, in order", () => {
    assert.deepEqual(searchWords("Китай, Китая и Китаю"), [...terms("Китай"), ...terms("Китай"), ...terms("Китай")]);
    assert.deepEqual(searchWords("US sanctions; sanctioned again"), ["us", ...terms("sanctions"), ...terms("sanctions"), ...terms("again")]);
  });

  test("a term holds letters, marks and digits only, whatever the text", () => {
    const hostile = [
      "\"", "*", "'", "NEAR(a b)", "a OR b", "-x", "title:foo", "{title body}: x", "') OR 1=1 --", "&|!:*", "x <-> y", "'a':* & !b",
      "Beijing's ‘quoted’ “words”", "O'Reilly rock'n'roll", "e-mail user@example.org https://example.org/a?b=c#d", "C++ C# .NET 3.14 1,000",
      "🔥 👩‍👩‍👧 1\uFE0F\u20E3 \u0301\u0301 z\u0351a\u0352l\u0353g\u0354o \u200b\u200d\ufeff \u0000 \\ % _ $1 ;DROP TABLE x;",
      "हिन्दी العربية 中文 日本語 한국어 ελληνικά",
    ];
    for (const text of hostile) {
      for (const term of [...searchWords(text), ...queryTerms(text).words.flat(), ...queryTerms(text, { prefix: true }).words.flat()]) assert.match(term, TERM, `${JSON.stringify(text)} gave ${JSON.stringify(term)}`);
    }
  });

  test("ftsQuery: every word in one of its forms, joined by AND, the last one a prefix when asked", () => {
    assert.equal(ftsQuery({ words: [["кит"], ["пошлин"]], prefix: false }), '"кит" AND "пошлин"');
    assert.equal(ftsQuery({ words: [["кит", "кита"], ["пошлин"]], prefix: true }), '("кит" OR "кита") AND "пошлин"*');
    assert.equal(ftsQuery({ words: [["санкц"]], prefix: true }), '"санкц"*');
    assert.equal(ftsQuery({ words: [], prefix: true }), "");
    assert.equal(ftsQuery(queryTerms("title:foo OR NEAR(")), '"titl" AND "foo" AND "near"');
  });

  test("tsQuery: every word in one of its forms, joined by &, the last one a prefix when asked", () => {
    assert.equal(tsQuery({ words: [["кит"], ["пошлин"]], prefix: false }), "'кит' & 'пошлин'");
    assert.equal(tsQuery({ words: [["кит", "кита"], ["пошлин"]], prefix: true }), "('кит' | 'кита') & 'пошлин':*");
    assert.equal(tsQuery({ words: [["санкц"]], prefix: false }), "'санкц'");
    assert.equal(tsQuery({ words: [], prefix: false }), "");
    assert.equal(tsQuery(queryTerms("') OR 1=1 -- china")), "'china'");
  });

  test("a Russian query word is looked for in its case forms too, where Snowball stems them apart", () => {
    const finds = (query: string, text: string) => queryForms(query).some((form) => searchWords(text).includes(form));
    const pairs: [string, string][] = [
      ["Казахстан", "с Казахстаном"], ["Казахстаном", "Казахстан"], ["Казахстана", "Казахстан"],
      ["Лавров", "заявил Лаврову"], ["Лаврова", "Лавров"], ["Китая", "Китай"], ["Китай", "из Китая"], ["пошлины", "пошлинами"],
    ];
    for (const [query, text] of pairs) assert.ok(finds(query, text), `${query} finds ${text}: ${queryForms(query).join(", ")} in ${searchWords(text).join(", ")}`);
    assert.deepEqual(queryForms("sanctions"), terms("sanctions"), "an English word is one form");
  });

  test("inline: the last word is a prefix from 3 letters on, a stop word too; shorter it is a word", () => {
    assert.deepEqual(queryTerms("пошлины кита", { prefix: true }), { words: [queryForms("пошлины"), [...new Set(["кит", ...queryForms("кита")])]], prefix: true });
    // Typed whole, its case forms count as well: inline "Лаврову" finds "Лавров".
    const lavrov = queryTerms("Лаврову", { prefix: true });
    assert.ok(lavrov.words[0]!.includes(searchTerm("лавров")!), lavrov.words[0]!.join(", "));
    assert.equal(ftsQuery(lavrov), `(${lavrov.words[0]!.map((form, index) => `"${form}"${index === 0 ? "*" : ""}`).join(" OR ")})`);
    assert.deepEqual(queryTerms("sanctions the", { prefix: true }), { words: [queryForms("sanctions"), ["the"]], prefix: true });
    assert.deepEqual(queryTerms("sanctions up", { prefix: true }), { words: [queryForms("sanctions")], prefix: false });
    assert.deepEqual(queryTerms("sanctions on", { prefix: true }), { words: [queryForms("sanctions")], prefix: false });
  });
});
