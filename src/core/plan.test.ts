import type { DesiredAccount } from './eligibility';
import { applyOps, plan, type ObservedAccount, type Op, type PlanInput } from './plan';

const name = { given: 'Ada', family: 'Testperson' };
const want = (over: Partial<DesiredAccount> = {}): DesiredAccount => ({
  guardianKey: 'g1', email: 'ada@example.org', name, dependents: [{ patientId: 'P1', accessLevel: 'full' }], retain: [], welcome: true, ...over,
});
const have = (over: Partial<ObservedAccount> = {}): ObservedAccount => ({
  guardianKey: 'g1', email: 'ada@example.org', name, status: 'active', createdBy: 'bridge',
  dependents: [{ patientId: 'P1', accessLevel: 'full' }], welcomesSent: ['created'], ...over,
});
const ops = (input: PlanInput): readonly Op[] => plan(input).ops;

describe('plan', () => {
  it('a converged state plans nothing (R16)', () => {
    expect(plan({ desired: [want()], observed: [have()] })).toEqual({ ops: [], holds: [] });
    expect(plan({ desired: [], observed: [] })).toEqual({ ops: [], holds: [] });
  });

  it('creates, links and welcomes a new guardian once', () => {
    const desired = [want({ cellPhone: '+12025550123', dependents: [{ patientId: 'P2', accessLevel: 'limited' }, { patientId: 'P1', accessLevel: 'full' }] })];
    const first = ops({ desired, observed: [] });
    expect(first).toEqual([
      { kind: 'create-account', guardianKey: 'g1', email: 'ada@example.org', name, cellPhone: '+12025550123' },
      { kind: 'link', guardianKey: 'g1', patientId: 'P1', accessLevel: 'full' },
      { kind: 'link', guardianKey: 'g1', patientId: 'P2', accessLevel: 'limited' },
      { kind: 'send-welcome', guardianKey: 'g1', trigger: 'created' },
    ]);
    expect(ops({ desired, observed: applyOps([], first) })).toEqual([]);
  });

  it('R17: staff-created rows: create and link, send nothing', () => {
    expect(ops({ desired: [want({ welcome: false })], observed: [] }).map((o) => o.kind)).toEqual(['create-account', 'link']);
  });

  it('nothing to create for a retain-only guardian', () => {
    expect(ops({ desired: [want({ dependents: [], retain: ['P1'], email: '' })], observed: [] })).toEqual([]);
  });

  it('links a missing dependent and relinks a changed level', () => {
    const desired = [want({ dependents: [{ patientId: 'P1', accessLevel: 'limited' }, { patientId: 'P2', accessLevel: 'full' }] })];
    expect(ops({ desired, observed: [have()] })).toEqual([
      { kind: 'link', guardianKey: 'g1', patientId: 'P1', accessLevel: 'limited' },
      { kind: 'link', guardianKey: 'g1', patientId: 'P2', accessLevel: 'full' },
    ]);
  });

  it('unlinks what is neither desired nor retained', () => {
    const observed = [have({ dependents: [{ patientId: 'P1', accessLevel: 'full' }, { patientId: 'P3', accessLevel: 'full' }, { patientId: 'P2', accessLevel: 'full' }] })];
    expect(ops({ desired: [want({ retain: ['P2'] })], observed })).toEqual([{ kind: 'unlink', guardianKey: 'g1', patientId: 'P3' }]);
  });

  it('no dependents left: unlink all, disable (never delete); already disabled: nothing', () => {
    const observed = [have({ dependents: [{ patientId: 'P2', accessLevel: 'full' }, { patientId: 'P1', accessLevel: 'full' }] })];
    const first = ops({ desired: [], observed });
    expect(first).toEqual([
      { kind: 'unlink', guardianKey: 'g1', patientId: 'P1' },
      { kind: 'unlink', guardianKey: 'g1', patientId: 'P2' },
      { kind: 'disable-account', guardianKey: 'g1' },
    ]);
    expect(ops({ desired: [], observed: applyOps(observed, first) })).toEqual([]);
  });

  it('a retained link keeps the account enabled', () => {
    expect(ops({ desired: [want({ dependents: [], retain: ['P1'] })], observed: [have()] })).toEqual([]);
  });

  it('re-enables a disabled account that has dependents again (no welcome)', () => {
    const observed = [have({ status: 'disabled', dependents: [], welcomesSent: [] })];
    expect(ops({ desired: [want()], observed })).toEqual([
      { kind: 'update-account', guardianKey: 'g1', enable: true },
      { kind: 'link', guardianKey: 'g1', patientId: 'P1', accessLevel: 'full' },
    ]);
  });

  it('updates a changed name or cell phone; never clears a cell phone', () => {
    const renamed = { given: 'Ada', family: 'Testperson-Smith' };
    expect(ops({ desired: [want({ name: renamed, cellPhone: '+12025550199' })], observed: [have({ cellPhone: '+12025550123' })] })).toEqual([
      { kind: 'update-account', guardianKey: 'g1', name: renamed, cellPhone: '+12025550199' },
    ]);
    expect(ops({ desired: [want()], observed: [have({ cellPhone: '+12025550123' })] })).toEqual([]);
    expect(ops({ desired: [want()], observed: [have({ name: undefined })] })).toEqual([{ kind: 'update-account', guardianKey: 'g1', name }]);
  });

  it('email-key changed on an invited account: update and welcome once for the new key', () => {
    const observed = [have({ status: 'invited', email: 'old@example.org' })];
    const desired = [want({ email: 'New@Example.org' })];
    const first = ops({ desired, observed });
    expect(first).toEqual([
      { kind: 'update-account', guardianKey: 'g1', email: 'New@Example.org' },
      { kind: 'send-welcome', guardianKey: 'g1', trigger: 'email:new@example.org' },
    ]);
    expect(ops({ desired, observed: applyOps(observed, first) })).toEqual([]);
    expect(ops({ desired: [want({ email: 'ADA@example.org ' })], observed: [have({ status: 'invited' })] })).toEqual([]);
  });

  it.each(['active', 'disabled'] as const)('R19: email changed on an %s account: hold, never change it silently', (status) => {
    const result = plan({ desired: [want({ email: 'new@example.org' })], observed: [have({ status, email: 'old@example.org' })] });
    expect(result.ops.some((o) => o.kind === 'update-account' && o.email !== undefined)).toBe(false);
    expect(result.ops.some((o) => o.kind === 'send-welcome')).toBe(false);
    expect(result.holds).toEqual([{ guardianKey: 'g1', rule: 'R19', reason: expect.stringMatching(/^login email of an? (active|disabled) account.*o\*\*\*@example\.org → n\*\*\*@example\.org\): confirm with the parent$/) }]);
  });

  it('R18: a resend trigger sends one welcome per trigger, only while invited', () => {
    const triggers = [{ guardianKey: 'g1', trigger: 'resend:42' }];
    const observed = [have({ status: 'invited' })];
    const first = ops({ desired: [want()], observed, triggers });
    expect(first).toEqual([{ kind: 'send-welcome', guardianKey: 'g1', trigger: 'resend:42' }]);
    expect(ops({ desired: [want()], observed: applyOps(observed, first), triggers })).toEqual([]);
    expect(ops({ desired: [want()], observed: [have()], triggers })).toEqual([]);
    expect(ops({ desired: [want()], observed: [have({ status: 'invited', createdBy: 'staff' })], triggers })).toEqual([]);
    expect(ops({ desired: [want({ welcome: false })], observed, triggers })).toEqual([]);
    expect(ops({ desired: [], observed: [have({ status: 'invited', dependents: [] })], triggers })).toEqual([{ kind: 'disable-account', guardianKey: 'g1' }]);
  });

  it('one welcome answers every trigger pending at once (never two welcomes in one plan)', () => {
    const triggers = [{ guardianKey: 'g1', trigger: 'resend:7' }, { guardianKey: 'g1', trigger: 'authority:17' }, { guardianKey: 'g1', trigger: 'resend:7' }];
    const created = ops({ desired: [want()], observed: [], triggers });
    expect(created.filter((o) => o.kind === 'send-welcome')).toEqual([{ kind: 'send-welcome', guardianKey: 'g1', trigger: 'created', covers: ['authority:17', 'resend:7'] }]);
    expect(ops({ desired: [want()], observed: applyOps([], created), triggers })).toEqual([]);
    const invited = [have({ status: 'invited', email: 'old@example.org' })];
    expect(ops({ desired: [want()], observed: invited, triggers }).filter((o) => o.kind === 'send-welcome')).toEqual([
      { kind: 'send-welcome', guardianKey: 'g1', trigger: 'email:ada@example.org', covers: ['authority:17', 'resend:7'] },
    ]);
  });

  it('a bridge-created invited account whose welcome was never recorded gets it', () => {
    expect(ops({ desired: [want()], observed: [have({ status: 'invited', welcomesSent: [] })] })).toEqual([{ kind: 'send-welcome', guardianKey: 'g1', trigger: 'created' }]);
  });

  it('orders ops by guardianKey, then create, update, links, unlinks, disable, welcome', () => {
    const result = ops({
      desired: [want({ guardianKey: 'g2' }), want({ guardianKey: 'g1', name: { given: 'Ada', family: 'New' }, dependents: [{ patientId: 'P2', accessLevel: 'full' }] })],
      observed: [have({ guardianKey: 'g3' }), have({ status: 'invited', welcomesSent: [] })],
    });
    expect(result.map((o) => `${o.guardianKey} ${o.kind}`)).toEqual([
      'g1 update-account', 'g1 link', 'g1 unlink', 'g1 send-welcome',
      'g2 create-account', 'g2 link', 'g2 send-welcome',
      'g3 unlink', 'g3 disable-account',
    ]);
  });
});

