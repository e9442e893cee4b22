import { compile, parse, type Model } from 'fhirpath';
import * as r4Model from 'fhirpath/fhir-context/r4';
import { BridgeError } from '../../errors';

/**
 * FHIRPath for FHIR mappings (docs/mapping-format.md): the `fhirpath` package with its R4 model, so choice types
 * (`deceased`, `Extension.value`) resolve. Expressions are compiled once per text and cached. Evaluation is
 * synchronous and pure: functions that read the clock, call a server or write to the console are refused at
 * compile time.
 */

const MODEL: Model = r4Model;

/**
 * The functions of fhirpath.js 5.2 (its invocation table) with the argument counts each accepts: `n` or `n/m`,
 * `n+` for n or more. The library itself only logs a warning for a wrong count and returns nothing, so the count
 * is checked here; a test keeps this list in step with the installed library.
 */
const FUNCTION_TABLE = `
  empty not exists:0/1 all:1 allTrue anyTrue allFalse anyFalse subsetOf:1 supersetOf:1 isDistinct distinct count
  where:1 extension:1 select:1 coalesce:1+ sort:0+ aggregate:1/2 sum min max avg weight ordinal single first last
  type ofType:1 is:1 as:1 tail take:1 skip:1 combine:1 union:1 intersect:1 exclude:1 iif:2/3 defineVariable:1/2
  toInteger toLong toDecimal toString toDate toDateTime toTime toBoolean toQuantity:0/1 hasValue getValue
  htmlChecks htmlchecks pathname:0/1 convertsToBoolean convertsToInteger convertsToLong convertsToDecimal
  convertsToString convertsToDate convertsToDateTime convertsToTime convertsToQuantity indexOf:1 lastIndexOf:1
  substring:1/2 startsWith:1 endsWith:1 contains:1 upper lower replace:2 matches:1/2 matchesFull:1/2
  replaceMatches:2 length toChars join:0/1 split:1 trim encode:1 decode:1 escape:1 unescape:1 abs ceiling exp
  floor ln log:1 power:1 round:0/1 sqrt truncate lowBoundary:0/1 highBoundary:0/1 yearOf monthOf dayOf hourOf
  minuteOf secondOf millisecondOf timezoneOffsetOf dateOf timeOf repeat:1 children descendants comparable:1`;

/** Function name → does it accept this many arguments? */
export const FHIRPATH_FUNCTIONS: ReadonlyMap<string, (args: number) => boolean> = new Map(
  FUNCTION_TABLE.trim()
    .split(/\s+/)
    .map((entry): [string, (args: number) => boolean] => {
      const [name = '', counts = '0'] = entry.split(':');
      if (counts.endsWith('+')) return [name, (n) => n >= Number(counts.slice(0, -1))];
      const allowed = counts.split('/').map(Number);
      return [name, (n) => allowed.includes(n)];
    }),
);

/** Functions fhirpath.js has that a mapping may not use, and why (the core is pure; no PHI in logs). */
const FORBIDDEN_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ['now', 'reads the clock, which a mapping may not do'],
  ['today', 'reads the clock, which a mapping may not do'],
  ['timeOfDay', 'reads the clock, which a mapping may not do'],
  ['resolve', 'follows references to other resources, which a mapping may not do'],
  ['memberOf', 'needs a terminology server, which a mapping may not call'],
  ['trace', 'writes values to the console, which would log patient data'],
]);

const VARIABLES = ['context', 'ucum'];

type Evaluator = (node: unknown) => unknown[];

/** A compiled FHIRPath expression. Opaque: evaluate it with `evaluateFhirPath` / `selectFhirElements`. */
export interface CompiledFhirPath {
  readonly expression: string;
}

/**
 * An element found by `selectFhirElements` (e.g. one `Patient.contact`). It keeps its FHIR path and type, so
 * relative expressions evaluated on it resolve choice types (`extension('…').value`) as they would in place.
 */
export interface FhirElement {
  readonly [elementBrand]: true;
}
declare const elementBrand: unique symbol;

class Compiled implements CompiledFhirPath {
  private readonly byBase = new Map<string, Evaluator>();
  private nodes: Evaluator | undefined;
  constructor(
    readonly expression: string,
    readonly values: Evaluator,
  ) {}

  /** The same expression returning fhirpath's typed nodes instead of plain values. */
  get elements(): Evaluator {
    this.nodes ??= compile(this.expression, MODEL, { resolveInternalTypes: false }) as Evaluator;
    return this.nodes;
  }

  /** The same expression compiled relative to `base` (plain sub-objects carry no type information). */
  onBase(base: string): Evaluator {
    let fn = this.byBase.get(base);
    if (fn === undefined) {
      fn = compile({ base, expression: this.expression }, MODEL) as Evaluator;
      this.byBase.set(base, fn);
    }
    return fn;
  }
}

const CACHE_LIMIT = 5000;
const cache = new Map<string, Compiled>();

/**
 * Parses and checks one FHIRPath expression; cached by its text, so calling it per message is cheap.
 * Throws a BridgeError `ERR_MAPPING_INVALID_PATH` whose one-line message names the problem and its column
 * (`unknown function 'frist' at column 6`) but not the expression, which the caller quotes. Also refused:
 * unknown functions, wrong argument counts, environment variables other than %context / %ucum, and functions
 * that are not pure here (now, today, timeOfDay, resolve, memberOf, trace).
 */
