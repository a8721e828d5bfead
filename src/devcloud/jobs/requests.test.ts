import { describe, expect, it } from 'vitest';
import { JobsError } from './errors.js';
import { parseStartNext, parseUpdate } from './requests.js';

const refusal = (f: () => unknown): JobsError => {
  try {
    f();
  } catch (err) {
    if (err instanceof JobsError) return err;
    throw err;
  }
  throw new Error('accepted');
};

describe('Jobs request checks', () => {
  // AWS's DetailsMap value pattern is [^\p{C}]+ (API_iot-jobs-data_JobExecutionState).
  it.each([
    ['a line break', 'failed:\nat line 2'],
    ['a tab', 'a\tb'],
    ['NUL', 'a\u0000'],
    ['a lone surrogate (a pair cut in two)', 'cut \uD83D'],
    ['a zero-width format character', 'a\u200Bb'],
  ])('refuses statusDetails values with %s as InvalidRequest, as AWS does', (_name, value) => {
    for (const parse of [() => parseUpdate({ status: 'FAILED', statusDetails: { reason: value } }), () => parseStartNext({ statusDetails: { reason: value } })]) {
      const err = refusal(parse);
      expect(err.code).toBe('InvalidRequest');
      expect(err.message).toContain('statusDetails.reason');
    }
  });

  it('accepts printable values, emoji and non-Latin text included', () => {
    expect(parseUpdate({ status: 'FAILED', statusDetails: { reason: 'kein Speicher – 😀 ディスク' } }).statusDetails).toEqual({ reason: 'kein Speicher – 😀 ディスク' });
  });
});