describe('applyOps', () => {
  it('models each op and leaves the input untouched', () => {
    const observed = [have({ status: 'disabled', dependents: [] })];
    const next = applyOps(observed, [
      { kind: 'update-account', guardianKey: 'g1', enable: true, cellPhone: '+12025550123' },
      { kind: 'link', guardianKey: 'g1', patientId: 'P2', accessLevel: 'limited' },
      { kind: 'link', guardianKey: 'g1', patientId: 'P1', accessLevel: 'full' },
      { kind: 'link', guardianKey: 'g1', patientId: 'P2', accessLevel: 'full' },
      { kind: 'unlink', guardianKey: 'g1', patientId: 'P1' },
      { kind: 'send-welcome', guardianKey: 'g1', trigger: 'resend:1', covers: ['created'] },
      { kind: 'link', guardianKey: 'nobody', patientId: 'P1', accessLevel: 'full' },
    ]);
    expect(next).toEqual([have({ status: 'active', cellPhone: '+12025550123', dependents: [{ patientId: 'P2', accessLevel: 'full' }], welcomesSent: ['created', 'resend:1'] })]);
    expect(observed[0]?.status).toBe('disabled');
    expect(applyOps(next, [{ kind: 'disable-account', guardianKey: 'g1' }])[0]?.status).toBe('disabled');
  });
});
