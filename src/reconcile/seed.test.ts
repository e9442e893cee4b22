import { seedFor } from './seed';

const account = { guardianKey: 'c:C1', email: ' Ada@Example.org', status: 'invited', createdBy: 'bridge', updatedAt: '' } as const;

test('seeds from each kind of guardian key and from the ledger', () => {
  expect(seedFor('c:C1', undefined, [])).toEqual({ contactIds: ['C1'], emailKeys: [], patientIds: [] });
  expect(seedFor('e:ada@example.org/ada testperson', undefined, [])).toEqual({ contactIds: [], emailKeys: ['ada@example.org'], patientIds: [] });
  expect(seedFor('e:ada@example.org/ada testperson/1985-01-01', undefined, []).emailKeys).toEqual(['ada@example.org']);
  expect(seedFor('p:P1/ada testperson', undefined, [])).toEqual({ contactIds: [], emailKeys: [], patientIds: ['P1'] });
  const links = [{ guardianKey: 'c:C1', patientId: 'P7', accessLevel: 'full', status: 'linked', updatedAt: '' }] as const;
  expect(seedFor('c:C1', account, links)).toEqual({ contactIds: ['C1'], emailKeys: ['ada@example.org'], patientIds: ['P7'] });
});
