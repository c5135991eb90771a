/**
 * Write coalescing: many callers ask for "persist the current state"; at most one write runs at a
 * time, and every request made while one runs is served by the single write that follows it.
 * Hot paths (outbox progress, the recent-items index) so cost one store write per disk round trip,
 * not one per event, while each caller still learns when its own change is durable.
 */
export type CoalescedWrite = () => Promise<void>;

/** Wraps `write` (which must persist the state as it is when it starts) into a coalescing writer. */
export function coalesce(write: () => Promise<void>): CoalescedWrite {
  let running = false;
  /** The write that follows the running one, shared by everyone who asked while it runs. */
  let queued: { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } | undefined;

  const run = (): Promise<void> => {
    running = true;
    const written = new Promise<void>((resolve) => resolve(write()));
    written.then(finish, finish);
    return written;
  };

  // Ending one write and starting the queued one happen in the same step, so a caller arriving
  // in between can never start a second write beside it.
  const finish = (): void => {
    running = false;
    const next = queued;
    queued = undefined;
    if (next) run().then(next.resolve, next.reject);
  };

  return () => {
    if (!running) return run();
    if (!queued) {
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      queued = { promise, resolve, reject };
    }
    return queued.promise;
  };
}
