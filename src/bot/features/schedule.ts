/**
 * `/digest`, `/timezone`, `/quiet`: when a chat takes its items. Each shows the chat's current
 * choice when given nothing, answers a bad value with its usage, and changes only its own part of
 * the schedule. A chat must subscribe first (the schedule is part of its subscription).
 */
import { Composer } from "grammy";
import type { BotContext } from "../context.js";
import type { BotDeps } from "../deps.js";
import { commandArgs, mayManageChat, subscriberTarget } from "../chat.js";
import { saveOrTell } from "../saving.js";
import { canonicalTimeZone, formatClock, parseClock, timing, type DeliverySchedule, type Digest, type QuietHours } from "../../delivery/schedule.js";
import type { Messages } from "../../i18n/i18n.js";
import { clip } from "../../text/clip.js";

/** A weekly digest's time when none is given. */
const WEEKLY_DEFAULT_AT = 8 * 60;

export const zoneOf = (schedule: DeliverySchedule | undefined) => schedule?.timeZone ?? "UTC";

export function describeDigest(digest: Digest | undefined, t: Messages): string {
  if (!digest) return t.digestOffNow;
  return t.digestRhythm(digest.every, digest.every === "hourly" ? "" : formatClock(digest.at));
}

export function describeQuiet(quiet: QuietHours | undefined, t: Messages): string {
  return quiet ? t.quietHours(formatClock(quiet.from), formatClock(quiet.to), quiet.mode === "silent") : t.quietNone;
}

/** The local time now in `zone`, as HH:MM. */
function localTime(zone: string, now = Date.now()): string {
  return new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(now);
}

/** `/digest`'s words as a digest, null for off, undefined when they don't parse. */
export function parseDigest(args: readonly string[]): Digest | null | undefined {
  const [rhythm, at, ...rest] = args.map((arg) => arg.toLowerCase());
  if (rest.length > 0) return undefined;
  if (rhythm === "off" && at === undefined) return null;
  if (rhythm === "hourly" && at === undefined) return { every: "hourly" };
  const minutes = at === undefined ? undefined : parseClock(at);
  if (rhythm === "daily" && minutes !== undefined) return { every: "daily", at: minutes };
  if (rhythm === "weekly" && (at === undefined || minutes !== undefined)) return { every: "weekly", at: minutes ?? WEEKLY_DEFAULT_AT };
  return undefined;
}

/** `/quiet`'s words as quiet hours, null for off, undefined when they don't parse. */
export function parseQuiet(args: readonly string[]): QuietHours | null | undefined {
  const [hours, mode, ...rest] = args.map((arg) => arg.toLowerCase());
  if (rest.length > 0 || hours === undefined) return undefined;
  if (hours === "off") return mode === undefined ? null : undefined;
  const [from, to] = hours.split(/[-–—]/u).map(parseClock);
  if (from === undefined || to === undefined || from === to) return undefined;
  if (mode !== undefined && mode !== "hold" && mode !== "silent") return undefined;
  return { from, to, mode: mode === "silent" ? "silent" : "hold" };
}

/** The schedule with `part` replaced (undefined: taken out); undefined when nothing is left. */
function withPart<K extends keyof DeliverySchedule>(schedule: DeliverySchedule | undefined, part: K, value: DeliverySchedule[K] | undefined): DeliverySchedule | undefined {
  const { [part]: _old, ...rest } = schedule ?? {};
  const next: DeliverySchedule = value === undefined ? rest : { ...rest, [part]: value };
  return Object.keys(next).length > 0 ? next : undefined;
}

export function scheduleFeature(deps: BotDeps): Composer<BotContext> {
  const feature = new Composer<BotContext>();

  /**
   * The shared steps: the chat's subscription (none: subscribe first), the words parsed (bad: the
   * usage with the current choice), the right to change it, then the change, saved.
   */
  const change = <T>(
    parse: (args: readonly string[]) => T | undefined,
    usage: (t: Messages, schedule: DeliverySchedule | undefined) => string,
    apply: (schedule: DeliverySchedule | undefined, value: T) => DeliverySchedule | undefined,
    reply: (t: Messages, schedule: DeliverySchedule | undefined) => string,
    invalid: (t: Messages, args: readonly string[], schedule: DeliverySchedule | undefined) => string = (t, _args, schedule) => usage(t, schedule),
  ) =>
    async (ctx: BotContext) => {
      const target = subscriberTarget(ctx);
      const subscriber = await deps.subscribers.get(target);
      const args = commandArgs(ctx);
      if (args.length === 0) {
        await ctx.reply(usage(ctx.t, subscriber?.schedule));
        return;
      }
      const value = parse(args);
      if (value === undefined) {
        await ctx.reply(invalid(ctx.t, args, subscriber?.schedule));
        return;
      }
      if (!subscriber) {
        await ctx.reply(ctx.t.subscribeFirst);
        return;
      }
      if (!(await mayManageChat(ctx))) {
        await ctx.reply(ctx.t.groupAdminsOnly);
        return;
      }
      const schedule = apply(subscriber.schedule, value);
      // What is held already keeps to the new schedule: due at its next time, or at once (the
      // next look sends it as one digest) when the chat now takes items as they come.
      const saved = await saveOrTell(ctx, () => deps.subscribers.setSchedule(target, schedule));
      if (saved === undefined) return;
      if (saved) {
        const when = timing(schedule, Date.now());
        // The schedule is saved: a failure here leaves held items on their old time, logged.
        await deps.held
          .reschedule(target, when.send === "held" ? when.until : Date.now())
          .catch((error: unknown) => ctx.logger.warn({ err: (error as Error).message }, "held items keep their old time: the store failed"));
      }
      await ctx.reply(saved ? reply(ctx.t, schedule) : ctx.t.subscribeFirst);
    };

  feature.command(
    "digest",
    change(
      parseDigest,
      (t, schedule) => t.digestUsage(describeDigest(schedule?.digest, t)),
      (schedule, digest) => withPart(schedule, "digest", digest ?? undefined),
      (t, schedule) => (schedule?.digest ? t.digestSet(describeDigest(schedule.digest, t), zoneOf(schedule)) : t.digestOff),
    ),
  );

  feature.command(
    "timezone",
    change(
      (args) => (args.length === 1 ? canonicalTimeZone(args[0]!) : undefined),
      (t, schedule) => t.timezoneUsage(`${zoneOf(schedule)}, ${localTime(zoneOf(schedule))}`),
      (schedule, zone) => withPart(schedule, "timeZone", zone === "UTC" ? undefined : zone),
      (t, schedule) => t.timezoneSet(zoneOf(schedule), localTime(zoneOf(schedule))),
      (t, args, schedule) => (args.length === 1 ? t.timezoneUnknown(clip(args[0]!, 60)) : t.timezoneUsage(`${zoneOf(schedule)}, ${localTime(zoneOf(schedule))}`)),
    ),
  );

  feature.command(
    "quiet",
    change(
      parseQuiet,
      (t, schedule) => t.quietUsage(describeQuiet(schedule?.quiet, t)),
      (schedule, quiet) => withPart(schedule, "quiet", quiet ?? undefined),
      (t, schedule) => (schedule?.quiet ? t.quietSet(describeQuiet(schedule.quiet, t), zoneOf(schedule)) : t.quietOff),
    ),
  );

  return feature;
}
