import { packageFile } from '../../../test/helpers/fixtures';
import { compile } from 'fhirpath';
import { BridgeError } from '../../errors';
import { compileFhirPath, evaluateFhirPath, FHIRPATH_FUNCTIONS, selectFhirElements } from './fhir-path';

const patient = {
  resourceType: 'Patient',
  id: 'pt-1',
  meta: { lastUpdated: '2024-03-02T08:30:00Z' },
  name: [
    { use: 'usual', given: ['Elle'] },
    { use: 'official', given: ['Ellis', 'June'], family: 'Ashdown' },
  ],
  deceasedDateTime: '2024-06-01T10:00:00Z',
  contact: [
    {
      name: { given: ['Rafael'], family: 'Ashdown' },
      extension: [{ url: 'urn:portal-bridge:authority', valueCode: 'joint' }],
    },
    { name: { given: ['Odile'] } },
  ],
};

function problem(expr: string): string {
  try {
    compileFhirPath(expr);
  } catch (e) {
    expect(e).toBeInstanceOf(BridgeError);
    expect((e as BridgeError).code).toBe('ERR_MAPPING_INVALID_PATH');
    return (e as BridgeError).message;
  }
  throw new Error(`"${expr}" compiled`);
}

describe('compileFhirPath', () => {
  it('compiles once per text', () => {
    expect(compileFhirPath('name.given')).toBe(compileFhirPath('name.given'));
    expect(compileFhirPath('name.given').expression).toBe('name.given');
  });

  it('reports syntax errors in words with a 1-based column', () => {
    expect(problem('name.given.first(')).toBe('unexpected end of expression at column 18');
    expect(problem('name given')).toBe("unexpected 'given' at column 6");
    expect(problem("use = 'official")).toBe('cannot read "\'official" (unclosed quote?) at column 7');
    expect(problem('a..b')).toBe('is not a valid FHIRPath expression');
    expect(problem('   ')).toBe('the expression is empty');
  });

  it('refuses unknown functions and wrong argument counts, which the library only logs', () => {
    expect(problem("name.where(use = 'official').given.frist()")).toBe("unknown function 'frist' at column 36");
    expect(problem('name.where()')).toBe('where() does not take 0 arguments at column 6');
    expect(problem('name.first(1)')).toBe('first() does not take 1 argument at column 6');
    expect(problem('name\n  .given\n  .frist()')).toBe("unknown function 'frist' at line 3, column 4");
  });

  it('refuses what is not pure or unknown in a mapping', () => {
    expect(problem('today()')).toBe('today() reads the clock, which a mapping may not do at column 1');
    expect(problem('birthDate < now()')).toMatch(/^now\(\) reads the clock/);
    expect(problem('link.other.resolve()')).toMatch(/^resolve\(\) follows references/);
    expect(problem("name.trace('x')")).toMatch(/^trace\(\) writes values to the console/);
    expect(problem('%resource.id')).toBe('unknown variable %resource at column 1; only %context and %ucum are available');
    expect(problem('deceased.ofType(Foo)')).toMatch(/Foo/);
  });

  it('accepts the expressions of the default FHIR mapping', () => {
    for (const expr of [
      "(name.where(use = 'official') | name).first().given.first()",
      "telecom.where(system = 'email').where(use.empty() or use != 'old').value",
      "iif(active = false, 'none', extension('urn:portal-bridge:authority').value)",
      "'RelatedPerson/' + id",
      "participant.actor.reference.where(startsWith('Patient/') or contains('/Patient/'))",
      '%context.id',
    ]) {
      expect(() => compileFhirPath(expr)).not.toThrow();
    }
  });
});

