import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ShadowError, ShadowStore, VERSION_MEMORY_MS, type DeleteAccepted, type UpdateResult } from './store.js';
import type { ShadowKey } from './topics.js';

const T0 = 1_700_000_000_000;
const S0 = T0 / 1000;
const CLASSIC: ShadowKey = { thing: 'cam1' };
const NAMED: ShadowKey = { thing: 'cam1', shadow: 'cloudcam' };

let clock = T0;
let store: ShadowStore;

beforeEach(() => {
  clock = T0;
  store = new ShadowStore({ now: () => clock });
});

function update(body: unknown, key: ShadowKey = NAMED): UpdateResult {
  return store.update(key, JSON.stringify(body));
}

function rejection(fn: () => unknown): { code: number; message: string; clientToken?: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ShadowError);
    const e = err as ShadowError;
    return { code: e.code, message: e.message, ...(e.clientToken === undefined ? {} : { clientToken: e.clientToken }) };
  }
  throw new Error('expected a ShadowError');
}

describe('get', () => {
  it('rejects a missing classic shadow with 404 naming the thing', () => {
    expect(rejection(() => store.get(CLASSIC, 'tok'))).toEqual({ code: 404, message: "No shadow exists with name: 'cam1'", clientToken: 'tok' });
  });

  it('rejects a missing named shadow with 404 naming thing~shadow', () => {
    expect(rejection(() => store.get(NAMED))).toEqual({ code: 404, message: "No shadow exists with name: 'cam1~cloudcam'" });
  });

  it('returns state with delta, metadata, version, timestamp and the client token', () => {
    update({ state: { desired: { color: 'RED', mode: 'on' }, reported: { color: 'GREEN', engine: 'ON' } } });
    clock += 5000;
    expect(store.get(NAMED, 'abc')).toEqual({
      state: {
        desired: { color: 'RED', mode: 'on' },
        reported: { color: 'GREEN', engine: 'ON' },
        delta: { color: 'RED', mode: 'on' },
      },
      metadata: {
        desired: { color: { timestamp: S0 }, mode: { timestamp: S0 } },
        reported: { color: { timestamp: S0 }, engine: { timestamp: S0 } },
      },
      version: 1,
      timestamp: S0 + 5,
      clientToken: 'abc',
    });
  });

  it('keeps classic and named shadows of a thing apart', () => {
    update({ state: { reported: { a: 1 } } }, CLASSIC);
    expect(rejection(() => store.get(NAMED)).code).toBe(404);
    expect(store.get(CLASSIC).state).toEqual({ reported: { a: 1 } });
  });
});

