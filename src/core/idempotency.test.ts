import { idempotencyKey, opIdempotencyKey, type IdempotencyFields } from './idempotency';
import type { Op } from './plan';

const base: IdempotencyFields = { practice: 'acme-peds', op: 'send-welcome', guardianKey: 'c:42', target: '', trigger: 'created' };

describe('idempotencyKey', () => {
  it('is a deterministic sha256 hex', () => {
    expect(idempotencyKey(base)).toMatch(/^[0-9a-f]{64}$/);
    expect(idempotencyKey({ ...base })).toBe(idempotencyKey(base));
  });

  it.each<[keyof IdempotencyFields, string]>([
    ['practice', 'other-practice'],
    ['op', 'link'],
    ['guardianKey', 'c:43'],
    ['target', 'P1'],
    ['trigger', 'resend:42'],
  ])('changes with %s', (field, value) => {
    expect(idempotencyKey({ ...base, [field]: value })).not.toBe(idempotencyKey(base));
  });

  it('cannot be forged by moving text between fields', () => {
    const a = idempotencyKey({ ...base, guardianKey: 'c:4', target: '2' });
    const b = idempotencyKey({ ...base, guardianKey: 'c:', target: '42' });
    const c = idempotencyKey({ ...base, guardianKey: 'c:4","2', target: '' });
    expect(new Set([a, b, c]).size).toBe(3);
  });
});

describe('opIdempotencyKey', () => {
  const name = { given: 'Ada', family: 'Testperson' };
  it('derives target and trigger from the op', () => {
    const create: Op = { kind: 'create-account', guardianKey: 'g', email: ' Ada@Example.org', name };
    expect(opIdempotencyKey('p', create)).toBe(idempotencyKey({ practice: 'p', op: 'create-account', guardianKey: 'g', target: 'ada@example.org', trigger: '' }));
    expect(opIdempotencyKey('p', { kind: 'link', guardianKey: 'g', patientId: 'P1', accessLevel: 'full' }))
      .toBe(idempotencyKey({ practice: 'p', op: 'link', guardianKey: 'g', target: 'P1', trigger: '' }));
    expect(opIdempotencyKey('p', { kind: 'unlink', guardianKey: 'g', patientId: 'P1' }))
      .toBe(idempotencyKey({ practice: 'p', op: 'unlink', guardianKey: 'g', target: 'P1', trigger: '' }));
    expect(opIdempotencyKey('p', { kind: 'disable-account', guardianKey: 'g' }))
      .toBe(idempotencyKey({ practice: 'p', op: 'disable-account', guardianKey: 'g', target: '', trigger: '' }));
    expect(opIdempotencyKey('p', { kind: 'send-welcome', guardianKey: 'g', trigger: 'resend:9', covers: ['created'] }))
      .toBe(idempotencyKey({ practice: 'p', op: 'send-welcome', guardianKey: 'g', target: '', trigger: 'resend:9' }));
  });

  it('two different updates of one account never share a key; a retried one does', () => {
    const update = (over: Partial<Extract<Op, { kind: 'update-account' }>>): string => opIdempotencyKey('p', { kind: 'update-account', guardianKey: 'g', ...over });
    const keys = [update({ email: 'a@example.org' }), update({ name }), update({ cellPhone: '+12025550123' }), update({ enable: true }), update({ name: { given: '', family: '' } })];
    expect(new Set(keys).size).toBe(keys.length);
    expect(update({ name })).toBe(update({ name }));
  });
});
