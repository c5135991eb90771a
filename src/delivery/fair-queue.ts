/**
 * One chat's waiting deliveries: a FIFO per feed, taken in turns, so a feed that publishes a burst
 * never holds up another feed's items to the same chat for more than one turn, and each feed's
 * items still arrive in their order.
 */
export class FairQueue<T> {
  /** Map order is the turn order: the first lane is next. */
  private readonly lanes = new Map<string, T[]>();
  private count = 0;

  constructor(private readonly laneOf: (item: T) => string) {}

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    const key = this.laneOf(item);
    const lane = this.lanes.get(key);
    if (lane) lane.push(item);
    else this.lanes.set(key, [item]);
    this.count++;
  }

  /** The item whose turn it is. */
  peek(): T | undefined {
    return this.lanes.values().next().value?.[0];
  }

  /** Takes the item whose turn it is; its lane goes to the back of the turns. */
  shift(): T | undefined {
    const next = this.lanes.entries().next();
    if (next.done) return undefined;
    const [key, lane] = next.value;
    const item = lane.shift();
    this.lanes.delete(key);
    if (lane.length > 0) this.lanes.set(key, lane);
    this.count--;
    return item;
  }

  /** Takes out every item `predicate` holds for (each lane's order kept). */
  remove(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const [key, lane] of this.lanes) {
      const kept = lane.filter((item) => !predicate(item) || (removed.push(item), false));
      if (kept.length > 0) this.lanes.set(key, kept);
      else this.lanes.delete(key);
    }
    this.count -= removed.length;
    return removed;
  }

  /** Takes out everything. */
  drain(): T[] {
    return this.remove(() => true);
  }
}
