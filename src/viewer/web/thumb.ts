import { h } from 'preact';
import type { ImageRef } from './api.js';
import { ago } from './format.js';

/** One picture in a grid: its thumbnail (the full image until the thumbnail exists), what it is, how old. */
export function Thumb({ item, alt, label, mark, now, onOpen }: { item: ImageRef; alt: string; label: string; mark?: string; now: number; onOpen: () => void }) {
  return h(
    'li',
    { key: item.key },
    h(
      'button',
      { type: 'button', class: 'thumb-button', onClick: onOpen, 'aria-label': label },
      h('img', {
        src: item.thumbnailUrl,
        alt,
        width: 160,
        height: 90,
        loading: 'lazy',
        onError: (e: Event) => {
          const img = e.target as HTMLImageElement;
          if (img.src !== item.imageUrl) img.src = item.imageUrl;
        },
      }),
      mark ? h('span', { class: 'trigger' }, mark) : null,
      h('span', null, ago(item.at, now)),
    ),
  );
}
