import { useState } from 'preact/hooks';
import { call } from './api.js';
import { usePolling } from './polling.js';

interface Page<T> {
  items: T[];
  next: string | null;
}

/**
 * A newest-first listing of the API (`{items, next}`): the first page polled, so new pictures appear at
 * the top, and older pages fetched on demand by following `next`. The API may end a page early when
 * its S3 listings for one request are spent (docs/viewer.md), so a page can be short, even empty, and
 * still have a `next`: `loadOlder` simply goes on from there.
 */
export function usePagedListing<T extends { key: string }>(
  path: string,
  on: { error: (message: string) => void; polled?: () => void },
): { items: T[]; next: string | null; loadOlder: () => void } {
  const [newest, setNewest] = useState<T[]>([]);
  const [older, setOlder] = useState<T[]>([]);
  const [next, setNext] = useState<string | null>(null);
  usePolling(
    async () => {
      const page = await call<Page<T>>('GET', path);
      setNewest(page.items);
      if (older.length === 0) setNext(page.next);
      on.polled?.();
    },
    3000,
    [path, older.length],
    on.error,
  );
  const loadOlder = (): void => {
    if (next === null) return;
    call<Page<T>>('GET', `${path}?before=${encodeURIComponent(next)}`)
      .then((page) => {
        setOlder([...older, ...page.items]);
        setNext(page.next);
      })
      .catch((err: Error) => on.error(err.message));
  };
  const seen = new Set(newest.map((i) => i.key));
  return { items: [...newest, ...older.filter((i) => !seen.has(i.key))], next, loadOlder };
}
