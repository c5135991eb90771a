/**
 * The port of held items: items a chat takes later, in a digest (its digest's time, or the end of
 * its quiet hours), recorded durably before they are marked seen, so a crash loses none. The
 * digests (digests.ts) take what is due and release it once it is in the outbox.
 *
 * Two sides: this file's, over the store's `held` namespace (SQLite and Redis, one instance:
 * the index of who holds what is kept in memory and written through), and postgres-held-items.ts
 * (tables every instance shares).
 */
import type Keyv from "keyv";
import type { Item } from "../items/item.js";
import { inOrder } from "../store/in-order.js";
import { recipientKey, type Recipient } from "./subscribers.js";

/** An item held for a recipient until `until` (epoch ms). */
export interface HeldEntry {
  recipient: Recipient;
  item: Item;
  until: number;
}

/** A recipient's items due, oldest first; `until` the earliest of their times (names its digest). */
export interface DueItems {
  recipient: Recipient;
  until: number;
  items: Item[];
  /** Keys of held items whose item is gone (expired): released with the others. */
  missing: string[];
}

export interface HeldItemStore {
  /** Holds items for recipients; an item held for a recipient already stays as it was. */
  hold(entries: readonly HeldEntry[]): Promise<void>;
  /** Recipients with items due at `now`, the longest due first, at most `limit` of them, each with all its items due. */
  due(now: number, limit: number): Promise<DueItems[]>;
  /** Ends the holding of these items for a recipient (they are in its digest, or it is gone). */
  release(recipient: Recipient, itemKeys: readonly string[]): Promise<void>;
  /** Makes every item held for a recipient due at `until` (its schedule changed). */
  reschedule(recipient: Recipient, until: number): Promise<void>;
  /** Moves a group's held items to the supergroup it became. */
  migrateChat(fromChatId: number, toChatId: number): Promise<void>;
}

/** Held items are kept at most this long (a weekly digest after quiet hours, and a long outage). */
export const HELD_ITEM_TTL_MS = 30 * 24 * 60 * 60_000;

/** The layout version of a stored recipient's record. */
const HELD_VERSION = 1;

interface RecipientRecord {
  version: number;
  recipient: Recipient;
  entries: Array<{ key: string; until: number }>;
}

const INDEX_KEY = "recipients";
const recordKey = (key: string) => `recipient:${key}`;
const itemKey = (key: string) => `item:${key}`;

/** Held items in the Keyv namespace `held`, for one instance. */
export class KeyvHeldItems implements HeldItemStore {
  private readonly inTurn = inOrder();

  private constructor(
    private readonly keyv: Keyv,
    private readonly records: Map<string, RecipientRecord>,
  ) {}

  /** Reads who holds what: one record per recipient that holds items, listed in one index. */
  static async open(keyv: Keyv): Promise<KeyvHeldItems> {
    const keys = (await keyv.get<string[]>(INDEX_KEY)) ?? [];
    const stored = keys.length > 0 ? await keyv.getMany<RecipientRecord>(keys.map(recordKey)) : [];
    const records = new Map<string, RecipientRecord>();
    keys.forEach((key, index) => {
      const record = stored[index];
      if (record) records.set(key, record);
    });
    return new KeyvHeldItems(keyv, records);
  }

