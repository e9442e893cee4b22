import { CLIENT_ASSERTION_TYPE } from './auth';

/** Small HTTP helpers for the server's own tests and for connector tests that talk to it without a FHIR client. */

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON (undefined when empty; throws when it is not JSON). */
  json<T = Record<string, unknown>>(): T;
}

export async function httpGet(url: string, headers: Readonly<Record<string, string>> = {}, method = 'GET'): Promise<HttpAnswer> {
  const res = await fetch(url, { method, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: <T>() => (text === '' ? undefined : JSON.parse(text)) as T };
}

/** POSTs a client_credentials token request with a client assertion; `extra` overrides or adds form fields. */
export async function requestToken(tokenUrl: string, assertion: string, extra: Readonly<Record<string, string>> = {}): Promise<HttpAnswer> {
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: assertion, scope: 'system/*.read', ...extra });
  const res = await fetch(tokenUrl, { method: 'POST', body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: <T>() => JSON.parse(text) as T };
}
