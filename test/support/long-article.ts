/**
 * An article far longer than any real one, for the cost of summarising it: `count` distinct
 * sentences of about 100 characters, five to a paragraph, drawn from one small vocabulary (as
 * news repeats its words), so nearly every pair of sentences shares words and has to be compared.
 */
const ADJECTIVES = ["northern", "coastal", "municipal", "regional", "eastern", "rural", "central"];
const NOUNS = ["council", "harbour board", "water utility", "school district", "port authority", "transit agency", "health service", "police department", "fire brigade", "parks office", "housing trust"];
const PLACES = ["Port Alder", "Millbrook", "Greyhaven", "Eastmoor", "Redcliff", "Ashford", "Lowater", "Brinehold", "Kestrel Bay", "Norwick", "Fallow Cross", "Saltmere", "Oakridge"];
const THINGS = ["contracts", "complaints", "repairs", "vacancies", "permits", "grants", "inspections", "delays", "closures", "projects", "hires", "audits", "leases", "fines", "reviews", "surveys", "tenders"];
const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const EVENTS = ["budget hearing", "annual review", "public meeting", "spring audit", "board vote", "site visit", "press briefing", "winter storm", "summer recess", "court ruling", "state inspection", "union talks", "funding round", "census count", "election", "bond sale", "harvest fair", "flood warning", "road survey"];

/** Sentence `i` of the article; no two are the same. */
function sentence(i: number): string {
  const pick = <T>(list: readonly T[], step: number): T => list[(i * step) % list.length]!;
  return (
    `The ${pick(ADJECTIVES, 1)} ${pick(NOUNS, 3)} of ${pick(PLACES, 5)} reported ${i + 2} new ${pick(THINGS, 7)} ` +
    `on ${pick(DAYS, 2)}, officials said after the ${pick(EVENTS, 11)}.`
  );
}

/** The article's text: `count` sentences, paragraphs of five split by blank lines. */
export function longArticleText(count: number): string {
  const paragraphs: string[] = [];
  for (let start = 0; start < count; start += 5) {
    paragraphs.push(Array.from({ length: Math.min(5, count - start) }, (_, k) => sentence(start + k)).join(" "));
  }
  return paragraphs.join("\n\n");
}