describe('evaluateFhirPath', () => {
  it('evaluates on a resource, resolving choice types through the R4 model', () => {
    expect(evaluateFhirPath(compileFhirPath("(name.where(use = 'official') | name).first().given.first()"), patient)).toEqual(['Ellis']);
    expect(evaluateFhirPath(compileFhirPath('deceased.ofType(dateTime)'), patient)).toEqual(['2024-06-01T10:00:00Z']);
    expect(evaluateFhirPath(compileFhirPath('deceased.ofType(boolean)'), patient)).toEqual([]);
    expect(evaluateFhirPath(compileFhirPath('Patient.meta.lastUpdated'), patient)).toEqual(['2024-03-02T08:30:00Z']);
    expect(evaluateFhirPath(compileFhirPath('active'), patient)).toEqual([]);
  });

  it('does not change the resource it reads (frozen input works)', () => {
    const frozen = Object.freeze(structuredClone(patient));
    expect(evaluateFhirPath(compileFhirPath('contact.name.given'), frozen)).toEqual(['Rafael', 'Odile']);
  });

  it('evaluates on a sub-element: plain objects need their base path for choice types', () => {
    const contact = patient.contact[0];
    const authority = compileFhirPath("extension.where(url = 'urn:portal-bridge:authority').value");
    expect(evaluateFhirPath(compileFhirPath('name.given'), contact)).toEqual(['Rafael']);
    // Without a base, fhirpath cannot tell that `value` is Extension.value[x].
    expect(evaluateFhirPath(authority, contact)).toEqual([]);
    expect(evaluateFhirPath(authority, contact, 'Patient.contact')).toEqual(['joint']);
  });

  it('evaluates on elements selected from the resource, which keep their type', () => {
    const rows = selectFhirElements(compileFhirPath('contact'), patient);
    expect(rows).toHaveLength(2);
    const authority = compileFhirPath("extension('urn:portal-bridge:authority').value");
    expect(rows.map((r) => evaluateFhirPath(authority, r))).toEqual([['joint'], []]);
    expect(rows.map((r) => evaluateFhirPath(compileFhirPath('name.given.first()'), r))).toEqual([['Rafael'], ['Odile']]);
  });

  it('turns an evaluation failure into ERR_MAPPING_INVALID_PATH without quoting the data', () => {
    const single = compileFhirPath('name.single()');
    expect(() => evaluateFhirPath(single, patient)).toThrow(BridgeError);
    try {
      evaluateFhirPath(single, patient);
    } catch (e) {
      expect((e as BridgeError).code).toBe('ERR_MAPPING_INVALID_PATH');
      expect((e as BridgeError).message).not.toMatch(/Ellis|Elle/);
    }
  });
});

describe('the function table', () => {
  const source = packageFile('fhirpath', 'fhirpath.js');
  const start = source.indexOf('engine.invocationTable = {');
  const table = source.slice(start, source.indexOf('\n};', start));
  const libraryNames = [...table.matchAll(/^ {2}"?([A-Za-z]+)"?:\s*\{fn:/gm)].map((m) => m[1]!);
  const OPERATORS = ['containsOp', 'inOp', 'isOp', 'asOp', 'mod', 'div', 'or', 'and', 'xor', 'implies'];
  const FORBIDDEN = ['now', 'today', 'timeOfDay', 'resolve', 'memberOf', 'trace'];

  it('lists every function of the installed fhirpath (or refuses it on purpose)', () => {
    expect(libraryNames.length).toBeGreaterThan(100);
    const missing = libraryNames.filter((n) => !FHIRPATH_FUNCTIONS.has(n) && !OPERATORS.includes(n) && !FORBIDDEN.includes(n));
    expect(missing).toEqual([]);
  });

  it('lists only functions the installed fhirpath implements', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const notImplemented = [...FHIRPATH_FUNCTIONS.keys()].filter((name) => {
        try {
          compile(`{}.${name}()`)({});
          return false;
        } catch (e) {
          return String(e).includes('Not implemented');
        }
      });
      expect(notImplemented).toEqual([]);
    } finally {
      warn.mockRestore();
    }
  });
});
