/**
 * The Debian archive this machine already uses, re-aimed at another release: the sources of an
 * APT_CONFIG of our own (debian-runtime.ts), so that the repository names no mirror. From the host's
 * apt sources (one-line `.list` and deb822 `.sources` files) every `deb` entry for the host's own
 * release `{host}`, `{host}-updates` or `{host}-security` is kept with its URIs and Signed-By, and its
 * suite becomes `{target}`, `{target}-updates` or `{target}-security`; anything else (third-party
 * repositories, backports) is left out.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface AptSource {
  uris: string[];
  suites: string[];
  components: string[];
  signedBy?: string;
}

const POCKETS = ['', '-updates', '-security'];

/** deb822 stanzas and one-line entries of one sources file (only `deb` types; comments and disabled stanzas skipped). */
export function parseSources(text: string, deb822: boolean): AptSource[] {
  const out: AptSource[] = [];
  if (!deb822) {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s+(.+)$/.exec(line);
      if (!m) continue;
      const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
      out.push({ uris: [m[2] ?? ''], suites: [m[3] ?? ''], components: (m[4] ?? '').split(/\s+/), ...(signedBy ? { signedBy } : {}) });
    }
    return out;
  }
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (m) fields.set((m[1] ?? '').toLowerCase(), m[2] ?? '');
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const list = (k: string): string[] => (fields.get(k) ?? '').split(/\s+/).filter((s) => s !== '');
    const signedBy = fields.get('signed-by');
    out.push({ uris: list('uris'), suites: list('suites'), components: list('components'), ...(signedBy ? { signedBy } : {}) });
  }
  return out;
}

/** The host's Debian sources re-aimed from release `host` to `target`, as one deb822 text. */
export function retargetSources(sources: AptSource[], host: string, target: string): string {
  const stanzas: string[] = [];
  const seen = new Set<string>();
  for (const s of sources) {
    for (const suite of s.suites) {
      const pocket = POCKETS.find((p) => suite === `${host}${p}`);
      if (pocket === undefined || !s.components.includes('main')) continue;
      const key = `${s.uris.join(' ')} ${target}${pocket}`;
      if (seen.has(key)) continue;
      seen.add(key);
      stanzas.push(['Types: deb', `URIs: ${s.uris.join(' ')}`, `Suites: ${target}${pocket}`, 'Components: main', ...(s.signedBy ? [`Signed-By: ${s.signedBy}`] : [])].join('\n'));
    }
  }
  const suites = stanzas.map((st) => /Suites: (\S+)/.exec(st)?.[1]);
  if (!suites.includes(target) || !suites.includes(`${target}-security`)) {
    throw new Error(
      `the apt sources name no Debian archive for ${host} and ${host}-security (found: ${sources.flatMap((s) => s.suites).join(', ') || 'none'}): ` +
        `the ${target} runtime is taken from the same mirrors; add them to /etc/apt/sources.list.d/ or set DEBIAN_SOURCES to a deb822 file naming ${target} and ${target}-security`,
    );
  }
  return stanzas.join('\n\n') + '\n';
}

/** This machine's Debian release codename (/etc/os-release VERSION_CODENAME). */
export function hostCodename(osRelease = '/etc/os-release'): string {
  const text = fs.existsSync(osRelease) ? fs.readFileSync(osRelease, 'utf8') : '';
  const name = /^VERSION_CODENAME=("?)([a-z]+)\1$/m.exec(text)?.[2];
  if (!name) throw new Error(`${osRelease} names no VERSION_CODENAME: building the Debian runtime needs a Debian host (or DEBIAN_SOURCES set to a deb822 file)`);
  return name;
}

/** Every `deb` source configured on this machine. */
export function hostSources(etcApt = '/etc/apt'): AptSource[] {
  const files: [string, boolean][] = [];
  if (fs.existsSync(path.join(etcApt, 'sources.list'))) files.push([path.join(etcApt, 'sources.list'), false]);
  const dir = path.join(etcApt, 'sources.list.d');
  if (fs.existsSync(dir)) {
    for (const f of fs.readdirSync(dir).sort()) {
      if (f.endsWith('.list')) files.push([path.join(dir, f), false]);
      else if (f.endsWith('.sources')) files.push([path.join(dir, f), true]);
    }
  }
  return files.flatMap(([file, deb822]) => parseSources(fs.readFileSync(file, 'utf8'), deb822));
}
