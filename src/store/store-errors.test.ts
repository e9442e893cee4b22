import { BridgeError } from '../errors';
import { storeUnavailableReason, toStoreError } from './store-errors';

const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe('toStoreError', () => {
  test.each([
    ['SQLITE_BUSY', withCode('SQLITE_BUSY')],
    ['SQLITE_BUSY_SNAPSHOT', withCode('SQLITE_BUSY_SNAPSHOT')],
    ['40P01', withCode('40P01')],
    ['40001', withCode('40001')],
    ['57P01', withCode('57P01')],
    ['08006', withCode('08006')],
    ['53300', withCode('53300')],
    ['ECONNREFUSED', withCode('ECONNREFUSED')],
    ['pool timeout', Object.assign(new Error('Knex: Timeout acquiring a connection'), { name: 'KnexTimeoutError' })],
    ['connection terminated', new Error('Connection terminated unexpectedly')],
    ['ECONNREFUSED', Object.assign(new AggregateError([withCode('ECONNREFUSED')]), {})],
  ])('%s is ERR_STORE_UNAVAILABLE, naming only the code', (reason, error) => {
    expect(storeUnavailableReason(error)).toBe(reason);
    const mapped = toStoreError(error);
    expect(mapped).toBeInstanceOf(BridgeError);
    expect(mapped).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE', errorClass: 'transient', message: `database unavailable (${reason})`, cause: error });
  });

  test('other failures pass through unchanged (a unique violation quoting values is not retried or shown)', () => {
    const unique = withCode('23505', 'duplicate key value violates unique constraint: Key (email)=(nora@example.org)');
    expect(toStoreError(unique)).toBe(unique);
    const bug = new TypeError('undefined is not a function');
    expect(toStoreError(bug)).toBe(bug);
    const already = new BridgeError('ERR_PORTAL_TIMEOUT', 'timeout');
    expect(toStoreError(already)).toBe(already);
    expect(toStoreError('text')).toBe('text');
  });
});
