import { h, render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { setApiBase } from './api.js';
import { accessToken, completeSignIn, signIn, signOut, type AppConfig } from './auth.js';
import { CameraPage } from './camera.js';
import { FleetPage } from './fleet.js';
import { setSignallingHelp } from './live-player.js';

/** The viewer app: sign-in, then a hash router between the fleet (#/) and a camera (#/camera/{name}). */

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = (): void => setHash(location.hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

function App({ config }: { config: AppConfig }) {
  const hash = useHash();
  const camera = /^#\/camera\/([^/]+)$/.exec(hash);
  return h(
    'div',
    null,
    h(
      'header',
      null,
      h('a', { href: '#/', class: 'brand' }, 'cloudcam'),
      h(
        'button',
        {
          type: 'button',
          onClick: () => {
            signOut();
            sessionStorage.setItem('cloudcam.signedOut', '1');
            location.assign('/');
          },
        },
        'Sign out',
      ),
    ),
    camera ? h(CameraPage, { thing: decodeURIComponent(camera[1]!) }) : h(FleetPage, null),
  );
  void config;
}

function SignInPage({ config, message }: { config: AppConfig; message: string }) {
  return h(
    'main',
    { class: 'signin' },
    h('h1', null, 'cloudcam viewer'),
    message ? h('p', { role: 'alert' }, message) : null,
    h('button', { type: 'button', onClick: () => void signIn(config) }, 'Sign in'),
  );
}

async function boot(): Promise<void> {
  const root = document.getElementById('app')!;
  // Preact diffs against what is there; the shell's "Loading…" is not its own, so clear it first.
  root.textContent = '';
  const config = (await (await fetch('/config.json')).json()) as AppConfig;
  setApiBase(config.apiUrl);
  setSignallingHelp(config.liveSignallingHelp);
  if (location.pathname === '/callback') {
    try {
      await completeSignIn(config, new URLSearchParams(location.search));
      sessionStorage.removeItem('cloudcam.signedOut');
      history.replaceState(null, '', '/#/');
    } catch (err) {
      history.replaceState(null, '', '/');
      render(h(SignInPage, { config, message: (err as Error).message }), root);
      return;
    }
  }
  if (accessToken() === undefined) {
    // Straight to the issuer's sign-in page, unless the user just signed out here.
    if (sessionStorage.getItem('cloudcam.signedOut') === null) return signIn(config);
    render(h(SignInPage, { config, message: 'You are signed out.' }), root);
    return;
  }
  render(h(App, { config }), root);
}

void boot();
