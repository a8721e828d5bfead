/**
 * `make fleet`: runs the fleet simulation (run-fleet.ts) and prints its table; the last line is
 * `fleet: N cameras, N online in X s, D of R snapshots delivered, lost L, duplicates U, p50 A ms, p95 B ms`.
 * Exits 1 when anything was lost or doubled, or a camera never came online.
 *   node --expose-gc dist/fleet/cli.js --cameras 500 --snapshots 3 [--broker mosquitto|aedes]
 */
import { parseArgs } from 'node:util';
import { findMosquitto } from '../devcloud/broker/index.js';
import { formatFleetFigures, runFleet } from './run-fleet.js';

process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
const { values } = parseArgs({ options: { cameras: { type: 'string', default: '500' }, snapshots: { type: 'string', default: '3' }, broker: { type: 'string' } } });
const cameras = Number(values.cameras);
const snapshots = Number(values.snapshots);
if (!Number.isInteger(cameras) || cameras < 2) throw new Error(`--cameras must be a whole number >= 2, got ${values.cameras}`);
if (!Number.isInteger(snapshots) || snapshots < 1) throw new Error(`--snapshots must be a whole number >= 1, got ${values.snapshots}`);
const broker = values.broker ?? (findMosquitto() ? 'mosquitto' : 'aedes');
if (broker !== 'mosquitto' && broker !== 'aedes') throw new Error(`--broker must be mosquitto or aedes, got ${broker}`);

const figures = await runFleet({ cameras, snapshots, broker, progress: (line) => process.stdout.write(`fleet: ${line}\n`) });
process.stdout.write(formatFleetFigures(figures) + '\n');
const l = figures.ledger;
process.exitCode = l.lost.length > 0 || l.duplicates.length > 0 || l.uploadedWithoutObject.length > 0 || figures.online < figures.cameras ? 1 : 0;
