import type { FastifyReply } from 'fastify';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** An OperationOutcome with one issue (FHIR R4 issue-type codes: invalid, not-found, login, throttled, transient…). */
export function operationOutcome(code: string, diagnostics: string, severity: 'error' | 'information' = 'error'): Record<string, unknown> {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

/** A request the FHIR routes refuse: answered as an OperationOutcome with `status`. */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** Sends a FHIR JSON body (stringified here, so the onSend hook sees a string it can spoil). */
export function sendFhir(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type(FHIR_JSON).send(JSON.stringify(body));
}

/** Sends an OperationOutcome for a FhirError. */
export function sendFhirError(reply: FastifyReply, e: FhirError): FastifyReply {
  for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
  return sendFhir(reply, e.status, operationOutcome(e.code, e.message));
}

/** The issue-type code for an HTTP status. */
export function issueCodeFor(status: number): string {
  if (status === 401 || status === 403) return 'security';
  if (status === 404) return 'not-found';
  if (status === 429) return 'throttled';
  if (status >= 500) return 'transient';
  return 'invalid';
}