export function compileFhirPath(expr: string): CompiledFhirPath {
  const hit = cache.get(expr);
  if (hit !== undefined) return hit;
  const compiled = build(expr);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(expr, compiled);
  return compiled;
}

/**
 * Evaluates a compiled expression on a resource, a plain part of one, or an element from `selectFhirElements`.
 * Returns plain JS values (strings, booleans, numbers, objects); FHIR dates stay strings as written.
 * A plain sub-object (not a resource) has no type information: pass `base` (its path, e.g. `Patient.contact`)
 * when the expression navigates a choice type such as `extension('…').value`.
 * Throws BridgeError `ERR_MAPPING_INVALID_PATH` when evaluation fails on this data (e.g. `single()` on a list);
 * the library's message is kept as `cause` only, since it may quote values.
 */
export function evaluateFhirPath(compiled: CompiledFhirPath, node: unknown, base?: string): unknown[] {
  const c = asCompiled(compiled);
  return run(c, base === undefined ? c.values : c.onBase(base), node);
}

/**
 * Evaluates a compiled expression and returns the matching elements as typed handles, for evaluating relative
 * expressions on each (one contact row per `Patient.contact`). Throws like `evaluateFhirPath`.
 */
export function selectFhirElements(compiled: CompiledFhirPath, node: unknown): FhirElement[] {
  const c = asCompiled(compiled);
  return run(c, c.elements, node) as FhirElement[];
}

function run(c: Compiled, fn: Evaluator, node: unknown): unknown[] {
  try {
    return fn(node);
  } catch (cause) {
    throw new BridgeError('ERR_MAPPING_INVALID_PATH', `FHIRPath "${oneLine(c.expression)}" could not be evaluated on this resource`, { cause });
  }
}

function asCompiled(compiled: CompiledFhirPath): Compiled {
  if (compiled instanceof Compiled) return compiled;
  return asCompiled(compileFhirPath(compiled.expression));
}

function build(expr: string): Compiled {
  if (expr.trim() === '') throw invalid('the expression is empty');
  let values: Evaluator;
  let ast: unknown;
  try {
    values = compile(expr, MODEL) as Evaluator;
    ast = parse(expr);
  } catch (e) {
    throw invalid(describeSyntaxError(e));
  }
  checkNodes(ast);
  // A trial run on an empty object catches what the static checks do not (e.g. an unknown type in ofType()).
  try {
    values({});
  } catch (e) {
    throw invalid(e instanceof Error ? oneLine(e.message) : 'cannot be evaluated');
  }
  return new Compiled(expr, values);
}

interface AstNode {
  readonly type?: string;
  readonly text?: string;
  readonly delimitedText?: string;
  readonly start?: { readonly line: number; readonly column: number };
  readonly children?: readonly AstNode[];
}

/** Walks the parse tree: every function must exist with that many arguments; only harmless %variables. */
function checkNodes(node: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const n = node as AstNode;
  if (n.type === 'FunctionInvocation') checkFunction(n);
  if (n.type === 'ExternalConstantTerm') {
    const name = (n.text ?? n.delimitedText ?? '').replace(/^[`']|[`']$/g, '');
    if (!VARIABLES.includes(name)) {
      throw invalid(`unknown variable %${name}${where(n)}; only %context and %ucum are available`);
    }
  }
  for (const child of n.children ?? []) checkNodes(child);
}

function checkFunction(n: AstNode): void {
  const functn = n.children?.[0];
  const name = n.text ?? '';
  const params = functn?.children?.find((c) => c.type === 'ParamList')?.children?.length ?? 0;
  const forbidden = FORBIDDEN_FUNCTIONS.get(name);
  if (forbidden !== undefined) throw invalid(`${name}() ${forbidden}${where(n)}`);
  const accepts = FHIRPATH_FUNCTIONS.get(name);
  if (accepts === undefined) throw invalid(`unknown function '${name}'${where(n)}`);
  if (!accepts(params)) throw invalid(`${name}() does not take ${params} argument${params === 1 ? '' : 's'}${where(n)}`);
}

function where(n: AstNode): string {
  if (n.start === undefined) return '';
  return n.start.line > 1 ? ` at line ${n.start.line}, column ${n.start.column}` : ` at column ${n.start.column}`;
}

const SYNTAX = /line: (\d+); column: (\d+); message: (.*)/;

/** The parser's first complaint in words, with a 1-based column (the ANTLR one is 0-based). */
function describeSyntaxError(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const m = SYNTAX.exec(text);
  if (m === null) return 'is not a valid FHIRPath expression';
  const [, line = '1', column = '0', message = ''] = m;
  const what = message
    .replace(/mismatched input '<EOF>'.*/, 'unexpected end of expression')
    .replace(/(mismatched|extraneous) input ('[^']*').*/, 'unexpected $2')
    .replace(/no viable alternative at input ('[^']*')/, 'cannot read $1')
    .replace(/token recognition error at: '(.*)'$/, (_m, t: string) => `cannot read "${t}"${/^['`]/.test(t) ? ' (unclosed quote?)' : ''}`)
    .replace(/ expecting \{.*\}$/, '');
  const col = Number(column) + 1;
  return `${oneLine(what)} at ${line === '1' ? '' : `line ${line}, `}column ${col}`;
}

function invalid(problem: string): BridgeError {
  return new BridgeError('ERR_MAPPING_INVALID_PATH', problem);
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
