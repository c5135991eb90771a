/**
 * When a chat takes its items: at once (the default), held for a digest (hourly, daily at a time,
 * weekly), and during its quiet hours held until they end or sent without a sound. Times are the
 * chat's own, in its IANA time zone. Pure: the caller says what "now" is.
 */

/** A digest's rhythm; `at` is minutes after local midnight. Weekly digests come on Mondays. */
export type Digest = { every: "hourly" } | { every: "daily"; at: number } | { every: "weekly"; at: number };

/** Quiet hours, minutes after local midnight, `from` to `to` (past midnight when `to` < `from`). */
export interface QuietHours {
  from: number;
  to: number;
  /** `hold`: items wait for the end (one digest then); `silent`: sent at once, without a sound. */
  mode: "hold" | "silent";
}

/** A chat's choices; absent fields are the defaults (no digest, UTC, no quiet hours). */
export interface DeliverySchedule {
  digest?: Digest;
  /** IANA name, e.g. `Europe/Moscow`. */
  timeZone?: string;
  quiet?: QuietHours;
}

/** What becomes of an item arriving now for a chat: sent now (maybe silently), or held until `until`. */
export type Timing = { send: "now"; silent: boolean } | { send: "held"; until: number };

const MINUTE = 60_000;
const DAY_MINUTES = 24 * 60;
/** Monday in `Intl`'s English weekday names, as weekly digests come. */
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONDAY = 1;

/** `HH:MM` (24-hour) as minutes after midnight, or undefined. */
export function parseClock(text: string): number | undefined {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(text.trim());
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

/** Minutes after midnight as `HH:MM`. */
export function formatClock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/** The canonical IANA name of a time zone (`europe/moscow` → `Europe/Moscow`), or undefined for an unknown one. */
export function canonicalTimeZone(name: string): string | undefined {
  // Offsets such as "+03:00" are valid to Intl but no IANA name; "UTC" and "Etc/…" are.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name.trim())) return undefined;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name.trim() }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * A formatter for `timeZone`; UTC for a name this Node's ICU does not know (a zone stored by a
 * newer one): one chat's odd zone must not stop the deliveries of every chat.
 */
function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    const options = { hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", weekday: "short" } as const;
    try {
      format = new Intl.DateTimeFormat("en-US", { ...options, timeZone });
    } catch {
      format = new Intl.DateTimeFormat("en-US", { ...options, timeZone: "UTC" });
    }
    formatters.set(timeZone, format);
  }
  return format;
}

/** The wall-clock parts of `instant` in `timeZone`. */
function localParts(instant: number, timeZone: string): { year: number; month: number; day: number; minutes: number; weekday: number } {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(instant).map(({ type, value }) => [type, value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
    weekday: WEEKDAYS.indexOf(parts.weekday!),
  };
}

/**
 * The instants a local date and time has in `timeZone`, earliest first: one, or two in the hour
 * a change back to winter time repeats; a time a change to summer time skips is taken as the
 * instant after the gap (02:30 on a night clocks go from 02:00 to 03:00 is 03:30).
 */
function instantsOf(year: number, month: number, day: number, minutes: number, timeZone: string): number[] {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  const offsetAt = (at: number) => {
    const local = localParts(at, timeZone);
    return Date.UTC(local.year, local.month - 1, local.day, 0, local.minutes) - Math.floor(at / MINUTE) * MINUTE;
  };
  // The offsets a day before and a day after: a change of offset happens at most once between them.
  const candidates = [...new Set([wall - offsetAt(wall - DAY_MINUTES * MINUTE), wall - offsetAt(wall + DAY_MINUTES * MINUTE)])].sort((a, b) => a - b);
  const valid = candidates.filter((at) => {
    const local = localParts(at, timeZone);
    return local.year === year && local.month === month && local.day === day && local.minutes === minutes;
  });
  // In a gap neither reads back as asked: the later candidate is the wall time pushed past the gap.
  return valid.length > 0 ? valid : [candidates.at(-1)!];
}

/** The first instant after `now` at local time `at` on a day `dayOk` accepts (within 8 days). */
function nextAt(now: number, at: number, timeZone: string, dayOk: (weekday: number) => boolean = () => true): number {
  const today = localParts(now, timeZone);
  const todayNoon = instantsOf(today.year, today.month, today.day, 12 * 60, timeZone)[0]!;
  for (let offset = 0; offset <= 8; offset++) {
    // Noon of the day `offset` days on, to read its date and weekday away from DST edges.
    const noon = localParts(todayNoon + offset * DAY_MINUTES * MINUTE, timeZone);
    if (!dayOk(noon.weekday)) continue;
    const candidate = instantsOf(noon.year, noon.month, noon.day, at, timeZone).find((instant) => instant > now);
    if (candidate !== undefined) return candidate;
  }
  throw new Error(`no local ${formatClock(at)} in ${timeZone} within 8 days of ${new Date(now).toISOString()}`);
}

/** The next digest after `now`. */
export function nextDigest(digest: Digest, now: number, timeZone = "UTC"): number {
  switch (digest.every) {
    case "hourly": {
      // The next local full hour: zones with half-hour offsets have theirs at :30 UTC.
      const local = localParts(now, timeZone);
      const minutesToHour = 60 - (local.minutes % 60);
      return Math.floor(now / MINUTE) * MINUTE + minutesToHour * MINUTE;
    }
    case "daily":
      return nextAt(now, digest.at, timeZone);
    case "weekly":
      return nextAt(now, digest.at, timeZone, (weekday) => weekday === MONDAY);
  }
}

/** Whether local minutes `minutes` fall within the quiet hours. */
function inQuiet({ from, to }: QuietHours, minutes: number): boolean {
  return from <= to ? minutes >= from && minutes < to : minutes >= from || minutes < to;
}

/** Whether `instant` falls in the chat's quiet hours. */
export function isQuiet(quiet: QuietHours | undefined, instant: number, timeZone = "UTC"): boolean {
  return quiet !== undefined && quiet.from !== quiet.to && inQuiet(quiet, localParts(instant, timeZone).minutes);
}

/** When quiet hours that hold `instant` end. */
function quietEnd(quiet: QuietHours, instant: number, timeZone: string): number {
  return nextAt(instant, quiet.to, timeZone);
}

/**
 * What becomes of an item that arrives at `now` for a chat with `schedule`: held for its next
 * digest (moved to the end of quiet hours that hold items, when it would fall in them); held
 * until the quiet hours end; sent silently in quiet hours of that kind; else sent now.
 */
export function timing(schedule: DeliverySchedule | undefined, now: number): Timing {
  const timeZone = schedule?.timeZone ?? "UTC";
  const quiet = schedule?.quiet;
  if (schedule?.digest) {
    const at = nextDigest(schedule.digest, now, timeZone);
    return { send: "held", until: quiet?.mode === "hold" && isQuiet(quiet, at, timeZone) ? quietEnd(quiet, at, timeZone) : at };
  }
  if (!isQuiet(quiet, now, timeZone)) return { send: "now", silent: false };
  return quiet!.mode === "hold" ? { send: "held", until: quietEnd(quiet!, now, timeZone) } : { send: "now", silent: true };
}

/** Whether a digest released at `instant` goes without a sound (it falls in silent quiet hours). */
export function releasedSilently(schedule: DeliverySchedule | undefined, instant: number): boolean {
  return schedule?.quiet?.mode === "silent" && isQuiet(schedule.quiet, instant, schedule.timeZone ?? "UTC");
}
