import { PassThrough } from 'node:stream';
import { BridgeError } from './errors';
import { createLogger, isSensitiveKey, maskString, REDACTED, type LogLevel, type Logger } from './log';
import { createRefs } from './refs';

// Synthetic PHI: none of these strings may appear in any log line.
const PHI = {
  given: 'Zelda',
  family: 'Quackenbush',
  email: 'zelda.quackenbush@example.org',
  otherEmail: 'Parent.Two+tag@mail.example.net',
  phone: '(555) 867-5309',
  phoneE164: '+15558675309',
  dob: '2014-07-09',
  mrn: 'MRN00482913',
  street: '42 Wallaby Way',
  guardianKey: 'e:zelda.quackenbush@example.org/zelda quackenbush',
};
const HL7 = `MSH|^~\\&|EHR|HOSP|PORTAL|HOSP|20260115101500||ADT^A04|MSG00017|P|2.5.1\rPID|1||${PHI.mrn}^^^HOSP^MR||${PHI.family}^${PHI.given}||20140709|F|||${PHI.street}\rNK1|1|${PHI.family}^Marge|MTH|||^NET^Internet^${PHI.email}~^PRN^CP^^^555^8675309`;
const FHIR = JSON.stringify({ resourceType: 'Patient', id: 'p1', name: [{ given: [PHI.given], family: PHI.family }], birthDate: PHI.dob });

function capture(level: LogLevel, base?: Record<string, unknown>): { log: Logger; lines: () => Promise<Record<string, unknown>[]>; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const log = createLogger({ level, stream, ...(base && { base }) });
  return {
    log,
    text: () => text,
    // Winston writes through a stream pipeline; one turn of the event loop delivers what was logged.
    lines: () =>
      new Promise((resolve) => {
        setImmediate(() => resolve(text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)));
      }),
  };
}

function expectNoPhi(text: string): void {
  const needles = [...Object.values(PHI), PHI.email.toUpperCase(), '867-5309', '8675309', 'Wallaby', 'Marge', '20140709'];
  for (const needle of needles) expect(text).not.toContain(needle);
}

