import { describe, expect, it } from 'vitest';
import { decodeMetaValue, encodeMetaItems, encodeMetaValue } from './s3-metadata.js';

/**
 * S3 user metadata is US-ASCII; AWS: "When using non US-ASCII characters in your metadata values, the
 * provided unicode string is examined for non US-ASCII characters. Values of such headers are
 * character decoded as per RFC 2047 before storing and encoded as per RFC 2047 to make them mail-safe
 * before returning" (docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html). Encoded-words
 * per RFC 2047 §2 (at most 75 characters each) and §4.1 (B encoding).
 */
const ASCII_HEADER = /^[\x20-\x7e]*$/;

describe('metadata values', () => {
  it('keeps plain ASCII as is', () => {
    expect(encodeMetaValue('tns1:VideoSource/MotionAlarm')).toBe('tns1:VideoSource/MotionAlarm');
  });
  it('encodes Japanese and Swedish as UTF-8 B encoded-words that decode back, never dropping them', () => {
    for (const text of ['玄関の動き検知', 'Rörelse vid grinden – Åby', 'Ünïcödé 😀 mixed ascii']) {
      const v = encodeMetaValue(text);
      expect(v).toMatch(ASCII_HEADER);
      expect(v.startsWith('=?UTF-8?B?')).toBe(true);
      expect(decodeMetaValue(v)).toBe(text);
    }
    expect(encodeMetaValue('玄関')).toBe(`=?UTF-8?B?${Buffer.from('玄関').toString('base64')}?=`);
  });
  it('splits long text into encoded-words of at most 75 characters on character boundaries', () => {
    const text = '動'.repeat(100);
    const v = encodeMetaValue(text);
    const words = v.split(' ');
    expect(words.length).toBeGreaterThan(1);
    for (const w of words) {
      expect(w.length).toBeLessThanOrEqual(75);
      expect(Buffer.from(w.slice(10, -2), 'base64').toString('utf8')).toMatch(/^動+$/);
    }
    expect(decodeMetaValue(v)).toBe(text);
  });
  it('encodes ASCII that contains control characters or looks like an encoded-word', () => {
    for (const text of ['a\r\nb', '=?UTF-8?B?eA==?=']) {
      const v = encodeMetaValue(text);
      expect(v).toMatch(ASCII_HEADER);
      expect(decodeMetaValue(v)).toBe(text);
    }
  });
  it('decodes Q encoding too (what other writers use)', () => {
    expect(decodeMetaValue('=?UTF-8?Q?R=C3=B6relse_vid?=')).toBe('Rörelse vid');
  });
});

describe('metadata items', () => {
  it('writes the items as JSON within the byte budget, cutting the longest value, never a name', () => {
    const items = { RuleName: '玄関の動き検知'.repeat(40), active: '1' };
    const v = encodeMetaItems(items, 300);
    expect(v.length).toBeLessThanOrEqual(300);
    expect(v).toMatch(ASCII_HEADER);
    const back = JSON.parse(decodeMetaValue(v)) as Record<string, string>;
    expect(back['active']).toBe('1');
    expect(back['RuleName']?.endsWith('…')).toBe(true);
    expect(items.RuleName.startsWith(back['RuleName']!.slice(0, -1))).toBe(true);
  });
  it('leaves plain items readable', () => {
    expect(encodeMetaItems({ port: '1' }, 400)).toBe('{"port":"1"}');
  });
});
