/**
 * Steps run one at a time, in the order they were asked for: each starts once the one before it
 * settled, and one that fails does not stop the next.
 */
export function inOrder(): <T>(step: () => T | Promise<T>) => Promise<T> {
  let previous: Promise<unknown> = Promise.resolve();
  return (step) => {
    const result = previous.then(step);
    previous = result.catch(() => undefined);
    return result;
  };
}
