/** The REST portal adapter (DESIGN §7.1). */
export { createRestPortalClient, type RestPortalClientOptions } from './client';
