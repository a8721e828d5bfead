import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { contentTypeProblem, hostProblem, requestPath } from './request-checks.js';

describe('local API request checks', () => {
  it('takes origin-form paths only', () => {
    expect(requestPath('/status')).toBe('/status');
    expect(requestPath('/status?x=1#y')).toBe('/status');
    expect(requestPath('/a/../certs')).toBe('/certs');
    for (const t of [undefined, '', '//', '/\\', '//evil/status', '\\\\x', '*', 'http://evil/status', 'status']) expect(requestPath(t)).toBeUndefined();
  });

  it('takes loopback Host names only (DNS rebinding)', () => {
    for (const h of ['localhost', 'LOCALHOST:2001', '127.0.0.1', '127.1.2.3:80', '[::1]', '[::1]:2001']) expect(hostProblem(h)).toBeUndefined();
    for (const h of [undefined, '', 'attacker.example', 'localhost.attacker.example', '127.0.0.1.nip.io', '192.168.0.90', '[::2]', 'localhost:2001:1']) expect(hostProblem(h)?.status).toBe(421);
  });

  it('takes application/json bodies only (cross-site forms)', () => {
    const req = (type?: string): IncomingMessage => ({ headers: type === undefined ? {} : { 'content-type': type } }) as IncomingMessage;
    for (const t of ['application/json', 'Application/JSON; charset=utf-8']) expect(contentTypeProblem(req(t))).toBeUndefined();
    for (const t of [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/plain; application/json']) expect(contentTypeProblem(req(t))?.status).toBe(415);
  });
});
