/**
 * Which event topics are properties (stateful), as Axis's event declarations mark them
 * (`isProperty="true"` in the event service's GetEventInstances; developer.axis.com, "Event and action
 * services" and "Event data streaming", section "Stateful and stateless events"). A property has a
 * state per instance (its `source` items) and the camera reports that state right after a
 * subscription; a stateless event (a tampering alarm, an analytics "crossed line") is only sent when
 * it happens.
 *
 * The list holds the declarations Axis documents for AXIS OS 10-12 cameras; topics under a listed
 * prefix (`.../VMD/Camera1Profile1`) are instances of it. Confirmed from documentation only: reading a
 * camera's own declarations would also cover topics of third-party ACAP apps.
 */
const PROPERTY_TOPICS: ReadonlySet<string> = new Set([
  'tns1:VideoSource/MotionAlarm',
  'tns1:VideoSource/tnsaxis:DayNightVision',
  'tns1:VideoSource/tnsaxis:LiveStreamAccessed',
  'tns1:Device/tnsaxis:IO/Port',
  'tns1:Device/tnsaxis:IO/VirtualInput',
  'tns1:Device/tnsaxis:IO/VirtualPort',
  'tns1:Device/tnsaxis:IO/SupervisedPort',
  'tns1:Device/Trigger/Relay',
  'tns1:Device/Trigger/DigitalInput',
  'tns1:Device/tnsaxis:Sensor/PIR',
  'tns1:Device/tnsaxis:Light/Status',
  'tns1:Device/tnsaxis:Status/SystemReady',
  'tns1:Device/tnsaxis:Status/Temperature/Above',
  'tns1:Device/tnsaxis:Status/Temperature/Below',
  'tns1:Device/tnsaxis:Status/Temperature/Inside',
  'tns1:Device/tnsaxis:HardwareFailure/StorageFailure',
  'tns1:Device/tnsaxis:Network/Lost',
  'tns1:AudioSource/tnsaxis:TriggerLevel',
  'tns1:PTZController/tnsaxis:Move',
  'tns1:PTZController/tnsaxis:PTZPresets',
  'tns1:RuleEngine/tnsaxis:VMD3',
  'tnsaxis:Storage/Disruption',
  'tnsaxis:Storage/Recording',
]);

/** Application topics whose every instance below is a property (AXIS Video Motion Detection 4, Object Analytics scenarios, the Guard suite). */
const PROPERTY_PREFIXES = [
  'tnsaxis:CameraApplicationPlatform/VMD/',
  'tnsaxis:CameraApplicationPlatform/ObjectAnalytics/',
  'tnsaxis:CameraApplicationPlatform/MotionGuard/',
  'tnsaxis:CameraApplicationPlatform/FenceGuard/',
  'tnsaxis:CameraApplicationPlatform/LoiteringGuard/',
  'tns1:RuleEngine/tnsaxis:VMD3/',
];

export function isPropertyTopic(topic: string): boolean {
  return PROPERTY_TOPICS.has(topic) || PROPERTY_PREFIXES.some((p) => topic.startsWith(p));
}
