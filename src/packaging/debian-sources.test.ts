import { describe, expect, it } from 'vitest';
import { parseSources, retargetSources } from './debian-sources.js';

// The two forms apt reads (sources.list(5)): deb822 stanzas, as Debian 12 images ship them, and one-line entries.
const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian
Suites: bookworm-backports
Components: main

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: main
`;

describe('Debian sources for another release', () => {
  it('keeps the host release, -updates and -security with their mirror and keyring, renamed to the target', () => {
    const text = retargetSources(parseSources(DEB822, true), 'bookworm', 'trixie');
    expect(text).toBe(
      [
        'Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        'Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg',
        'Types: deb\nURIs: http://mirror.example/debian-security\nSuites: trixie-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg',
      ].join('\n\n') + '\n',
    );
  });

  it('reads one-line entries with options, and skips third-party repositories', () => {
    const list = `deb [arch=amd64 signed-by=/k.gpg] http://m/debian bookworm main contrib\n# deb http://m/debian bookworm main\ndeb http://m/debian-security bookworm-security main\ndeb https://packages.example/apt cloud-sdk-bookworm main\n`;
    const text = retargetSources(parseSources(list, false), 'bookworm', 'trixie');
    expect(text).toContain('URIs: http://m/debian\nSuites: trixie\nComponents: main\nSigned-By: /k.gpg');
    expect(text).toContain('URIs: http://m/debian-security\nSuites: trixie-security');
    expect(text).not.toContain('packages.example');
  });

  it('skips a deb822 stanza marked Enabled: no', () => {
    expect(parseSources('Types: deb\nEnabled: no\nURIs: http://m/debian\nSuites: bookworm\nComponents: main\n', true)).toEqual([]);
  });

  it('says what is missing when the host has no security source', () => {
    expect(() => retargetSources(parseSources('deb http://m/debian bookworm main\n', false), 'bookworm', 'trixie')).toThrow(
      /no Debian archive for bookworm and bookworm-security \(found: bookworm\).*DEBIAN_SOURCES/,
    );
  });
});
