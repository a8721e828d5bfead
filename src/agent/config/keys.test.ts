import { describe, expect, it } from 'vitest';
import { envNameOf, schemaLeaves } from './keys.js';

/**
 * The 36 names that were written by hand in the schema until the names were derived from the key
 * paths. Deployed cameras and site scripts set these; none may change.
 */
const HAND_WRITTEN_ENV_NAMES: Record<string, string> = {
  thingName: 'CLOUDCAM_THING_NAME',
  'iot.endpoint': 'CLOUDCAM_IOT_ENDPOINT',
  'iot.port': 'CLOUDCAM_IOT_PORT',
  'iot.mqttVersion': 'CLOUDCAM_IOT_MQTT_VERSION',
  'iot.keepaliveSeconds': 'CLOUDCAM_IOT_KEEPALIVE_SECONDS',
  'iot.caPath': 'CLOUDCAM_IOT_CA_PATH',
  'iot.certPath': 'CLOUDCAM_IOT_CERT_PATH',
  'iot.keyPath': 'CLOUDCAM_IOT_KEY_PATH',
  'iot.reconnect.minMs': 'CLOUDCAM_IOT_RECONNECT_MIN_MS',
  'iot.reconnect.maxMs': 'CLOUDCAM_IOT_RECONNECT_MAX_MS',
  'iot.connectTimeoutMs': 'CLOUDCAM_IOT_CONNECT_TIMEOUT_MS',
  'camera.url': 'CLOUDCAM_CAMERA_URL',
  'camera.username': 'CLOUDCAM_CAMERA_USERNAME',
  'camera.password': 'CLOUDCAM_CAMERA_PASSWORD',
  'camera.timeoutMs': 'CLOUDCAM_CAMERA_TIMEOUT_MS',
  'snapshot.resolution': 'CLOUDCAM_SNAPSHOT_RESOLUTION',
  'snapshot.compression': 'CLOUDCAM_SNAPSHOT_COMPRESSION',
  'snapshot.maxBytes': 'CLOUDCAM_SNAPSHOT_MAX_BYTES',
  'snapshot.captureTimeoutMs': 'CLOUDCAM_SNAPSHOT_CAPTURE_TIMEOUT_MS',
  'snapshot.uploadTimeoutMs': 'CLOUDCAM_SNAPSHOT_UPLOAD_TIMEOUT_MS',
  'snapshot.allowedUploadHosts': 'CLOUDCAM_SNAPSHOT_ALLOWED_UPLOAD_HOSTS',
  'snapshot.insecureHttpUploadHosts': 'CLOUDCAM_SNAPSHOT_INSECURE_HTTP_UPLOAD_HOSTS',
  'schedule.cron': 'CLOUDCAM_SCHEDULE_CRON',
  'schedule.timezone': 'CLOUDCAM_SCHEDULE_TIMEZONE',
  stateDir: 'CLOUDCAM_STATE_DIR',
  'log.level': 'CLOUDCAM_LOG_LEVEL',
  'log.format': 'CLOUDCAM_LOG_FORMAT',
  'log.syslog.url': 'CLOUDCAM_LOG_SYSLOG_URL',
  'log.syslog.facility': 'CLOUDCAM_LOG_SYSLOG_FACILITY',
  'log.syslog.appName': 'CLOUDCAM_LOG_SYSLOG_APP_NAME',
  shadowName: 'CLOUDCAM_SHADOW_NAME',
  'localApi.port': 'CLOUDCAM_LOCAL_API_PORT',
  'provisioning.claimCertPath': 'CLOUDCAM_PROVISIONING_CLAIM_CERT_PATH',
  'provisioning.claimKeyPath': 'CLOUDCAM_PROVISIONING_CLAIM_KEY_PATH',
  'provisioning.templateName': 'CLOUDCAM_PROVISIONING_TEMPLATE_NAME',
  'provisioning.keyType': 'CLOUDCAM_PROVISIONING_KEY_TYPE',
};

describe('environment variable names', () => {
  it('derives exactly the 36 names that used to be written by hand', () => {
    const derived = Object.fromEntries(
      schemaLeaves()
        .filter((l) => l.key in HAND_WRITTEN_ENV_NAMES)
        .map((l) => [l.key, l.env]),
    );
    expect(Object.keys(HAND_WRITTEN_ENV_NAMES)).toHaveLength(36);
    expect(derived).toEqual(HAND_WRITTEN_ENV_NAMES);
  });

  it('gives every key its own CLOUDCAM_ variable', () => {
    const envs = schemaLeaves().map((l) => l.env);
    for (const env of envs) expect(env).toMatch(/^CLOUDCAM_[A-Z0-9_]+$/);
    expect(new Set(envs).size).toBe(envs.length);
  });

  it('turns dots and camelCase humps into underscores', () => {
    expect(envNameOf('snapshot.captureTimeoutMs')).toBe('CLOUDCAM_SNAPSHOT_CAPTURE_TIMEOUT_MS');
    expect(envNameOf('log.syslog.appName')).toBe('CLOUDCAM_LOG_SYSLOG_APP_NAME');
    expect(envNameOf('stateDir')).toBe('CLOUDCAM_STATE_DIR');
  });
});
