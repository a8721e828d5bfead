#!/usr/bin/env node
// Writes Amazon's broker trust roots into certs/ from Node's own root store (tls.rootCertificates,
// Mozilla's list): no network. AWS IoT's ATS endpoints chain to Amazon Root CA 1 (RSA) or 3 (ECC);
// certs/AmazonRootCAs.pem holds both and is the packaged agent's default iot.caPath.
// Usage: node scripts/extract-amazon-roots.mjs [OUT_DIR]   (default: certs/)
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

const out = path.resolve(process.argv[2] ?? 'certs');
const wanted = { AmazonRootCA1: 'Amazon Root CA 1', AmazonRootCA3: 'Amazon Root CA 3' };
fs.mkdirSync(out, { recursive: true });
const bundle = [];
for (const [file, cn] of Object.entries(wanted)) {
  const found = tls.rootCertificates.filter((pem) => {
    const c = new X509Certificate(pem);
    return c.subject.split('\n').includes(`CN=${cn}`) && c.subject.split('\n').includes('O=Amazon') && c.ca;
  });
  if (found.length !== 1) {
    console.error(`expected exactly one "${cn}" in Node ${process.version}'s root store, found ${found.length}`);
    process.exit(1);
  }
  const pem = found[0].trim() + '\n';
  fs.writeFileSync(path.join(out, `${file}.pem`), pem);
  bundle.push(pem);
  console.log(`${file}.pem  ${new X509Certificate(pem).fingerprint256}`);
}
fs.writeFileSync(path.join(out, 'AmazonRootCAs.pem'), bundle.join(''));
