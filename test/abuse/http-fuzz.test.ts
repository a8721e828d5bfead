/**
 * Raw-socket fuzz of every HTTP listener of ours (the table in http-servers.ts): request lines,
 * paths (`//`, `/\`, bad percent-encodings, huge), headers and bodies that no HTTP client would send,
 * written as bytes to a net.Socket, plus each entry's focused requests (routes with JSON bodies that
 * random bytes seldom reach, e.g. POST /jobs). Property: the server answers (never with a 500 from a
 * throw) or closes, and then still serves a well-formed request. A throw escaping a listener would end the
 * test process, which vitest reports as an error.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawExchange } from '../helpers/raw-http.js';
import { HTTP_SERVERS, type FocusedRequest, type HttpServerUnderTest, type RunningHttpServer } from './http-servers.js';

const RUNS = Number(process.env['CLOUDCAM_FUZZ_RUNS'] ?? 150);

// Node's parser refuses unknown methods and bare-LF line ends itself: send them now and then only.
const method = fc.oneof(
  { weight: 9, arbitrary: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE') },
  { weight: 1, arbitrary: fc.oneof(fc.constant('CONNECT'), fc.stringMatching(/^[A-Za-z!#$%&'*+.^_`|~-]{1,12}$/)) },
);

const pathSegment = fc.oneof(
  fc.constantFrom('', '.', '..', '\\', '%', '%E0%A4%A', '%ZZ', '%00', '%2F', '%2e%2e', '%C0%AF', 'health', 'cameras', 'faults', 'things', 'shadow', 's3', 'axis-cgi', 'cloudcam-fuzz', 'camera-1', 'jobs', 'cancel'),
  fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,12}$/),
  fc.string({ maxLength: 8 }).map((s) => encodeURIComponent(s)),
);

const target = fc.oneof(
  fc.constantFrom('//', '/\\', '/%', '/cameras/%E0%A4%A/faults', '/things/%E0%A4%A/shadow', '/cloudcam-fuzz/%E0%A4%A', '*', 'http://evil.example/', '/?%zz=%zz', '/axis-cgi/param.cgi?action=%E0'),
  fc.tuple(fc.array(pathSegment, { maxLength: 6 }), fc.oneof(fc.constant(''), fc.stringMatching(/^\?[A-Za-z0-9=&%+-]{0,20}$/))).map(([segments, query]) => `/${segments.join('/')}${query}`),
  fc.integer({ min: 1_000, max: 40_000 }).map((n) => `/${'a'.repeat(n)}`),
);

/** Mostly valid, so that most requests get past Node's parser to our listeners. */
const version = fc.oneof({ weight: 8, arbitrary: fc.constant('HTTP/1.1') }, { weight: 2, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1 extra', '') });
/** Node refuses an HTTP/1.1 request without Host before any listener sees it: usually send one. */
const host = fc.oneof({ weight: 8, arbitrary: fc.constant(['Host: 127.0.0.1']) }, { weight: 2, arbitrary: fc.constantFrom([], ['Host: evil.example'], ['Host: localhost', 'Host: 127.0.0.1']) });

/** Headers a listener acts on, with hostile values; now and then one Node's parser refuses itself. */
const validHeader = fc.constantFrom(
  'Content-Length: 5',
  'Transfer-Encoding: chunked',
  'Content-Type: application/json',
  'Content-Type: multipart/form-data; boundary=x',
  'Content-Type: multipart/form-data',
  'Content-Type: text/plain',
  'Authorization: AWS4-HMAC-SHA256 Credential=AKIDFUZZ/20260101/us-east-1/iotdata/aws4_request, SignedHeaders=host, Signature=00',
  'Authorization: AWS4-HMAC-SHA256 Credential=%E0/x, SignedHeaders=;;;, Signature=',
  'Authorization: Digest username="root", realm="x", nonce="%", uri="/", response="0"',
  'Authorization: Digest ,,,=,"',
  'Authorization: Basic !!!',
  'Expect: 100-continue',
  'X-Amz-Date: 99999999T999999Z',
  'X-Amz-Content-Sha256: UNSIGNED-PAYLOAD',
  'Range: bytes=-1-',
);
const header = fc.oneof(
  { weight: 6, arbitrary: validHeader },
  { weight: 1, arbitrary: fc.constantFrom(
    'Host: 127.0.0.1',
    'Host: evil.example',
    'Host:',
    'Content-Length: -1',
    'Content-Length: abc',
    'Content-Length: 99999999999999999999',
    'Content-Length: 5',
    'Transfer-Encoding: chunked',
    'Transfer-Encoding: gzip, chunked',
    'Content-Type: application/json',
    'Content-Type: multipart/form-data; boundary=x',
    'Content-Type: multipart/form-data',
    'Authorization: AWS4-HMAC-SHA256 Credential=AKIDFUZZ/20260101/us-east-1/iotdata/aws4_request, SignedHeaders=host, Signature=00',
    'Authorization: Digest username="root", realm="x", nonce="%", uri="/", response="0"',
    'Authorization: Basic !!!',
    'Expect: 100-continue',
    'no colon here',
    ' leading-space: x',
    'X-Nul: a\u0000b',
  ) },
  { weight: 1, arbitrary: fc.tuple(fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/), fc.string({ unit: 'binary', maxLength: 40 })).map(([name, value]) => `${name}: ${value.replace(/[\r\n]/g, '')}`) },
  { weight: 1, arbitrary: fc.integer({ min: 9_000, max: 20_000 }).map((n) => `X-Huge: ${'h'.repeat(n)}`) },
);

const body = fc.oneof(
  fc.constant(''),
  fc.constantFrom('{', '{"a":', 'null', '[]', '{"__proto__":{"x":1}}', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', '--x\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc'),
  fc.string({ unit: 'binary', maxLength: 2_000 }),
);

const lineEnd = fc.oneof({ weight: 9, arbitrary: fc.constant('\r\n') }, { weight: 1, arbitrary: fc.constant('\n') });

/** A request as bytes: a mostly HTTP-shaped request, or noise. */
const rawRequest = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .tuple(method, target, version, host, fc.array(header, { maxLength: 3 }), body, fc.boolean(), lineEnd)
      .map(([m, t, v, h, hs, b, sized, nl]) => {
        const lines = [...h, ...hs, ...(sized ? [`Content-Length: ${Buffer.byteLength(b, 'latin1')}`] : [])];
        return Buffer.from(`${m} ${t} ${v}${nl}${lines.map((l) => `${l}${nl}`).join('')}${nl}${b}`, 'latin1');
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes) => Buffer.from(bytes)) },
);

