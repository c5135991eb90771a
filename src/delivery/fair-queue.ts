/**
 * One chat's waiting deliveries: a FIFO per lane (an item's feed), taken in turns, so a feed that
 * publishes a burst never holds up another feed's items to the same chat for more than one turn,
 * and each feed's items still arrive in their order.
 *
 * The lanes are a small array, not a Map: a broadcast holds one queue per chat, nearly all with
 * one lane of one delivery, and a Map per chat would be most of the sender's memory per recipient.
 */
interface Lane<T> {
  key: string;
  items: T[];
}

export class FairQueue<T> {
  /** The turn order: the first lane is next. */
  private lanes: Lane<T>[] = [];
  private count = 0;

  constructor(private readonly laneOf: (item: T) => string) {}

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    const key = this.laneOf(item);
    // From the back: a burst of one lane arrives together.
    for (let index = this.lanes.length - 1; index >= 0; index--) {
      const lane = this.lanes[index]!;
      if (lane.key === key) {
        lane.items.push(item);
        this.count++;
        return;
      }
    }
    // A literal, sized for one: an array grown by push reserves room for 16 more.
    if (this.lanes.length === 0) this.lanes = [{ key, items: [item] }];
    else this.lanes.push({ key, items: [item] });
    this.count++;
  }

  /** The item whose turn it is. */
  peek(): T | undefined {
    return this.lanes[0]?.items[0];
  }

  /** Takes the item whose turn it is; its lane goes to the back of the turns. */
  shift(): T | undefined {
    const lane = this.lanes.shift();
    if (!lane) return undefined;
    const item = lane.items.shift();
    if (lane.items.length > 0) this.lanes.push(lane);
    this.count--;
    return item;
  }

  /** Takes out every item `predicate` holds for (each lane's order kept). */
  remove(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const lane of this.lanes) lane.items = lane.items.filter((item) => !predicate(item) || (removed.push(item), false));
    this.lanes = this.lanes.filter((lane) => lane.items.length > 0);
    this.count -= removed.length;
    return removed;
  }
}
