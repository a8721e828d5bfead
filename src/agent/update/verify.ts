/**
 * The checks between the download and the install: the bytes on disk are the ones the document
 * names (size, SHA-256, both measured while streaming) and the release key signed exactly that
 * package for exactly this version and architecture. Nothing is touched before all pass.
 */
import { verifyRelease, type ReleaseKeys } from '../../protocol/release-signature.js';
import type { UpdateDocument } from '../../protocol/update-document.js';
import type { Downloaded } from './download.js';

export class VerifyError extends Error {
  override readonly name = 'VerifyError';
}

/**
 * The signature over what the document claims (hash, size, version, architecture, allowDowngrade),
 * checked before the download: a document the release key did not sign costs no download, so whoever
 * can create jobs without the key cannot make cameras fetch (and store) bytes of their choosing.
 */
export function verifyClaims(doc: UpdateDocument, keys: ReleaseKeys): void {
  try {
    verifyRelease(keys, doc.package.keyId, doc.package.signature, { sha256: doc.package.sha256, size: doc.package.size, version: doc.version, architecture: doc.architecture, allowDowngrade: doc.allowDowngrade });
  } catch (err) {
    throw new VerifyError((err as Error).message, { cause: err });
  }
}

/** After the download: the bytes are the signed ones (the signature is checked again over what was measured). */
export function verifyPackage(doc: UpdateDocument, got: Downloaded, keys: ReleaseKeys): void {
  if (got.bytes !== doc.package.size) throw new VerifyError(`the package has ${got.bytes} bytes, the job document says ${doc.package.size}`);
  if (got.sha256 !== doc.package.sha256) throw new VerifyError(`the package's SHA-256 is ${got.sha256}, the job document says ${doc.package.sha256}: damaged or replaced in transit or in the bucket`);
  try {
    verifyRelease(keys, doc.package.keyId, doc.package.signature, { sha256: got.sha256, size: got.bytes, version: doc.version, architecture: doc.architecture, allowDowngrade: doc.allowDowngrade });
  } catch (err) {
    throw new VerifyError((err as Error).message, { cause: err });
  }
}
