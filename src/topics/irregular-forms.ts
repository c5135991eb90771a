/**
 * Forms of common place names that no ending rule derives from the name: the stem changes
 * (Египет → Египта, Москва → московский) or the adjective has a root of its own (navy → naval,
 * Britain → British, Германия → немецкий). A configured word listed here also matches each of
 * its forms here and their regular forms (Египта also gives Египте, Египтом; Turkish gives
 * Turkish's), as if the operator had written them too.
 *
 * Keys are lower case ("ё" as "е"). Forms are spelt as in running text and their capitals must be
 * capitals in the text, whatever the keyword's own case rule: English writes nationalities with a
 * capital, and "polish", "swede" are other words; Russian writes them in lower case (турецкий).
 * Regular forms are not listed: Китай/Китая, Пекин/Пекина, Украина/Украины, Германия/германский
 * already meet through the ending rules of src/topics/topics.ts; США is indeclinable.
 */
export const IRREGULAR_FORMS: ReadonlyMap<string, readonly string[]> = new Map([
  // Russian: a stem that changes between cases, or an adjective on another stem.
  ["египет", ["Египта"]],
  ["турция", ["турецкий"]],
  ["франция", ["француз"]],
  ["германия", ["немецкий", "немец", "немцы"]],
  ["польша", ["польский", "поляк"]],
  ["греция", ["греческий", "грек"]],
  ["швеция", ["шведский", "швед"]],
  ["норвегия", ["норвежский"]],
  ["чехия", ["чешский"]],
  ["дания", ["датский"]],
  ["финляндия", ["финский"]],
  ["венгрия", ["венгерский"]],
  ["литва", ["литовский"]],
  ["италия", ["итальянский", "итальянец"]],
  ["беларусь", ["белорусский"]],
  ["грузия", ["грузинский"]],
  ["армения", ["армянский", "армянин"]],
  ["куба", ["кубинский"]],
  ["москва", ["московский", "москвич"]],
  ["одесса", ["одесский"]],
  // English: an adjective or people not formed by a suffix on the name.
  ["navy", ["naval"]],
  ["britain", ["British", "Briton"]],
  ["england", ["English"]],
  ["scotland", ["Scottish"]],
  ["wales", ["Welsh"]],
  ["ireland", ["Irish"]],
  ["france", ["French"]],
  ["spain", ["Spanish", "Spaniard"]],
  ["turkey", ["Turkish"]],
  ["poland", ["Polish"]],
  ["sweden", ["Swedish", "Swede"]],
  ["denmark", ["Danish", "Dane"]],
  ["finland", ["Finnish"]],
  ["norway", ["Norwegian"]],
  ["greece", ["Greek"]],
  ["netherlands", ["Dutch"]],
  ["switzerland", ["Swiss"]],
  ["portugal", ["Portuguese"]],
  ["belgium", ["Belgian"]],
  ["lebanon", ["Lebanese"]],
  ["cyprus", ["Cypriot"]],
  ["philippines", ["Filipino", "Philippine"]],
  ["afghanistan", ["Afghan"]],
  ["thailand", ["Thai"]],
]);
