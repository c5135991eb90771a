/**
 * Site furniture in article text, line by line and sentence by sentence: the credits, captions,
 * prompts (subscribe, log in, read more, share, comment), bios, "originally appeared on" and
 * copyright lines that extraction lets through, in Russian and English and the common French,
 * German and Spanish forms; and a feed's own footer, found by its repetition across the feed's items.
 * Pure functions over text.
 */
import { detectLanguage, words } from "../text/words.js";
import { htmlToText, normaliseSpaces } from "./html-text.js";
import { SENTENCE_END, splitSentences } from "./summarize.js";

/**
 * A non-sentence paragraph (no terminal punctuation) this long is still prose, e.g. a text whose
 * last full stop was lost; shorter ones are headings, bylines, counters, captions and lists of
 * other headlines.
 */
const MIN_UNPUNCTUATED_PROSE_WORDS = 25;

/** Furniture is short; a sentence this long is article even if it mentions copyright or Telegram. */
const MAX_BOILERPLATE_WORDS = 30;

/**
 * How much of a text is filtered sentence by sentence (splitting costs ~0.3 s a megabyte, on the
 * event loop for a feed's text): far more than a summary reads; a huge item's rest is kept as it is.
 */
const MAX_SENTENCE_FILTERED_CHARS = 100_000;

/** Letter-or-digit boundary that works for Cyrillic too (`\b` is ASCII-only). */
const END = "(?![\\p{L}\\p{N}])";

