/**
 * The bot's own words in English and Russian. A typed dictionary rather than a runtime plugin:
 * broadcasts are worded outside any update's context, and the compiler checks every key and
 * parameter. Values are HTML-safe templates; parameters are escaped by the caller where they
 * come from users or feeds.
 */
import { en } from "./en.js";
import { ru } from "./ru.js";

/** Languages the bot speaks. */
export type Locale = "en" | "ru";

/** The message catalog's shape (English is the reference). */
export type Messages = typeof en;

const catalogs: Record<Locale, Messages> = { en, ru };

/** The locale for a Telegram `language_code` (or a stored preference): Russian speakers get Russian. */
export function localeOf(languageCode: string | undefined): Locale {
  const base = languageCode?.toLowerCase().split(/[-_]/)[0];
  return base === "ru" || base === "uk" || base === "be" || base === "kk" ? "ru" : "en";
}

/** The message catalog of a locale. */
export function messages(locale: Locale): Messages {
  return catalogs[locale];
}
