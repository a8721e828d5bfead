import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, type CameraSummary } from './api.js';
import { ago, requestStatus } from './format.js';
import { usePolling } from './polling.js';

/** Every camera: presence and since when, agent version, newest thumbnail and its age, last request, "Snapshot now". */

function Thumbnail({ camera, now }: { camera: CameraSummary; now: number }) {
  const [failed, setFailed] = useState(false);
  const latest = camera.latest;
  if (!latest) return h('div', { class: 'thumb empty' }, 'No snapshot yet');
  // The thumbnail is made a moment after the upload; until then the full image stands in.
  return h('img', {
    class: 'thumb',
    src: failed ? latest.imageUrl : latest.thumbnailUrl,
    alt: `Latest snapshot from ${camera.name}, taken ${ago(latest.at, now)}`,
    width: 320,
    height: 180,
    onError: () => setFailed(true),
    'data-key': latest.key,
  });
}

function CameraCard({ camera, now, onSnapshot }: { camera: CameraSummary; now: number; onSnapshot: (name: string) => Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');
  const id = `cam-${camera.name}`;
  const presence = camera.online === null ? 'Never seen' : camera.online ? 'Online' : 'Offline';
  return h(
    'article',
    { class: 'card', 'aria-labelledby': id },
    h('h2', { id }, h('a', { href: `#/camera/${encodeURIComponent(camera.name)}` }, camera.name)),
    h(
      'p',
      { class: `presence ${presence.toLowerCase().replace(' ', '-')}` },
      h('span', { class: 'status' }, presence),
      camera.since ? ` since ${ago(camera.since, now)}` : '',
    ),
    h(Thumbnail, { camera, now }),
    h('p', { class: 'age' }, camera.latest ? `Latest snapshot ${ago(camera.latest.at, now)}` : ''),
    h('p', { class: 'request' }, requestStatus(camera.lastRequest)),
    h('p', { class: 'version' }, `Agent ${camera.agentVersion ?? 'version unknown'}`),
    h(
      'button',
      {
        type: 'button',
        disabled: busy,
        onClick: () => {
          setBusy(true);
          setNote('Requested…');
          onSnapshot(camera.name)
            .then(() => setNote('Requested; the picture appears in a few seconds.'))
            .catch((err: Error) => setNote(`Could not request a snapshot: ${err.message}`))
            .finally(() => setBusy(false));
        },
      },
      'Snapshot now',
    ),
    h('p', { class: 'note', role: 'status' }, note),
  );
}

export function FleetPage() {
  const [pages, setPages] = useState<string[]>(['']);
  const [cameras, setCameras] = useState<CameraSummary[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState('');
  const now = Date.now();

  const load = async (): Promise<void> => {
    const all: CameraSummary[] = [];
    let last: string | null = null;
    for (const page of pages) {
      const res = await call<{ cameras: CameraSummary[]; next: string | null }>('GET', `/api/cameras${page ? `?next=${encodeURIComponent(page)}` : ''}`);
      all.push(...res.cameras);
      last = res.next;
    }
    setCameras(all);
    setNext(last);
    setError('');
  };
  usePolling(load, 2000, [pages.join(',')], setError);
  useEffect(() => {
    document.title = 'Cameras - cloudcam';
  }, []);

  return h(
    'main',
    null,
    h('h1', null, 'Cameras'),
    error ? h('p', { class: 'error', role: 'alert' }, error) : null,
    h(
      'div',
      { class: 'grid' },
      cameras.map((c) =>
        h(CameraCard, {
          key: c.name,
          camera: c,
          now,
          onSnapshot: async (name) => {
            await call('POST', `/api/cameras/${encodeURIComponent(name)}/snapshot`);
          },
        }),
      ),
    ),
    next ? h('button', { type: 'button', onClick: () => setPages([...pages, next]) }, 'More cameras') : null,
  );
}
