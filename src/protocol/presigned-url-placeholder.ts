/**
 * AWS IoT Jobs' presigned-URL placeholders: a job document may carry
 * `${aws:iot:s3-presigned-url:https://s3.amazonaws.com/BUCKET/KEY}`, which Jobs replaces with a
 * presigned GET of that object each time it delivers the document to a device (presignedUrlConfig;
 * docs/protocol-jobs.md §5). The forms AWS's pages show are all recognised: a path-style or
 * virtual-hosted S3 URL, the older bare `BUCKET/KEY`, and the `s3-presigned-url-v2` spelling.
 */

const PLACEHOLDER = /\$\{aws:iot:s3-presigned-url(?:-v2)?:([^}]*)\}/g;

export interface PlaceholderTarget {
  /** The whole `${...}` text. */
  text: string;
  bucket: string;
  key: string;
}

/** `https://s3[.region].amazonaws.com/BUCKET/KEY`, `https://BUCKET.s3[.region].amazonaws.com/KEY` or `BUCKET/KEY`. */
function parseS3Url(url: string): { bucket: string; key: string } | undefined {
  if (!url.includes('://')) {
    const bare = /^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\/(.+)$/.exec(url);
    return bare ? { bucket: bare[1]!, key: bare[2]! } : undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' || parsed.search !== '' || parsed.hash !== '') return undefined;
  const host = parsed.hostname;
  const pathKey = decodeURIComponent(parsed.pathname.slice(1));
  const pathStyle = /^s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$/.exec(host);
  if (pathStyle) {
    const slash = pathKey.indexOf('/');
    if (slash <= 0 || slash === pathKey.length - 1) return undefined;
    return { bucket: pathKey.slice(0, slash), key: pathKey.slice(slash + 1) };
  }
  const hosted = /^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])\.s3(?:[.-][a-z0-9-]+)?\.amazonaws\.com$/.exec(host);
  if (hosted && pathKey !== '') return { bucket: hosted[1]!, key: pathKey };
  return undefined;
}

/** Every placeholder in a document's text; throws naming one that does not hold an S3 object URL. */
export function findPlaceholders(documentText: string): PlaceholderTarget[] {
  const out: PlaceholderTarget[] = [];
  for (const match of documentText.matchAll(PLACEHOLDER)) {
    const target = parseS3Url(match[1]!);
    if (!target) {
      throw new Error(`${match[0]} does not name an S3 object: write \${aws:iot:s3-presigned-url:https://s3.amazonaws.com/BUCKET/KEY}`);
    }
    out.push({ text: match[0], ...target });
  }
  return out;
}

/** The placeholder for one object, as an operator writes it into a job document. */
export function presignedUrlPlaceholder(bucket: string, key: string): string {
  return `\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}}`;
}

/**
 * The document text with each placeholder replaced by `presign(bucket, key)`. The URL goes into a
 * JSON string, so it is JSON-escaped (a presigned URL has no quote, but a key could).
 */
export async function replacePlaceholders(documentText: string, presign: (bucket: string, key: string) => Promise<string>): Promise<string> {
  const targets = findPlaceholders(documentText);
  let out = documentText;
  for (const t of targets) {
    const url = await presign(t.bucket, t.key);
    out = out.replace(t.text, () => JSON.stringify(url).slice(1, -1));
  }
  return out;
}
