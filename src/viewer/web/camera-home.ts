import { h } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { call, type CameraSummary } from './api.js';
import { ago, clock, requestStatus } from './format.js';
import { currentSignallingHelp, LivePlayer, PHASE_WORDS, type LivePhase } from './live-player.js';
import { usePolling } from './polling.js';

/**
 * The top of a camera's page, its home: presence and since when, agent version, live view's viewers,
 * **Snapshot now** with its progress, and one large picture — the newest snapshot, or the live stream
 * in its place once **Live** is pressed. Live stops when the tab is hidden (no stream nobody sees:
 * the camera stops streaming idleSeconds after its last viewer) and on **Stop**.
 */

function presenceWords(c: CameraSummary, now: number): string {
  if (c.online === null) return 'Never seen';
  return `${c.online ? 'Online' : 'Offline'}${c.since ? ` since ${ago(c.since, now)}` : ''}`;
}

function useSnapshotNow(thing: string, summary: CameraSummary | null): { busy: boolean; note: string; request: () => void } {
  const [pending, setPending] = useState<{ id: string; key: string } | null>(null);
  const [note, setNote] = useState('');
  // The request is done when the summary shows its picture, or reports it failed.
  useEffect(() => {
    if (pending === null || summary === null) return;
    if (summary.latest?.key === pending.key) {
      setNote(`New picture taken ${clock(summary.latest.at)}.`);
      setPending(null);
    } else if (summary.lastRequest?.id === pending.id && summary.lastRequest.status !== 'uploaded') {
      setNote(requestStatus(summary.lastRequest));
      setPending(null);
    }
  }, [summary, pending]);
  const request = (): void => {
    setNote('Requested… waiting for the camera.');
    call<{ id: string; key: string }>('POST', `/api/cameras/${encodeURIComponent(thing)}/snapshot`)
      .then((r) => setPending(r))
      .catch((err: Error) => setNote(`Could not request a snapshot: ${err.message}`));
  };
  return { busy: pending !== null, note, request };
}

function useLive(thing: string, video: { current: HTMLVideoElement | null }): { phase: LivePhase; detail: string; player: LivePlayer } {
  const [phase, setPhase] = useState<LivePhase>('idle');
  const [detail, setDetail] = useState('');
  const player = useMemo(
    () =>
      new LivePlayer(thing, {
        phase: (p, d) => {
          setPhase(p);
          setDetail(d);
        },
        stream: (s) => {
          if (video.current) video.current.srcObject = s;
        },
      }),
    [thing],
  );
  useEffect(() => {
    const onVisibility = (): void => {
      if (document.visibilityState === 'hidden' && player.active) player.stop('Stopped while the page was hidden; press Live to watch again.');
    };
    document.addEventListener('visibilitychange', onVisibility);
    return () => {
      document.removeEventListener('visibilitychange', onVisibility);
      player.stop();
    };
  }, [player]);
  return { phase, detail, player };
}

export function CameraHome({ thing, onError }: { thing: string; onError: (message: string) => void }) {
  const [summary, setSummary] = useState<CameraSummary | null>(null);
  const video = useRef<HTMLVideoElement>(null);
  const snapshot = useSnapshotNow(thing, summary);
  const { phase, detail, player } = useLive(thing, video);
  usePolling(async () => setSummary(await call<CameraSummary>('GET', `/api/cameras/${encodeURIComponent(thing)}`)), 2000, [thing], onError);
  const now = Date.now();
  const watching = phase === 'connecting' || phase === 'live' || phase === 'reconnecting';
  const latest = summary?.latest ?? null;
  const help = currentSignallingHelp();

  return h(
    'section',
    { class: 'home', 'aria-label': 'Camera' },
    summary
      ? h(
          'p',
          { class: `presence ${summary.online === null ? 'never-seen' : summary.online ? 'online' : 'offline'}` },
          h('span', { class: 'status' }, presenceWords(summary, now)),
          ` · Agent ${summary.agentVersion ?? 'version unknown'}`,
          summary.live && summary.live.state === 'on' ? ` · ${summary.live.viewers} of ${summary.live.maxViewers} live viewers` : '',
        )
      : h('p', { class: 'presence' }, 'Loading…'),
    h(
      'div',
      { class: 'stage' },
      // The video stays in the DOM (its srcObject is set from the player), shown while watching.
      h('video', { ref: video, class: 'live-video', autoplay: true, muted: true, playsInline: true, hidden: !watching, 'aria-label': `Live view of ${thing}` }),
      watching
        ? null
        : latest
          ? h('img', { class: 'latest', src: latest.imageUrl, alt: `Snapshot from ${thing} taken ${clock(latest.at)}`, 'data-key': latest.key })
          : h('div', { class: 'latest empty' }, 'No snapshot yet'),
    ),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'live-button', 'aria-pressed': watching, onClick: () => (watching ? player.stop() : player.start()) }, watching ? 'Stop' : 'Live'),
      h('button', { type: 'button', disabled: snapshot.busy, onClick: snapshot.request }, 'Snapshot now'),
    ),
    h(
      'p',
      { class: `live-state ${phase}`, role: 'status' },
      PHASE_WORDS[phase] ? h('strong', null, PHASE_WORDS[phase]) : null,
      detail ? h('span', { class: 'detail' }, PHASE_WORDS[phase] ? ` — ${detail}` : detail) : null,
    ),
    phase === 'unreachable' && help ? h('pre', { class: 'live-command', 'aria-label': 'Command line to watch live' }, h('code', null, help.command)) : null,
    h('p', { class: 'note', role: 'status' }, snapshot.note),
  );
}
