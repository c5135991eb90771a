/**
 * Item claims: which poll takes in an entry that two polls meet at once (one story, its link in
 * two feeds). A narrow port: held in memory where one instance polls, a table where several do
 * (src/items/postgres-item-claims.ts).
 */

/** Entries one poll holds until it has remembered them. */
export interface Hold {
  /** Per entry: held by this poll (no other poll holds any of its keys, nor an earlier entry of the list). */
  held: boolean[];
  /** Lets other polls decide about these entries again; call once. Never rejects: a claim not released lapses. */
  release(): Promise<void>;
}

export interface ItemClaims {
  /** Holds the entries (by their identity keys) no other poll holds. */
  hold(keysPerEntry: readonly (readonly string[])[]): Promise<Hold>;
}

/**
 * Which entries of a list may be held, given which keys are free: an entry whose keys are all
 * free and share none with an earlier entry held. Pure; both sides use it.
 * @returns per entry whether it is held, and the free keys of the held entries.
 */
export function holdable(keysPerEntry: readonly (readonly string[])[], free: (key: string) => boolean): { held: boolean[]; keys: Set<string> } {
  const keys = new Set<string>();
  const held = keysPerEntry.map((entry) => {
    if (entry.some((key) => keys.has(key) || !free(key))) return false;
    for (const key of entry) keys.add(key);
    return true;
  });
  return { held, keys };
}

/** Claims held in this process: the polls of one instance. */
export class MemoryItemClaims implements ItemClaims {
  private readonly claimed = new Set<string>();

  async hold(keysPerEntry: readonly (readonly string[])[]): Promise<Hold> {
    const { held, keys } = holdable(keysPerEntry, (key) => !this.claimed.has(key));
    for (const key of keys) this.claimed.add(key);
    return { held, release: async () => keys.forEach((key) => this.claimed.delete(key)) };
  }
}
