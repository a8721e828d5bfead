import { h } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { call, type ImageRef, type Share } from './api.js';
import { clock, size } from './format.js';
import { CameraHome } from './camera-home.js';
import { EventsSection } from './events.js';
import { usePagedListing } from './paging.js';
import { Thumb } from './thumb.js';

/** One camera: its home (status, Snapshot now, the newest picture or Live), its event pictures, its history by day (newest first, paged) and a full-size view with download and Share. */

const SHARE_CHOICES: [number, string][] = [
  [3600, '1 hour'],
  [86400, '1 day'],
  [7 * 86400, '7 days'],
];

function ShareBox({ image }: { image: ImageRef }) {
  const [ttl, setTtl] = useState(3600);
  const [share, setShare] = useState<Share | null>(null);
  const [note, setNote] = useState('');
  return h(
    'div',
    { class: 'share' },
    h('label', { for: 'share-ttl' }, 'Link valid for'),
    h(
      'select',
      { id: 'share-ttl', value: String(ttl), onChange: (e: Event) => setTtl(Number((e.target as HTMLSelectElement).value)) },
      SHARE_CHOICES.map(([s, label]) => h('option', { value: String(s) }, label)),
    ),
    h(
      'button',
      {
        type: 'button',
        onClick: () => {
          call<Share>('POST', '/api/shares', { key: image.key, ttlSeconds: ttl })
            .then((s) => {
              setShare(s);
              setNote(`Anyone with this link can see this picture until ${clock(s.expiresAt)}.`);
            })
            .catch((err: Error) => setNote(`Could not make a link: ${err.message}`));
        },
      },
      'Share',
    ),
    share
      ? h(
          'div',
          null,
          h('label', { for: 'share-url' }, 'Share link'),
          h('input', { id: 'share-url', type: 'text', readOnly: true, value: share.url, onFocus: (e: Event) => (e.target as HTMLInputElement).select() }),
          h(
            'button',
            {
              type: 'button',
              onClick: () => {
                call('DELETE', `/api/shares/${share.id}`)
                  .then(() => {
                    setShare(null);
                    setNote('The link was revoked.');
                  })
                  .catch((err: Error) => setNote(`Could not revoke: ${err.message}`));
              },
            },
            'Revoke link',
          ),
        )
      : null,
    h('p', { role: 'status' }, note),
  );
}

function FullView({ thing, image, onClose }: { thing: string; image: ImageRef; onClose: () => void }) {
  // A layout effect: focus is on Close as soon as the view is in the DOM, not a frame later (a
  // keyboard user pressing a key at once would otherwise act on the thumbnail behind it).
  useLayoutEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') onClose();
    };
    addEventListener('keydown', onKey);
    document.getElementById('full-close')?.focus();
    return () => removeEventListener('keydown', onKey);
  }, [image.key]);
  return h(
    'section',
    { class: 'full', 'aria-label': 'Full-size picture' },
    h('button', { id: 'full-close', type: 'button', onClick: onClose }, 'Close'),
    h(
      'figure',
      null,
      h('img', { src: image.imageUrl, alt: `Snapshot from ${thing} taken ${clock(image.at)}`, class: 'full-image' }),
      h('figcaption', null, `${clock(image.at)} · ${size(image.bytes)}`),
    ),
    h('a', { href: image.downloadUrl, download: image.key.replaceAll('/', '_') }, 'Download'),
    h(ShareBox, { image }),
  );
}

function groupByDay(items: ImageRef[]): [string, ImageRef[]][] {
  const days = new Map<string, ImageRef[]>();
  for (const item of items) {
    const day = item.at === null ? 'Unknown day' : new Date(item.at).toLocaleDateString(undefined, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
    days.set(day, [...(days.get(day) ?? []), item]);
  }
  return [...days];
}

export function CameraPage({ thing }: { thing: string }) {
  const [open, setOpen] = useState<ImageRef | null>(null);
  const [error, setError] = useState('');
  const now = Date.now();

  useEffect(() => {
    document.title = `${thing} - cloudcam`;
  }, [thing]);
  // The first page is polled, so new snapshots appear at the top; older pages are fetched on demand.
  const { items, next, loadOlder } = usePagedListing<ImageRef>(`/api/cameras/${encodeURIComponent(thing)}/snapshots`, { error: setError, polled: () => setError('') });

  return h(
    'main',
    null,
    h('p', null, h('a', { href: '#/' }, '← All cameras')),
    h('h1', null, thing),
    error ? h('p', { class: 'error', role: 'alert' }, error) : null,
    h(CameraHome, { thing, onError: setError }),
    open ? h(FullView, { thing, image: open, onClose: () => setOpen(null) }) : null,
    h(EventsSection, { thing, now, onOpen: setOpen, onError: setError }),
    items.length === 0 ? h('p', null, next ? 'No snapshots in the days searched so far.' : 'No snapshots yet.') : null,
    groupByDay(items).map(([day, list]) =>
      h(
        'section',
        { class: 'day', 'aria-label': day },
        h('h2', null, day),
        h(
          'ul',
          { class: 'history' },
          list.map((item) =>
            h(Thumb, { item, now, alt: `Snapshot from ${thing} taken ${clock(item.at)}`, label: `Open snapshot taken ${clock(item.at)}`, onOpen: () => setOpen(item) }),
          ),
        ),
      ),
    ),
    next
      ? h(
          'button',
          { type: 'button', onClick: loadOlder },
          'Older snapshots',
        )
      : null,
  );
}
