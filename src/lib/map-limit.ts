/**
 * `items` mapped through `fn` with at most `limit` calls in flight, results in input order. For a
 * fleet-sized list of API calls (DescribeThing, DescribeJobExecution per thing): all at once, a
 * thousand cameras would be a thousand concurrent requests, and AWS throttles well below that.
 * Rejects with the first error; calls already started are not cancelled.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`mapLimit: limit must be a whole number of at least 1, got ${limit}`);
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