/** Sentences (or whole lines) of site furniture that do look like sentences. */
const BOILERPLATE: RegExp[] = [
  // image and photo credits, captions
  new RegExp(
    `^(?:image source|image|photo(?:graph)?s?|pictures?|illustration|credits?|crédit(?: photo)?|foto|bild|imagen|фото(?:графия)?|иллюстрация|изображение|источник(?: фото| изображения)?)${END}\\s*(?:[:©/|]|by${END}|de${END}|von${END})`,
    "iu",
  ),
  /^\(?(?:photo|foto|фото|image)[^)]{0,80}\)$/iu,
  /\/\s*(?:getty images|afp|reuters|ap|epa|shutterstock|ria novosti|риа новости|тасс)\)?\.?$/iu,
  /^©|©\s*(?:provided by|\d{4})|^(?:copyright|\(c\))\s/iu,
  // "read also" links
  new RegExp(
    `^(?:read (?:also|more|next|the full (?:story|article))|continue reading|see also|related|more on this|more:|lire (?:aussi|la suite|également)|à lire aussi|weiterlesen|lesen sie (?:auch|mehr)|mehr zum thema|leer más|lea (?:también|más)|te puede interesar|читайте (?:также|тоже|ещ[её])|читать (?:далее|полностью)|смотрите также|также читайте|по теме)${END}`,
    "iu",
  ),
  // share prompts
  new RegExp(`^(?:share (?:this|on|via)|share$|partager|teilen|compartir|поделит(?:ь|е)ся${END})`, "iu"),
  // newsletter, channel and subscription prompts
  new RegExp(
    `^(?:subscribe|sign up|follow us|join us|abonnez-vous|inscrivez-vous|suivez-nous|abonnieren sie|folgen sie uns|suscr[ií]bete|suscr[ií]base|s[ií]guenos|подпи(?:шитесь|сывайтесь|ска)${END}|присоединяйтесь|следите за (?:нами|новостями))|newsletter|рассылк`,
    "iu",
  ),
  /(?:подпи|subscri|abonn|follow|folgen|s[ií]gu|следите|присоединяйтесь)[^.!?]{0,60}(?:telegram|телеграм|канал|channel|vk\b|вконтакте|дзен|youtube|twitter|facebook|instagram|whatsapp)/iu,
  /(?:наш(?:ем|ему|ими?)? |our )(?:telegram|телеграм|канал|channel)|(?:telegram|телеграм)[^.!?]{0,40}(?:первыми|узнавайте|join|follow)/iu,
  // log-in walls and banners for guests
  /^(?:sign in|log ?in|register|войти|вход|регистрация)$/iu,
  /(?:баннер|banner)[^.!?]{0,40}(?:показывается|незарегистрированн|unregistered|not (?:logged|signed) in)/iu,
  /^(?:please )?(?:log ?in|sign in|register|войдите|зарегистрируйтесь|авторизуйтесь|connectez-vous|melden sie sich an|inicia sesi[oó]n)(?![\p{L}\p{N}])/iu,
  /(?:already a (?:subscriber|member)|уже (?:есть аккаунт|зарегистрированы|подписаны)|déjà abonné|bereits abonnent|ya eres suscriptor)/iu,
  /^(?:войти|вход)(?: или | и |\s*\/\s*)(?:зарегистрироваться|регистрация)/iu,
  // comment prompts
  /(?:leave|post|add|write) a comment|join the discussion|оставить комментарий|^comments?(?: \(\d+\))?$|^комментари[ий](?: \(\d+\))?$/iu,
  // where the article first appeared
  /originally (?:appeared|published)|first (?:appeared|published) (?:on|in|at)(?![\p{L}])|впервые (?:опубликован|появил)|оригинал (?:статьи|материала)|(?:publié|paru) (?:initialement|à l'origine|d'abord)|erschien zuerst|ursprünglich (?:erschienen|veröffentlicht)|(?:publicado|apareci[oó]) originalmente/iu,
  // the line WordPress (Yoast SEO) appends to feed items, in English and Russian translations
  /^the post .+ appeared first on .+/iu,
  /^(?:сообщение|запись) .+ (?:появились сначала|впервые появилась) на .+/iu,
  // author bios
  /^(?:\p{Lu}[\p{L}'.-]+ ){1,3}(?:is|was) an? (?:[\p{L}-]+ ){0,4}(?:writer|reporter|editor|correspondent|journalist|columnist|contributor)(?![\p{L}])/u,
  /^(?:follow (?:him|her|them) on|you can (?:reach|contact|follow) (?:him|her|them)|about the author|об авторе)/iu,
  // advertising labels, skip links and cookie notices
  /^(?:advertisement|advertising|sponsored|реклама|publicité|anzeige|publicidad)$/iu,
  /^(?:skip to (?:main )?content|skip navigation|перейти к (?:содержанию|основному содержимому))/iu,
  /(?:we use cookies|uses cookies|используем (?:файлы )?cookie|utilise des cookies|verwendet cookies|utiliza cookies)/iu,
];

/** Furniture that only comes after the article: everything from it on is page footer. */
const END_OF_ARTICLE =
  /©\s*\d{4}|all rights reserved|все права защищены|rights to this material|права на (?:этот |данный )?материал|(?:leave|post|add|write) a comment|оставить комментарий/iu;

function wordCount(text: string): number {
  return text.split(" ").length;
}

/** True for a paragraph that reads as prose rather than as a heading, label or counter. */
function isProse(paragraph: string): boolean {
  return SENTENCE_END.test(paragraph) || wordCount(paragraph) >= MIN_UNPUNCTUATED_PROSE_WORDS;
}

/** True for a short sentence or line of site furniture. */
function isBoilerplate(text: string): boolean {
  return wordCount(text) <= MAX_BOILERPLATE_WORDS && BOILERPLATE.some((pattern) => pattern.test(text));
}

/** True for a short paragraph that only a page footer or comment section has. */
function isFooter(paragraph: string): boolean {
  return wordCount(paragraph) <= MAX_BOILERPLATE_WORDS && END_OF_ARTICLE.test(paragraph);
}

/**
 * Drops the site furniture from article text (one paragraph or line per `\n`): furniture lines and
 * furniture sentences inside paragraphs (credits, captions, share, subscribe, channel, log-in and
 * comment prompts, bios, "originally appeared on", WordPress's "The post … appeared first on …",
 * sentences in `repeated`, a feed's footer); everything from a copyright line or comment prompt that
 * follows the article on; and, once the text has prose at all, every short paragraph that is not a
 * sentence (headings, bylines, counters, lists of other headlines), since a summary is made of
 * sentences. A text with no prose at all keeps its other lines, so a feed's one-line blurb without a
 * full stop survives. Sentences are filtered in the text's first 100,000 characters. Returns
 * paragraphs separated by blank lines.
 */
export function stripBoilerplate(text: string, repeated: ReadonlySet<string> = new Set()): string {
  const language = detectLanguage(text);
  const isFurniture = (sentence: string) => isBoilerplate(sentence) || repeated.has(sentenceKey(sentence));
  const lines = text
    .split("\n")
    .map(normaliseSpaces)
    .filter((line) => line !== "");
  const firstProse = lines.findIndex((line) => isProse(line) && !isFurniture(line));
  const footer = firstProse === -1 ? -1 : lines.findIndex((line, i) => i > firstProse && isFooter(line));
  let read = 0;
  const paragraphs = lines
    .slice(0, footer === -1 ? undefined : footer)
    .map((paragraph) => {
      read += paragraph.length;
      if (read > MAX_SENTENCE_FILTERED_CHARS) return paragraph;
      const sentences = splitSentences(paragraph, language);
      const kept = sentences.filter((sentence) => !isFurniture(sentence));
      return kept.length === sentences.length ? paragraph : kept.join(" ");
    })
    .filter((paragraph) => paragraph !== "");
  return (firstProse === -1 ? paragraphs : paragraphs.filter(isProse)).join("\n\n");
}

/** Characters of the text's prose paragraphs: what a summary can be made of. */
export function proseLength(text: string): number {
  return text
    .split("\n")
    .filter((paragraph) => paragraph !== "" && isProse(paragraph))
    .reduce((sum, paragraph) => sum + paragraph.length, 0);
}

// ---------------------------------------------------------------------------------------------
// A feed's footer

/**
 * A footer must end at least this many of a feed's items (feeds list 10–50; in fewer, a shared
 * closing sentence is as likely the news itself, e.g. a follow-up story repeating its background)…
 */
const MIN_FOOTER_ITEMS = 5;
/** …and at least this share of the items that have text (two stories ending alike make no footer). */
const MIN_FOOTER_SHARE = 0.5;
/** How much of an entry's end, tags left out, must be the same in others for a footer to be looked for. */
const FOOTER_PROBE_CHARS = 40;
/** How much of an entry's HTML, from its end, a footer may take. */
const FOOTER_HTML_CHARS = 2_000;

/** A sentence as compared with a footer's: case, punctuation and spacing set aside. */
function sentenceKey(sentence: string): string {
  return words(sentence).join(" ");
}

/** An entry's end as plain characters: tags become spaces, whitespace is collapsed (entities stay encoded). */
function plainEnd(html: string): string {
  return normaliseSpaces(html.slice(-FOOTER_HTML_CHARS).replace(/<[^>]*>?/g, " "));
}

/** The longest common ending of `texts`. */
function commonEnding(texts: readonly string[]): string {
  let length = Math.min(...texts.map((text) => text.length));
  const first = texts[0] ?? "";
  for (const text of texts) {
    let same = 0;
    while (same < length && text[text.length - 1 - same] === first[first.length - 1 - same]) same++;
    length = same;
  }
  return first.slice(first.length - length);
}

/**
 * The footer a feed puts at the end of its items (a donation appeal, a promo, a disclaimer), as
 * sentence keys for `stripBoilerplate`'s `repeated`: the sentences of the longest ending that at
 * least 5 of the entries, and at least half of those with text, share. Fed the HTML of every entry
 * of one poll's feed document (feeds list their last 10–50 items each time), so it needs no memory
 * between polls; string comparison of the entries' ends and one parse, since this runs on every
 * changed feed.
 */
export function feedFooter(htmls: readonly string[]): Set<string> {
  const ends = htmls.map(plainEnd).filter((end) => end !== "");
  const groups = new Map<string, string[]>();
  for (const end of ends) {
    const probe = end.slice(-FOOTER_PROBE_CHARS);
    const group = groups.get(probe);
    if (group) group.push(end);
    else groups.set(probe, [end]);
  }
  const threshold = Math.max(MIN_FOOTER_ITEMS, Math.ceil(MIN_FOOTER_SHARE * ends.length));
  const group = [...groups.values()].find((members) => members.length >= threshold);
  if (group === undefined) return new Set();
  // Stories that end in the same punctuation share it before the footer: it is not the footer's.
  const ending = commonEnding(group).replace(/^[^\p{L}\p{N}]+/u, "");
  const sentences = splitSentences(htmlToText(ending));
  // A sentence the ending starts inside of is no sentence of an item: its key matches none.
  return new Set(sentences.map(sentenceKey).filter((key) => key !== ""));
}
