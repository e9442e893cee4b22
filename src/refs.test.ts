import { createRefs, REF_KINDS, refFor } from './refs';

const KEY = 'test-key-0123456789abcdef';

describe('refFor', () => {
  test('a prefix per kind and 16 hex digits', () => {
    expect(refFor('guardian', 'c:C-17', KEY)).toMatch(/^g_[0-9a-f]{16}$/);
    expect(refFor('patient', 'MRN0001', KEY)).toMatch(/^p_[0-9a-f]{16}$/);
    expect(refFor('contact', 'C-17', KEY)).toMatch(/^c_[0-9a-f]{16}$/);
    expect(refFor('email', 'zelda@example.org', KEY)).toMatch(/^e_[0-9a-f]{16}$/);
  });

  test('stable for one key and value', () => {
    expect(refFor('patient', 'MRN0001', KEY)).toBe(refFor('patient', 'MRN0001', KEY));
    // Pinned: a ref must not change between releases, or yesterday's logs stop matching today's.
    expect(refFor('patient', 'MRN0001', 'k')).toBe('p_7cc93ccfeee470c8');
  });

  test('distinct per kind, per value and per key', () => {
    const hashes = REF_KINDS.map((kind) => refFor(kind, 'same-value', KEY).slice(2));
    expect(new Set(hashes).size).toBe(REF_KINDS.length);
    expect(refFor('patient', 'MRN0001', KEY)).not.toBe(refFor('patient', 'MRN0002', KEY));
    expect(refFor('patient', 'MRN0001', KEY)).not.toBe(refFor('patient', 'MRN0001', `${KEY}x`));
  });

  test('does not contain the value', () => {
    expect(refFor('email', 'zelda@example.org', KEY)).not.toContain('zelda');
  });

  test('emails are taken by their email-key: case and surrounding space do not matter', () => {
    expect(refFor('email', ' Zelda@Example.ORG ', KEY)).toBe(refFor('email', 'zelda@example.org', KEY));
    expect(refFor('contact', 'ABC', KEY)).not.toBe(refFor('contact', 'abc', KEY));
  });

  test('refuses an empty key', () => {
    expect(() => refFor('patient', 'MRN0001', '')).toThrow(/non-empty key/);
    expect(() => createRefs('')).toThrow(/non-empty key/);
  });
});

describe('createRefs', () => {
  test('binds the key', () => {
    const refs = createRefs(KEY);
    expect(refs.guardian('c:C-17')).toBe(refFor('guardian', 'c:C-17', KEY));
    expect(refs.patient('MRN0001')).toBe(refFor('patient', 'MRN0001', KEY));
    expect(refs.contact('C-17')).toBe(refFor('contact', 'C-17', KEY));
    expect(refs.email('z@example.org')).toBe(refFor('email', 'z@example.org', KEY));
  });
});