describe('createLogger', () => {
  test('one JSON line per event: level, msg, time first, then the fields', async () => {
    const { log, lines, text } = capture('info', { service: 'portal-bridge' });
    log.info('job done', { jobId: 12, connector: 'hl7-file' });
    const [line] = await lines();
    expect(Object.keys(line ?? {})).toEqual(['level', 'msg', 'time', 'service', 'jobId', 'connector']);
    expect(line).toMatchObject({ level: 'info', msg: 'job done', service: 'portal-bridge', jobId: 12, connector: 'hl7-file' });
    expect(line?.['time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(text().split('\n')).toHaveLength(2);
  });

  test('PHI fed through every door never reaches a line; keys stay, refs appear', async () => {
    const { log, lines, text } = capture('debug');
    const refs = createRefs('a-test-ref-key-0123456789');
    const job = log.child({ jobId: 'j-1', guardianRef: refs.guardian(PHI.guardianKey), patientRef: refs.patient(PHI.mrn), connector: 'hl7-mllp' });

    job.info('contact seen', {
      givenName: PHI.given,
      familyName: PHI.family,
      name: { given: PHI.given, family: PHI.family },
      email: PHI.email,
      emailAddress: PHI.otherEmail,
      phone: PHI.phone,
      cellPhone: PHI.phoneE164,
      birthDate: PHI.dob,
      dob: PHI.dob,
      mrn: PHI.mrn,
      patientId: PHI.mrn,
      guardianKey: PHI.guardianKey,
      address: { line: [PHI.street] },
      raw: HL7,
      hl7: HL7,
      payload: { resource: FHIR },
      messageBody: HL7,
      ssn: '078-05-1120',
      contacts: [{ relationship: 'mother', email: PHI.email, telecom: [{ system: 'phone', value: PHI.phone }] }],
    });
    // Values under innocent keys: the second line of defence masks them by shape.
    job.warn('portal refused', { reason: `email ${PHI.email} already in use`, detail: `call ${PHI.phone} or ${PHI.phoneE164}`, born: PHI.dob, input: HL7, resource: FHIR });
    // Errors: a library error's message may carry data; only name and code survive.
    const pgError = Object.assign(new Error(`duplicate key (email)=(${PHI.email}) for ${PHI.given} ${PHI.family}`), { code: '23505', detail: PHI.street, parameters: [PHI.mrn] });
    const wrapped = new BridgeError('ERR_STORE_UNAVAILABLE', 'database busy', { cause: pgError });
    job.error('job failed', { err: wrapped });
    job.error('job failed', pgError);
    log.error('batch failed', { errors: [new TypeError(`cannot read ${PHI.mrn}`), new AggregateError([new Error(PHI.email)], PHI.family)] });
    log.debug('shape', { fields: new Map([['email', PHI.email]]), bytes: Buffer.from(HL7), list: new Set([PHI.phone]) });

    const all = await lines();
    expect(all).toHaveLength(6);
    expectNoPhi(text());

    const [first, second, third, fourth] = all;
    for (const key of ['givenName', 'familyName', 'email', 'emailAddress', 'phone', 'cellPhone', 'birthDate', 'dob', 'mrn', 'patientId', 'guardianKey', 'raw', 'hl7', 'messageBody', 'ssn']) {
      expect(first?.[key]).toBe(REDACTED);
    }
    expect(first).toMatchObject({ name: REDACTED, address: REDACTED, payload: REDACTED, contacts: [{ relationship: 'mother', email: REDACTED, telecom: REDACTED }] });
    expect(first).toMatchObject({ jobId: 'j-1', guardianRef: refs.guardian(PHI.guardianKey), patientRef: refs.patient(PHI.mrn), connector: 'hl7-mllp' });
    expect(first?.['guardianRef']).toMatch(/^g_[0-9a-f]{16}$/);
    expect(second).toMatchObject({ reason: `email ${REDACTED} already in use`, detail: `call ${REDACTED} or ${REDACTED}`, born: REDACTED, input: REDACTED, resource: REDACTED });
    expect(third?.['err']).toMatchObject({ name: 'BridgeError', code: 'ERR_STORE_UNAVAILABLE', message: 'database busy', cause: { name: 'Error', code: '23505' } });
    expect((third?.['err'] as { cause: Record<string, unknown> }).cause).not.toHaveProperty('message');
    expect(fourth).toMatchObject({ msg: 'job failed', err: { name: 'Error', code: '23505' } });
  });

  test('an Error in place of the fields does not leak into msg (winston would append its message)', async () => {
    const { log, lines } = capture('info');
    log.error('send failed', new Error(`bounced: ${PHI.email}`));
    const [line] = await lines();
    expect(line).toEqual({ level: 'error', msg: 'send failed', time: expect.any(String), err: { name: 'Error' } });
  });

  test('stacks only at debug, and without the first line (it repeats the message)', async () => {
    const info = capture('info');
    const debug = capture('debug');
    const e = new Error(`no such patient ${PHI.mrn}`);
    info.log.error('x', { err: e });
    debug.log.error('x', { err: e });
    const [atInfo] = await info.lines();
    const [atDebug] = await debug.lines();
    expect(atInfo?.['err']).toEqual({ name: 'Error' });
    const stack = (atDebug?.['err'] as { stack: string }).stack;
    expect(stack).toMatch(/^\s+at /);
    expect(stack).not.toContain(PHI.mrn);
  });

  test('BridgeError messages are kept (PHI-free by contract), with status and Retry-After', async () => {
    const { log, lines } = capture('info');
    log.warn('portal busy', { err: new BridgeError('ERR_PORTAL_RATE_LIMITED', 'portal answered 429', { status: 429, retryAfterMs: 2000 }) });
    const [line] = await lines();
    expect(line?.['err']).toEqual({ name: 'BridgeError', code: 'ERR_PORTAL_RATE_LIMITED', status: 429, retryAfterMs: 2000, message: 'portal answered 429' });
  });

  test('levels filter; child fields add up; reserved keys cannot overwrite the line', async () => {
    const { log, lines } = capture('warn');
    log.info('dropped');
    log.debug('dropped');
    expect(log.isLevelEnabled('warn')).toBe(true);
    expect(log.isLevelEnabled('info')).toBe(false);
    log.child({ connector: 'a' }).child({ jobId: 3 }).warn('kept', { level: 'error', time: 'never', msg: 'other' });
    const all = await lines();
    expect(all).toEqual([{ level: 'warn', msg: 'kept', time: expect.any(String), connector: 'a', jobId: 3, _level: 'error', _time: 'never', _msg: REDACTED }]);
  });

  test('odd values: circular, deep, dates, bigint, functions, URL credentials', async () => {
    const { log, lines } = capture('info');
    const loop: Record<string, unknown> = { a: 1 };
    loop['self'] = loop;
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 12; i++) deep = deep['d'] = {};
    log.info('odd', { loop, root, at: new Date('2026-01-15T10:00:00Z'), big: 12n, fn: () => 1, db: 'postgres://bridge:s3cret@db:5432/pb' });
    const [line] = await lines();
    expect(line?.['loop']).toEqual({ a: 1, self: '[circular]' });
    expect(JSON.stringify(line?.['root'])).toContain('[too deep]');
    expect(line).toMatchObject({ at: '2026-01-15T10:00:00.000Z', big: '12', db: 'postgres://bridge:***@db:5432/pb' });
    expect(line).not.toHaveProperty('fn');
  });
});

describe('isSensitiveKey', () => {
  test.each(['name', 'givenName', 'family_name', 'FAMILY-NAME', 'email', 'emailAddress', 'emails', 'phone', 'cellPhone', 'mobile', 'birthDate', 'birthdate', 'dob', 'DOB', 'mrn', 'patientMRN', 'address', 'raw', 'rawMessage', 'hl7', 'hl7Message', 'message', 'messageBody', 'body', 'payload', 'ssn', 'password', 'apiToken', 'authorization', 'patientId', 'guardianKey', 'key', 'externalId'])('%s is sensitive', (key) => {
    expect(isSensitiveKey(key)).toBe(true);
  });
  test.each(['jobId', 'guardianRef', 'patientRef', 'emailRef', 'contactRefs', 'connector', 'messageType', 'messageId', 'controlId', 'status', 'code', 'attempt', 'idempotencyKey', 'rule', 'op', 'accountId', 'authority', 'durationMs'])('%s is kept', (key) => {
    expect(isSensitiveKey(key)).toBe(false);
  });
});

describe('maskString', () => {
  test.each([
    ['reach me at zelda@example.org today', `reach me at ${REDACTED} today`],
    ['cell (555) 867-5309.', `cell ${REDACTED}.`],
    ['cell +1 555 867 5309', `cell ${REDACTED}`],
    ['born 2014-07-09', `born ${REDACTED}`],
    ['PV1|1|O', REDACTED],
    ['first line\nPID|1||123', REDACTED],
    ['{"resourceType": "Patient"}', REDACTED],
  ])('%j → %j', (input, expected) => {
    expect(maskString(input)).toBe(expected);
  });

  test.each(['2026-01-15T10:00:00.000Z', '123e4567-e89b-12d3-a456-426614174000', 'version 1.13.16', 'http://127.0.0.1:9464/metrics', 'attempt 3 of 8', 'ADT^A04', 'took 1500 ms', 'ERR_PORTAL_TIMEOUT', 'a'.repeat(64)])('%j is kept', (s) => {
    expect(maskString(s)).toBe(s);
  });
});
