import { EventEmitter } from 'node:events';
import { expect, it } from 'vitest';
import type { Devcloud } from '../devcloud/devcloud.js';
import { FleetLedger } from './fleet-ledger.js';

/** Just the three event sources the ledger listens to. */
function fakeDevcloud(): { dc: Devcloud; rules: EventEmitter; store: EventEmitter; s3: EventEmitter } {
  const rules = new EventEmitter();
  const store = new EventEmitter();
  const s3 = new EventEmitter();
  return { dc: { rules, store, s3: { events: s3 } } as unknown as Devcloud, rules, store, s3 };
}

function update(store: EventEmitter, thing: string, o: { reported?: object; before?: string; after?: string; status?: string }): void {
  const desired = (id?: string): object => (id ? { snapshot: { id } } : {});
  store.emit(
    'updated',
    { thing },
    {
      accepted: { state: o.reported ? { reported: o.reported } : {} },
      documents: {
        previous: { state: { desired: desired(o.before) } },
        current: { state: { desired: desired(o.after), reported: o.status ? { snapshot: { status: o.status } } : {} } },
      },
    },
  );
}

it('counts delivered, lost, superseded and duplicate uploads from shadows and S3 alone', () => {
  const { dc, store, s3 } = fakeDevcloud();
  const ledger = new FleetLedger(dc);
  ledger.add('cam-1', 'a', 'cam-1/a.jpg', 0);
  ledger.add('cam-1', 'b', 'cam-1/b.jpg', 0);
  ledger.add('cam-2', 'c', 'cam-2/c.jpg', 0);
  ledger.add('cam-2', 'd', 'cam-2/d.jpg', 0);
  s3.emit('object', { key: 'cam-1/a.jpg' });
  update(store, 'cam-1', { reported: { snapshot: { id: 'a' } }, status: 'uploaded', before: 'a' });
  // b: never reported, never replaced: lost.
  // c replaced by d before any report: superseded; d uploaded twice: a duplicate.
  update(store, 'cam-2', { before: 'c', after: 'd' });
  s3.emit('object', { key: 'cam-2/d.jpg' });
  s3.emit('object', { key: 'cam-2/d.jpg' });
  update(store, 'cam-2', { reported: { snapshot: { id: 'd' } }, status: 'uploaded', before: 'd' });
  s3.emit('object', { key: 'cam-9/nobody.jpg' });
  const s = ledger.summary();
  expect(s.requested).toBe(4);
  expect(s.delivered).toBe(1);
  expect(s.lost).toEqual(['cam-1 b']);
  expect(s.superseded).toBe(1);
  expect(s.duplicates).toEqual(['cam-2/d.jpg x2', 'cam-9/nobody.jpg: stored, never requested']);
  expect(s.uploadedWithoutObject).toEqual(['d: 2 objects']);
  // A report under another thing's name does not settle a request.
  update(store, 'cam-2', { reported: { snapshot: { id: 'b' } }, status: 'uploaded' });
  expect(ledger.isSettled('b')).toBe(false);
  ledger.stop();
});

it('quiesce waits for the handler call a presence message started, and for its request to settle', async () => {
  const { dc, rules, store } = fakeDevcloud();
  const ledger = new FleetLedger(dc);
  update(store, 'cam-1', { reported: { connected: true } });
  let done = false;
  const quiet = ledger.quiesce(5000).then((ok) => {
    done = true;
    return ok;
  });
  await Promise.resolve();
  expect(done).toBe(false);
  rules.emit('handled', { action: 'requested', thing: 'cam-1', request: { id: 'p' }, key: 'cam-1/p.jpg' });
  await new Promise((r) => setImmediate(r));
  expect(done).toBe(false); // the request is not settled yet
  update(store, 'cam-1', { reported: { snapshot: { id: 'p' } }, status: 'uploaded' });
  expect(await quiet).toBe(true);
  ledger.stop();
});
