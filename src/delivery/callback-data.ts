/**
 * The callback data of the buttons under newswire's messages, typed: each kind has one encoding,
 * within Telegram's 64 bytes whatever its fields, and decoding checks it whole, so a button from
 * an older version or a forged query is "unknown", never half-read. (The topic menu's
 * `topic:<id>` buttons are bot/features/topics-keyboard.ts's own.)
 */
/** A button's data: "Read here" of an archived item, or a page of a `/search` reply. */
export type CallbackData = { kind: "read"; ref: string } | { kind: "search"; page: number };

const REF = /^[A-Za-z0-9_-]{1,40}$/;
/** The most pages a search is turned through: deeper than anyone reads, bounded for the store. */
export const MAX_SEARCH_PAGE = 50;

export function encodeCallback(data: CallbackData): string {
  return data.kind === "read" ? `read:${data.ref}` : `search:${data.page}`;
}

/** The data of a button, or undefined when it is none of these (or malformed). */
export function decodeCallback(text: string): CallbackData | undefined {
  const [kind, value = "", ...rest] = text.split(":");
  if (rest.length > 0) return undefined;
  if (kind === "read" && REF.test(value)) return { kind, ref: value };
  if (kind === "search" && /^\d{1,3}$/.test(value) && Number(value) <= MAX_SEARCH_PAGE) return { kind, page: Number(value) };
  return undefined;
}

/** The `/start` parameter of a deep link that opens an item's article in the private chat. */
export const readStartParameter = (ref: string): string => `read_${ref}`;

/** The ref of a `/start` parameter made by {@link readStartParameter}. */
export function refOfStartParameter(parameter: string): string | undefined {
  const ref = parameter.startsWith("read_") ? parameter.slice("read_".length) : undefined;
  return ref !== undefined && REF.test(ref) ? ref : undefined;
}