  hold(entries: readonly HeldEntry[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return this.inTurn(async () => {
      const changed = new Map<string, RecipientRecord>();
      let added = false;
      for (const { recipient, item, until } of entries) {
        const key = recipientKey(recipient);
        const current = changed.get(key) ?? this.records.get(key);
        const record: RecipientRecord = current ? { ...current, entries: [...current.entries] } : { version: HELD_VERSION, recipient, entries: [] };
        if (!current) added = true;
        if (!record.entries.some((entry) => entry.key === item.key)) record.entries.push({ key: item.key, until });
        changed.set(key, record);
      }
      const items = [...new Map(entries.map(({ item }) => [item.key, item])).values()];
      // The index first, then the records, then memory: a failure anywhere leaves memory as the
      // store was, so the poll's retry writes it all again (an index listing a record not written
      // yet is harmless: it is skipped at start).
      if (added) await this.keyv.set(INDEX_KEY, [...new Set([...this.records.keys(), ...changed.keys()])]);
      await this.keyv.setMany([
        ...items.map((item) => ({ key: itemKey(item.key), value: item, ttl: HELD_ITEM_TTL_MS })),
        ...[...changed].map(([key, record]) => ({ key: recordKey(key), value: record })),
      ]);
      for (const [key, record] of changed) this.records.set(key, record);
    });
  }

  async due(now: number, limit: number): Promise<DueItems[]> {
    const due = [...this.records.values()]
      .map((record) => ({ record, entries: record.entries.filter((entry) => entry.until <= now) }))
      .filter(({ entries }) => entries.length > 0)
      .map(({ record, entries }) => ({ record, entries, until: entries.reduce((earliest, entry) => Math.min(earliest, entry.until), Infinity) }))
      .sort((a, b) => a.until - b.until)
      .slice(0, limit);
    return Promise.all(
      due.map(async ({ record, entries, until }) => {
        const items = await this.keyv.getMany<Item>(entries.map((entry) => itemKey(entry.key)));
        return {
          recipient: record.recipient,
          until,
          items: items.filter((item): item is Item => item !== undefined).sort((a, b) => a.publishedAt - b.publishedAt),
          missing: entries.filter((_, index) => items[index] === undefined).map((entry) => entry.key),
        };
      }),
    );
  }

  reschedule(recipient: Recipient, until: number): Promise<void> {
    return this.inTurn(async () => {
      const key = recipientKey(recipient);
      const current = this.records.get(key);
      if (!current) return;
      const record = { ...current, entries: current.entries.map((entry) => ({ ...entry, until })) };
      await this.keyv.set(recordKey(key), record);
      this.records.set(key, record);
    });
  }

  migrateChat(fromChatId: number, toChatId: number): Promise<void> {
    return this.inTurn(async () => {
      const moving = [...this.records].filter(([, record]) => record.recipient.chatId === fromChatId);
      if (moving.length === 0) return;
      const moved = moving.map(([key, record]) => {
        const recipient = { ...record.recipient, chatId: toChatId };
        const to = recipientKey(recipient);
        // The supergroup may hold items of its own already: both kept, an item in both at its earlier time.
        const entries = new Map((this.records.get(to)?.entries ?? []).map((entry) => [entry.key, entry]));
        for (const entry of record.entries) {
          const other = entries.get(entry.key);
          if (!other || entry.until < other.until) entries.set(entry.key, entry);
        }
        return { from: key, to, record: { ...record, recipient, entries: [...entries.values()] } };
      });
      const keys = [...this.records.keys()].filter((key) => !moving.some(([from]) => from === key));
      // The new records, then the index naming them, then the old ones gone.
      await this.keyv.setMany(moved.map(({ to, record }) => ({ key: recordKey(to), value: record })));
      await this.keyv.set(INDEX_KEY, [...new Set([...keys, ...moved.map(({ to }) => to)])]);
      for (const { from, to, record } of moved) {
        this.records.delete(from);
        this.records.set(to, record);
      }
      await this.keyv.deleteMany(moved.map(({ from }) => recordKey(from)));
    });
  }

  release(recipient: Recipient, itemKeys: readonly string[]): Promise<void> {
    return this.inTurn(async () => {
      const key = recipientKey(recipient);
      const current = this.records.get(key);
      if (!current) return;
      const released = new Set(itemKeys);
      const entries = current.entries.filter((entry) => !released.has(entry.key));
      if (entries.length > 0) {
        const record = { ...current, entries };
        await this.keyv.set(recordKey(key), record);
        this.records.set(key, record);
        return;
      }
      // The index first: a record it does not list is never read, while one it lists but that
      // is gone is skipped at the next start.
      const rest = [...this.records.keys()].filter((other) => other !== key);
      await this.keyv.set(INDEX_KEY, rest);
      this.records.delete(key);
      await this.keyv.delete(recordKey(key));
    });
  }
}
