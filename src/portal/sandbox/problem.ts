/** RFC 9457 problem details: every error the sandbox answers is `application/problem+json`. */

/** The `type` URI prefix; the problem's `code` follows it. */
export const PROBLEM_TYPE_BASE = 'https://portal-bridge.invalid/problems/';

/** The JSON body of a problem answer. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code?: string;
}

/** What a route answers: status, JSON body (none for 204) and extra headers. */
export interface Answer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  410: 'Gone',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Thrown by route work to answer a problem; the pipeline turns it into an Answer. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';

  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
  }

  /** The answer this problem stands for. */
  toAnswer(): Answer {
    return problemAnswer(this.status, this.code, this.message, this.headers);
  }
}

/** A problem+json answer. */
export function problemAnswer(status: number, code: string, detail: string, headers: Readonly<Record<string, string>> = {}): Answer {
  const body: Problem = { type: `${PROBLEM_TYPE_BASE}${code}`, title: TITLES[status] ?? 'Error', status, detail, code };
  return { status, body, headers: { ...headers, 'content-type': 'application/problem+json' } };
}
