/**
 * S3 user metadata (`x-amz-meta-*`) travels as HTTP headers and is US-ASCII only; AWS documents that
 * a value with other characters is decoded and encoded per RFC 2047 ("Working with object metadata",
 * docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html). Free text from a camera (a rule
 * or profile name in Japanese, Swedish, ...) is therefore written as RFC 2047 encoded-words, UTF-8 and
 * base64 ("B"): `=?UTF-8?B?546E6Zai?=`, which S3, mail libraries and `decodeMetaValue` read back, and
 * never dropped (docs/decisions.md says why not percent-encoding). Plain printable ASCII stays as is.
 * User metadata is limited to 2 KB in all (names and values, UTF-8 bytes), so callers give each value
 * a byte budget.
 */

/** S3's limit on all user metadata of one object: names plus values, in bytes. */
export const MAX_USER_METADATA_BYTES = 2048;

const PLAIN = /^[\x20-\x7e]*$/;
const WORD_PREFIX = '=?UTF-8?B?';
const WORD_SUFFIX = '?=';
/** RFC 2047 §2: an encoded-word is at most 75 characters; 45 bytes make 60 base64 characters (+12). */
const WORD_BYTES = 45;

/** Whether a value can go into metadata as is (printable ASCII that does not look like an encoded-word). */
export function isPlainMetaValue(text: string): boolean {
  return PLAIN.test(text) && !text.includes('=?');
}

/** RFC 2047 encoded-words (UTF-8, base64), split on character boundaries, separated by spaces. */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk: Buffer[] = [];
  let size = 0;
  const flush = () => {
    if (size === 0) return;
    words.push(`${WORD_PREFIX}${Buffer.concat(chunk).toString('base64')}${WORD_SUFFIX}`);
    chunk = [];
    size = 0;
  };
  for (const ch of text) {
    const bytes = Buffer.from(ch, 'utf8');
    if (size + bytes.length > WORD_BYTES) flush();
    chunk.push(bytes);
    size += bytes.length;
  }
  flush();
  return words.join(' ');
}

/** The metadata form of any text: itself when plain, else encoded-words. Never empty for non-empty text. */
export function encodeMetaValue(text: string): string {
  return isPlainMetaValue(text) ? text : encodedWords(text);
}

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

/** Reads a metadata value back: encoded-words (UTF-8, B or Q) decoded, the spaces between them dropped (RFC 2047 §6.2). */
export function decodeMetaValue(value: string): string {
  const joined = value.replace(/(\?=)\s+(?==\?)/g, '$1');
  return joined.replace(ENCODED_WORD, (word, charset: string, encoding: string, payload: string) => {
    if (charset.toLowerCase() !== 'utf-8') return word;
    if (encoding.toUpperCase() === 'B') return Buffer.from(payload, 'base64').toString('utf8');
    const bytes = payload.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  });
}

/**
 * A flat map of free-text items as one metadata value: JSON, encoded as above, within `maxBytes`.
 * When it does not fit, the longest value is halved (ending in `…`) until it does, so the value stays
 * valid JSON with every name; items are left out, last first, only when the names alone do not fit.
 */
export function encodeMetaItems(items: Record<string, string>, maxBytes: number): string {
  const entries = Object.entries(items).map(([name, value]) => ({ name, chars: Array.from(value), cut: false }));
  for (;;) {
    const encoded = encodeMetaValue(JSON.stringify(Object.fromEntries(entries.map((e) => [e.name, `${e.chars.join('')}${e.cut ? '…' : ''}`]))));
    if (encoded.length <= maxBytes) return encoded;
    let longest: (typeof entries)[number] | undefined;
    for (const e of entries) if (e.chars.length > 1 && (!longest || e.chars.length > longest.chars.length)) longest = e;
    if (longest) {
      longest.chars = longest.chars.slice(0, Math.floor(longest.chars.length / 2));
      longest.cut = true;
    } else {
      entries.pop();
    }
  }
}
