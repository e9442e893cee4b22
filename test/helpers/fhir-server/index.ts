/** The FHIR R4 test server (issue #5) and the rest-hook notification helpers. */
export { startFhirTestServer, type FhirTestServer } from './server';
export type { FaultRule, FhirResource, FhirTestServerOptions, RecordedRequest, StoredResource } from './types';
export { familyPatient, familyRelatedPerson, TEST_CONTACT_SYSTEM, TEST_MRN_SYSTEM, type FhirFamilyOptions } from './families';
export { fixtureResources } from './fixtures';
export { GARBAGE_RESOURCE } from './faults';
export { CLIENT_ASSERTION_TYPE } from './auth';
export { httpGet, requestToken, type HttpAnswer } from './http';
export {
  eventNotification,
  handshakeNotification,
  heartbeatNotification,
  postNotification,
  type NotificationBase,
  type NotificationEvent,
  type NotificationFormat,
} from './notify';
