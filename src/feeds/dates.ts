/**
 * Dates as feeds write them. RFC 822 and ISO 8601 are meant, but the web also sends time-zone
 * abbreviations JavaScript does not know (`CEST`, `MSK`), one-digit times (`12:35:9+01:00`),
 * 12-hour clocks (`8:19 pm`) and day and month names in the site's language (`Seg, 24 Set 2018`).
 * Each is rewritten into a form `Date` reads; what still reads as no date stays undefined.
 */

/**
 * UTC offsets of the abbreviations news feeds use that `Date` does not read (it knows UT, UTC,
 * GMT, Z and the North American EST/EDT/CST/CDT/MST/MDT/PST/PDT). IST is India's (+05:30): far
 * more feeds are Indian than Irish or Israeli. Abbreviations naming two zones (AST, CST as China)
 * are left to `Date` or dropped.
 */
const ZONE_OFFSETS: Readonly<Record<string, string>> = {
  WET: "+0000", WEST: "+0100", BST: "+0100", CET: "+0100", CEST: "+0200", MET: "+0100", MEST: "+0200",
  MEZ: "+0100", MESZ: "+0200",
  EET: "+0200", EEST: "+0300", MSK: "+0300", MSD: "+0400", SAMT: "+0400", YEKT: "+0500", IST: "+0530",
  PKT: "+0500", ICT: "+0700", WIB: "+0700", HKT: "+0800", SGT: "+0800", AWST: "+0800", PHT: "+0800",
  JST: "+0900", KST: "+0900", ACST: "+0930", ACDT: "+1030", AEST: "+1000", AEDT: "+1100",
  NZST: "+1200", NZDT: "+1300", HST: "-1000", AKST: "-0900", AKDT: "-0800", NST: "-0330", NDT: "-0230",
  BRT: "-0300", ART: "-0300",
};

/**
 * Month names and abbreviations in the languages of the feeds newswire meets (Portuguese,
 * Spanish, French, German, Italian, Russian), by the first letters that tell them apart.
 */
const MONTH_PREFIXES: readonly [string, readonly string[]][] = [
  ["Jan", ["jan", "ene", "gen", "janv", "янв", "январ", "января"]],
  ["Feb", ["feb", "fev", "fév", "févr", "фев"]],
  ["Mar", ["mar", "mär", "mrz", "мар"]],
  ["Apr", ["apr", "abr", "avr", "апр"]],
  ["May", ["may", "mai", "mag", "мая", "май"]],
  ["Jun", ["jun", "juin", "giu", "июн"]],
  ["Jul", ["jul", "juil", "lug", "июл"]],
  ["Aug", ["aug", "ago", "aoû", "aou", "авг"]],
  ["Sep", ["sep", "set", "сен"]],
  ["Oct", ["oct", "okt", "ott", "out", "окт"]],
  ["Nov", ["nov", "ноя"]],
  ["Dec", ["dec", "dez", "dic", "déc", "дек"]],
];

/** A word of letters (any script) and the dot an abbreviation may end with. */
const WORD = /\p{L}+\.?/gu;

/** The English month a word names, or undefined. */
function month(word: string): string | undefined {
  const lower = word.toLowerCase().replace(/\.$/, "");
  // The longest matching prefix decides, so `juil` is July although `jui` would not say.
  let best: { name: string; length: number } | undefined;
  for (const [name, prefixes] of MONTH_PREFIXES) {
    for (const prefix of prefixes) {
      if (lower.startsWith(prefix) && prefix.length > (best?.length ?? 0)) best = { name, length: prefix.length };
    }
  }
  return best !== undefined && lower.length >= 3 ? best.name : undefined;
}

/** The date `text` gives, or undefined when it gives none. */
export function parseFeedDate(text: string): Date | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const direct = new Date(trimmed);
  if (!Number.isNaN(direct.getTime())) return direct;
  const rewritten = trimmed
    // A leading weekday in any language ("Seg,", "Di.,", "Вт,", "mar.," which is no March) tells
    // nothing the date does not.
    .replace(/^\p{L}+\.?,\s*/u, "")
    .replace(WORD, (word) => month(word) ?? ZONE_OFFSETS[word.toUpperCase()] ?? word)
    // One-digit hours, minutes or seconds, which ISO 8601 forbids and `Date` then refuses.
    .replace(/(?<![\d:])(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?![\d])/g, (_, h: string, m: string, s?: string) =>
      [h, m, ...(s === undefined ? [] : [s])].map((part) => part.padStart(2, "0")).join(":"),
    );
  const date = new Date(rewritten);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
