import { describe, expect, it } from 'vitest';
import { runtimeEndOfLifeLine } from './check.js';
import { FLAVOURS, friendlyNameFor } from '../packaging/flavours.js';

const flavour = (id: string) => FLAVOURS.find((f) => f.id === id)!;

describe('setup check: the runtime line', () => {
  it('fails for the AXIS OS 11 package on an end-of-life Node, with both ways out', () => {
    const line = runtimeEndOfLifeLine(friendlyNameFor(flavour('armv7hf-axisos11'), true));
    expect(line).toMatchObject({ name: 'runtime', ok: false, detail: 'cloudcam (AXIS OS 11, Node end of life): its Node is past end of life, with no more security fixes' });
    expect(line?.fix).toMatch(/AXIS OS 12.*armv7hf package.*NODE_TARBALL_armv7hf=node-v22/);
  });

  it('says nothing for a maintained runtime', () => {
    expect(runtimeEndOfLifeLine(friendlyNameFor(flavour('armv7hf'), false))).toBeUndefined();
    expect(runtimeEndOfLifeLine(friendlyNameFor(flavour('armv7hf-axisos11'), false))).toBeUndefined(); // rebuilt with an official Node 22
    expect(runtimeEndOfLifeLine(friendlyNameFor(flavour('aarch64'), false))).toBeUndefined();
  });
});
