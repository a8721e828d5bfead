import { h } from 'preact';
import type { EventImageRef, ImageRef } from './api.js';
import { clock } from './format.js';
import { usePagedListing } from './paging.js';
import { Thumb } from './thumb.js';

/**
 * A camera's event snapshots (docs/protocol.md §8), newest first, each marked with the trigger that
 * took it ("motion"; "motion · before" for the pre-event frame). Polled and paged like the history.
 */
export function EventsSection({ thing, now, onOpen, onError }: { thing: string; now: number; onOpen: (item: ImageRef) => void; onError: (message: string) => void }) {
  const { items, next, loadOlder } = usePagedListing<EventImageRef>(`/api/cameras/${encodeURIComponent(thing)}/events`, { error: onError });
  if (items.length === 0 && next === null) return null;
  return h(
    'section',
    { class: 'events', 'aria-label': 'Event snapshots' },
    h('h2', null, 'Event snapshots'),
    h(
      'ul',
      { class: 'history' },
      items.map((item) => {
        const mark = item.frame === 'pre' ? `${item.trigger} · before` : item.trigger;
        return h(Thumb, {
          item,
          now,
          mark,
          alt: `Event snapshot (${mark}) from ${thing} at ${clock(item.at)}`,
          label: `Open event snapshot (${mark}) at ${clock(item.at)}`,
          onOpen: () => onOpen(item),
        });
      }),
    ),
    next
      ? h(
          'button',
          { type: 'button', onClick: loadOlder },
          'Older event snapshots',
        )
      : null,
  );
}
