import { shellQuote } from '../../lib/shell-quote.js';
import fs from 'node:fs';
import type { RawConfig } from './agent-config.js';

// Checks that span more than one key, or look at the files the keys point to, run after convict has
// validated each key on its own.

/** Runs the checks in order and returns the problems of the first that finds any, as loading always has. */
export function crossKeyProblems(raw: RawConfig, claimMode: boolean): string[] {
  const checks = [
    () => reconnectProblems(raw),
    () => (claimMode ? claimProblems(raw) : []),
    () => (raw.iot.keyPath ? privateKeyProblems('iot.keyPath', raw.iot.keyPath) : []),
    () => (claimMode ? privateKeyProblems('provisioning.claimKeyPath', raw.provisioning.claimKeyPath) : []),
  ];
  for (const check of checks) {
    const problems = check();
    if (problems.length > 0) return problems;
  }
  return [];
}

/** The reconnect window can only grow from minMs to maxMs. */
function reconnectProblems(raw: RawConfig): string[] {
  const { minMs, maxMs } = raw.iot.reconnect;
  return maxMs < minMs ? [`iot.reconnect.maxMs (${maxMs}) is below iot.reconnect.minMs (${minMs}): raise maxMs or lower minMs`] : [];
}

/**
 * A private key must be readable by its owner only: a key that group or others can read can be
 * copied by any process on the camera, and with it anyone can be this thing (the device key) or enrol
 * as any camera of the fleet (the claim key). Both are checked here, the same way. Refused with the exact
 * command that fixes it (AWS IoT Device Client refuses the same way; its users asked for the fix to
 * be printed, not just the rule).
 */
export function privateKeyProblems(key: 'iot.keyPath' | 'provisioning.claimKeyPath', keyPath: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(keyPath);
  } catch {
    return []; // "does not exist / not readable" is already reported by the cloudcam-key-file format
  }
  if (!st.isFile()) return [`${key} ${keyPath} is not a regular file: point it at the PEM private key`];
  const loose = st.mode & 0o077;
  if (loose === 0) return [];
  const who = [loose & 0o070 ? 'group' : '', loose & 0o007 ? 'others' : ''].filter(Boolean).join(' and ');
  return [
    `${key} ${keyPath} is accessible by ${who} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}): ` +
      `anyone who can read it can ${key === 'iot.keyPath' ? 'impersonate this camera' : 'enrol as any camera of the fleet with the claim certificate'}. Fix: chmod 600 ${shellQuote(keyPath)}`,
  ];
}

/** Provisioning by claim needs the claim key and a template besides the claim certificate. */
function claimProblems(raw: RawConfig): string[] {
  const problems: string[] = [];
  const { claimCertPath, claimKeyPath, templateName } = raw.provisioning;
  for (const [key, value, what] of [
    ['provisioning.claimCertPath', claimCertPath, 'the claim certificate'],
    ['provisioning.claimKeyPath', claimKeyPath, 'the claim private key'],
  ] as const) {
    if (value === '') {
      problems.push(`${key} is required when provisioning.claimCertPath is set: the path of ${what} shipped in the bundle`);
      continue;
    }
    try {
      fs.accessSync(value, fs.constants.R_OK);
    } catch {
      problems.push(`${key}: ${what} is missing or unreadable at ${value}; put it in the bundle (docs/deploy.md, "A fleet: provisioning by claim")`);
    }
  }
  if (templateName === '') {
    problems.push('provisioning.templateName is required when provisioning.claimCertPath is set: the stack output ProvisioningTemplateName');
  }
  return problems;
}