/** The entry's focused requests, well-formed on the wire so that their bodies reach the route. */
function focusedRequest(focus: FocusedRequest[][]) {
  return fc.oneof(...focus.map((list) => fc.constantFrom(...list))).map(({ method: m, target: t, body: b = '' }) =>
    Buffer.from(`${m} ${t} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(b)}\r\n\r\n${b}`),
  );
}

function requests(entry: HttpServerUnderTest) {
  return entry.focus ? fc.oneof({ weight: 1, arbitrary: rawRequest }, { weight: 1, arbitrary: focusedRequest(entry.focus) }) : rawRequest;
}

describe.each(HTTP_SERVERS)('raw-socket fuzz: $name', (entry) => {
  let server: RunningHttpServer;
  beforeAll(async () => {
    server = await entry.start();
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('answers or closes every malformed request, never with a 500, and keeps serving', async () => {
    await server.probe();
    const statuses = new Map<number | 'closed', number>();
    let reachedListener = 0;
    await fc.assert(
      fc.asyncProperty(requests(entry), async (bytes) => {
        const answer = await rawExchange(server.port, bytes, 5_000);
        expect(answer.hung, 'neither answered nor closed within 5 s').toBe(false);
        expect(answer.status, answer.response.slice(0, 300)).not.toBe(500);
        statuses.set(answer.status ?? 'closed', (statuses.get(answer.status ?? 'closed') ?? 0) + 1);
        // Node's own parser errors close with a bare 400/431 and no other header than Connection.
        if (answer.status !== undefined && !/^HTTP\/1\.1 \d+ [^\r]*\r\nConnection: close\r\n\r\n$/.test(answer.response)) reachedListener++;
        await server.probe();
      }),
      { numRuns: RUNS },
    );
    // Most requests reached our listener, not just Node's HTTP parser.
    expect(reachedListener, JSON.stringify([...statuses])).toBeGreaterThan(RUNS / 10);
  }, 120_000);
});