describe('update', () => {
  it('creates the shadow at version 1 and answers with the request fields and their metadata', () => {
    const result = update({ state: { desired: { color: 'red', light: { r: 10 } } }, clientToken: 't1' });
    expect(result.accepted).toEqual({
      state: { desired: { color: 'red', light: { r: 10 } } },
      metadata: { desired: { color: { timestamp: S0 }, light: { r: { timestamp: S0 } } } },
      version: 1,
      timestamp: S0,
      clientToken: 't1',
    });
  });

  it('adds one to the version on every accepted update', () => {
    expect(update({ state: { reported: { a: 1 } } }).accepted.version).toBe(1);
    expect(update({ state: { reported: { a: 2 } } }).accepted.version).toBe(2);
    expect(update({ state: { reported: { a: 2 } } }).accepted.version).toBe(3);
    expect(store.get(NAMED).version).toBe(3);
  });

  it('rejects a stale version with 409 Version conflict and leaves the shadow alone', () => {
    update({ state: { desired: { colors: ['RED', 'GREEN'] } } });
    update({ state: { desired: { colors: ['RED'] } } });
    expect(rejection(() => update({ state: { desired: { colors: ['BLUE'] } }, version: 1, clientToken: 'c' }))).toEqual({
      code: 409,
      message: 'Version conflict',
      clientToken: 'c',
    });
    expect(store.get(NAMED).version).toBe(2);
    expect(update({ state: { desired: { colors: ['BLUE'] } }, version: 2 }).accepted.version).toBe(3);
    expect(store.get(NAMED).state.desired).toEqual({ colors: ['BLUE'] });
  });

  it('applies a version condition to a shadow that does not exist yet as version 0', () => {
    expect(rejection(() => update({ state: { reported: { a: 1 } }, version: 3 })).code).toBe(409);
    expect(update({ state: { reported: { a: 1 } }, version: 0 }).accepted.version).toBe(1);
  });

  it('accepts a 64-byte client token and rejects a 65-byte one with 400 Invalid clientToken', () => {
    const ok = 'é'.repeat(32); // 64 bytes in UTF-8, 32 characters
    expect(update({ state: { reported: { a: 1 } }, clientToken: ok }).accepted.clientToken).toBe(ok);
    expect(rejection(() => update({ state: { reported: { a: 1 } }, clientToken: `${ok}x` }))).toEqual({
      code: 400,
      message: 'Invalid clientToken',
    });
    expect(rejection(() => update({ state: { reported: { a: 1 } }, clientToken: 5 })).message).toBe('Invalid clientToken');
  });

  it('removes a key set to null, with its metadata, and prunes objects it leaves empty', () => {
    update({ state: { desired: { engine: 'ON', light: { r: 1 }, keep: true } } });
    const result = update({ state: { desired: { engine: null, light: { r: null } } } });
    expect(result.accepted.state).toEqual({ desired: { engine: null, light: { r: null } } });
    expect(result.accepted.metadata).toEqual({ desired: { engine: { timestamp: S0 }, light: { r: { timestamp: S0 } } } });
    const doc = store.get(NAMED);
    expect(doc.state).toEqual({ desired: { keep: true }, delta: { keep: true } });
    expect(doc.metadata).toEqual({ desired: { keep: { timestamp: S0 } } });
  });

  it('removes the whole desired section when it is set to null', () => {
    update({ state: { desired: { a: 1 }, reported: { b: 2 } } });
    const result = update({ state: { desired: null, reported: { b: 3 } } });
    expect(result.accepted.metadata).toEqual({ desired: { timestamp: S0 }, reported: { b: { timestamp: S0 } } });
    expect(result.delta).toBeUndefined();
    expect(store.get(NAMED)).toMatchObject({ state: { reported: { b: 3 } }, metadata: { reported: { b: { timestamp: S0 } } } });
    expect(store.get(NAMED).state).not.toHaveProperty('desired');
    expect(store.get(NAMED).metadata).not.toHaveProperty('desired');
  });

  it('treats state: null as clearing both sections while the shadow lives on', () => {
    update({ state: { desired: { a: 1 }, reported: { b: 2 } } });
    expect(update({ state: null }).accepted.version).toBe(2);
    expect(store.get(NAMED)).toMatchObject({ state: {}, metadata: {}, version: 2 });
  });

  it('stamps each leaf when it changes and keeps the old stamp of untouched leaves', () => {
    update({ state: { reported: { a: 1, nested: { x: 1, y: 1 } } } });
    clock += 60_000;
    update({ state: { reported: { nested: { y: 2 } } } });
    expect(store.get(NAMED).metadata).toEqual({
      reported: { a: { timestamp: S0 }, nested: { x: { timestamp: S0 }, y: { timestamp: S0 + 60 } } },
    });
  });

  it('replaces an array whole and stamps it as one leaf', () => {
    update({ state: { desired: { colors: ['RED', 'GREEN', 'BLUE'] } } });
    update({ state: { desired: { colors: ['RED'] } } });
    expect(store.get(NAMED).state.desired).toEqual({ colors: ['RED'] });
    expect(store.get(NAMED).metadata.desired).toEqual({ colors: { timestamp: S0 } });
  });

  it('rejects null inside an array', () => {
    expect(rejection(() => update({ state: { desired: { colors: [null, 'RED'] } } }))).toEqual({
      code: 400,
      message: 'State contains an invalid node',
    });
  });

  it('counts the 8 KB state limit on compact JSON, whitespace excluded', () => {
    // {"reported":{"v":"…"}} is 21 bytes of JSON around the value.
    const fits = 'x'.repeat(8192 - 21);
    const pretty = JSON.stringify({ state: { reported: { v: fits } } }, null, 40);
    expect(store.update(NAMED, pretty).accepted.version).toBe(1);
    expect(rejection(() => update({ state: { reported: { v: `${fits}x` } }, clientToken: 'big' }))).toEqual({
      code: 413,
      message: 'The payload exceeds the maximum size allowed',
      clientToken: 'big',
    });
  });

  it('counts the limit on the merged shadow, not on the request', () => {
    update({ state: { desired: { a: 'x'.repeat(5000) } } });
    expect(rejection(() => update({ state: { reported: { b: 'y'.repeat(4000) } } })).code).toBe(413);
    expect(store.get(NAMED).version).toBe(1);
  });

  it('allows six levels of nesting in a section and rejects seven', () => {
    const six = { one: { two: { three: { four: { five: {} } } } } };
    expect(update({ state: { desired: six } }).accepted.version).toBe(1);
    const seven = { one: { two: { three: { four: { five: { six: 1 } } } } } };
    expect(update({ state: { desired: seven } }).accepted.version).toBe(2);
    const tooDeep = { one: { two: { three: { four: { five: { six: {} } } } } } };
    expect(rejection(() => update({ state: { desired: tooDeep } }))).toEqual({
      code: 400,
      message: 'JSON contains too many levels of nesting; maximum is 6',
    });
  });

  it.each([
    ['invalid JSON', '{"state": ', 'Invalid JSON'],
    ['a JSON array', '[1]', 'Invalid JSON'],
    ['an empty payload', '', 'Invalid JSON'],
    ['no state', '{"version":1}', 'Missing required node: state'],
    ['a string state', '{"state":"on"}', 'State node must be an object'],
    ['a scalar desired', '{"state":{"desired":5}}', 'Desired node must be an object'],
    ['an array reported', '{"state":{"reported":[1]}}', 'Reported node must be an object'],
    ['an unknown node in state', '{"state":{"delta":{"a":1}}}', 'State contains an invalid node'],
    ['a negative version', '{"state":{},"version":-1}', 'Invalid version'],
    ['a fractional version', '{"state":{},"version":1.5}', 'Invalid version'],
    ['a string version', '{"state":{},"version":"1"}', 'Invalid version'],
  ])('rejects %s with 400', (_what, body, message) => {
    expect(rejection(() => store.update(NAMED, body))).toEqual({ code: 400, message });
  });

  it('echoes the client token in a 400 once it has read it', () => {
    expect(rejection(() => store.update(NAMED, '{"clientToken":"k","state":"x"}')).clientToken).toBe('k');
  });

  it('ignores top-level fields other than state, clientToken and version', () => {
    const result = store.update(NAMED, JSON.stringify({ state: { reported: { a: 1 } }, metadata: { junk: 1 }, extra: true }));
    expect(result.accepted.version).toBe(1);
    expect(store.get(NAMED).state).toEqual({ reported: { a: 1 } });
  });

  it('rejects a payload that is not UTF-8 with 415', () => {
    expect(rejection(() => store.update(NAMED, Buffer.from([0x7b, 0xff, 0x7d])))).toEqual({
      code: 415,
      message: 'Unsupported documented encoding; supported encoding is UTF-8',
    });
  });

  it('keeps a "__proto__" key as plain data', () => {
    store.update(NAMED, '{"state":{"reported":{"__proto__":{"polluted":1}}}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(store.get(NAMED).state)).toBe('{"reported":{"__proto__":{"polluted":1}}}');
  });
});

describe('delta', () => {
  it('holds only the desired fields that differ from reported, desired-only ones included', () => {
    const result = update({ state: { desired: { color: 'RED', state: 'STOP' }, reported: { color: 'GREEN', engine: 'ON' } } });
    expect(result.delta).toEqual({
      state: { color: 'RED', state: 'STOP' },
      metadata: { color: { timestamp: S0 }, state: { timestamp: S0 } },
      version: 1,
      timestamp: S0,
    });
  });

  it('keeps the path to the root for a differing nested field', () => {
    update({ state: { reported: { lights: { color: { r: 255, g: 0, b: 255 } } } } });
    clock += 1000;
    const result = update({ state: { desired: { lights: { color: { r: 255, g: 255, b: 255 } } } }, clientToken: 'd' });
    expect(result.delta).toEqual({
      state: { lights: { color: { g: 255 } } },
      metadata: { lights: { color: { g: { timestamp: S0 + 1 } } } },
      version: 2,
      timestamp: S0 + 1,
      clientToken: 'd',
    });
  });

  it('compares arrays whole', () => {
    update({ state: { reported: { seq: [1, 2, 3] } } });
    expect(update({ state: { desired: { seq: [1, 2, 3] } } }).delta).toBeUndefined();
    expect(update({ state: { desired: { seq: [1, 2] } } }).delta?.state).toEqual({ seq: [1, 2] });
  });

  it('is absent once reported catches up, and back when a reported field is removed', () => {
    update({ state: { desired: { mode: 'on' } } });
    expect(update({ state: { reported: { mode: 'on' } } }).delta).toBeUndefined();
    expect(store.get(NAMED).state).not.toHaveProperty('delta');
    expect(update({ state: { reported: { mode: null } } }).delta?.state).toEqual({ mode: 'on' });
  });
});

describe('update/documents', () => {
  it('carries no previous for a new shadow and previous/current with versions afterwards', () => {
    const first = update({ state: { desired: { a: 1 } }, clientToken: 'x' });
    expect(first.documents).toEqual({
      current: { state: { desired: { a: 1 } }, metadata: { desired: { a: { timestamp: S0 } } }, version: 1 },
      timestamp: S0,
      clientToken: 'x',
    });
    clock += 2000;
    const second = update({ state: { reported: { a: 1 } } });
    expect(second.documents).toEqual({
      previous: { state: { desired: { a: 1 } }, metadata: { desired: { a: { timestamp: S0 } } }, version: 1 },
      current: {
        state: { desired: { a: 1 }, reported: { a: 1 } },
        metadata: { desired: { a: { timestamp: S0 } }, reported: { a: { timestamp: S0 + 2 } } },
        version: 2,
      },
      timestamp: S0 + 2,
    });
  });
});

describe('delete', () => {
  it('answers with the version and timestamp, echoes the token, and the shadow is gone', () => {
    update({ state: { reported: { a: 1 } } });
    update({ state: { reported: { a: 2 } } });
    clock += 3000;
    expect(store.delete(NAMED, '{"clientToken":"del"}')).toEqual({ version: 2, timestamp: S0 + 3, clientToken: 'del' });
    expect(rejection(() => store.get(NAMED)).code).toBe(404);
    expect(store.list('cam1')).toEqual([]);
  });

  it('rejects deleting a missing shadow with 404', () => {
    expect(rejection(() => store.delete(CLASSIC, '{"clientToken":"q"}'))).toEqual({
      code: 404,
      message: "No shadow exists with name: 'cam1'",
      clientToken: 'q',
    });
  });

  it('ignores a delete payload that is not JSON', () => {
    update({ state: { reported: { a: 1 } } }, CLASSIC);
    expect(store.delete(CLASSIC, 'whatever')).toEqual({ version: 1, timestamp: S0 });
  });

  it('lets a shadow re-created within 48 hours continue the version', () => {
    update({ state: { reported: { a: 1 } } });
    update({ state: { reported: { a: 2 } } });
    store.delete(NAMED);
    clock += VERSION_MEMORY_MS - 1000;
    const result = update({ state: { reported: { b: 1 } } });
    expect(result.accepted.version).toBe(3);
    expect(result.documents.previous).toBeUndefined();
    expect(store.get(NAMED).state).toEqual({ reported: { b: 1 } });
  });

  it('starts a shadow re-created after 48 hours from version 1', () => {
    update({ state: { reported: { a: 1 } } });
    store.delete(NAMED);
    clock += VERSION_MEMORY_MS + 1000;
    expect(update({ state: { reported: { a: 1 } } }).accepted.version).toBe(1);
  });
});

describe('names', () => {
  it('rejects an invalid thing name with 400 saying what is allowed', () => {
    const err = rejection(() => store.get({ thing: 'bad name' }));
    expect(err.code).toBe(400);
    expect(err.message).toContain("Invalid thing name 'bad name'");
    expect(rejection(() => store.get({ thing: 'x'.repeat(129) })).code).toBe(400);
  });

  it('accepts 64-character shadow names with $ and rejects 65 characters', () => {
    const name = `$${'a'.repeat(63)}`;
    expect(update({ state: { reported: { a: 1 } } }, { thing: 'cam1', shadow: name }).accepted.version).toBe(1);
    expect(rejection(() => store.get({ thing: 'cam1', shadow: 'a'.repeat(65) })).message).toContain('Invalid shadow name');
    expect(rejection(() => store.get({ thing: 'cam1', shadow: '' })).code).toBe(400);
  });
});

describe('list', () => {
  it('lists named shadows sorted, without the classic one or deleted ones', () => {
    update({ state: { reported: { a: 1 } } }, CLASSIC);
    update({ state: { reported: { a: 1 } } }, { thing: 'cam1', shadow: 'zeta' });
    update({ state: { reported: { a: 1 } } }, { thing: 'cam1', shadow: 'alpha' });
    update({ state: { reported: { a: 1 } } }, { thing: 'cam1', shadow: 'gone' });
    update({ state: { reported: { a: 1 } } }, { thing: 'cam2', shadow: 'other' });
    store.delete({ thing: 'cam1', shadow: 'gone' });
    expect(store.list('cam1')).toEqual(['alpha', 'zeta']);
    expect(store.list('nobody')).toEqual([]);
  });
});

describe('events', () => {
  it("emits 'updated' with the key and the result, and 'deleted' with the accepted document", () => {
    const updated: [ShadowKey, UpdateResult][] = [];
    const deleted: [ShadowKey, DeleteAccepted][] = [];
    store.on('updated', (key, result) => updated.push([key, result]));
    store.on('deleted', (key, accepted) => deleted.push([key, accepted]));
    const result = update({ state: { desired: { a: 1 } } });
    const accepted = store.delete(NAMED);
    expect(updated).toEqual([[NAMED, result]]);
    expect(deleted).toEqual([[NAMED, accepted]]);
  });

  it('emits nothing for a rejected update', () => {
    let count = 0;
    store.on('updated', () => count++);
    rejection(() => update({ state: 'x' }));
    expect(count).toBe(0);
  });
});

describe('persistence', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shadow-store-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reloads shadows, versions and tombstones from the file it wrote', async () => {
    const path = join(dir, 'sub', 'shadows.json');
    const first = new ShadowStore({ persistPath: path, now: () => clock });
    first.update(NAMED, JSON.stringify({ state: { desired: { a: 1 }, reported: { a: 0 } } }));
    first.update(CLASSIC, JSON.stringify({ state: { reported: { b: 1 } } }));
    first.update({ thing: 'cam1', shadow: 'old' }, JSON.stringify({ state: { reported: { c: 1 } } }));
    first.delete({ thing: 'cam1', shadow: 'old' });
    expect(await readdir(join(dir, 'sub'))).toEqual(['shadows.json']);

    const second = new ShadowStore({ persistPath: path, now: () => clock });
    expect(second.get(NAMED)).toEqual(first.get(NAMED));
    expect(second.get(CLASSIC)).toEqual(first.get(CLASSIC));
    expect(second.list('cam1')).toEqual(['cloudcam']);
    expect(second.update({ thing: 'cam1', shadow: 'old' }, '{"state":{}}').accepted.version).toBe(2);
  });

  it('fails with a message naming the file when it is not a shadow store', async () => {
    const path = join(dir, 'shadows.json');
    await writeFile(path, '{"not":"a store"}');
    expect(() => new ShadowStore({ persistPath: path })).toThrow(`shadow store file ${path} is unusable`);
    await writeFile(path, 'garbage');
    expect(() => new ShadowStore({ persistPath: path })).toThrow('not valid JSON');
    expect(await readFile(path, 'utf8')).toBe('garbage');
  });
});
