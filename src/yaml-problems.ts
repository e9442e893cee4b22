/**
 * YAML parsed with positions, so a file's problems can name a line and column (STYLE rule 5). Shared by the
 * mapping loader and the config loader. Pure: the caller reads the file.
 */
import { isMap, isNode, isScalar, LineCounter, parseDocument, type Document } from 'yaml';

/** A 1-based line and column. */
export interface YamlPosition {
  readonly line: number;
  readonly column: number;
}

/** A YAML syntax error, located. */
export interface YamlSyntaxError extends YamlPosition {
  readonly message: string;
}

export interface LocatedYaml {
  /** Syntax errors (duplicate keys included); when there are any, `toJS()` is not meaningful. */
  readonly syntaxErrors: readonly YamlSyntaxError[];
  /** The document as plain data (`null` for an empty document). */
  toJS(): unknown;
  /**
   * Where the value at `path` starts, or the key `key` inside the map at `path`. A path that is not in the
   * document falls back to its nearest existing ancestor (the document start at worst).
   */
  locate(path: readonly PropertyKey[], key?: string): YamlPosition;
}

/** Parses YAML text (duplicate keys are errors) and keeps what is needed to locate any path in it. */
export function parseLocatedYaml(text: string): LocatedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): YamlPosition => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  return {
    syntaxErrors: doc.errors.map((e) => ({ ...at(e.pos[0]), message: firstLine(e.message) })),
    toJS: () => doc.toJS() as unknown,
    locate: (path, key) => at(offsetOf(doc, path, key)),
  };
}

/** The first line of a (possibly multi-line) message. */
export function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/** Offset of the node at `path` (or of `key` inside it); the nearest existing ancestor when it is missing. */
function offsetOf(doc: Document, path: readonly PropertyKey[], key?: string): number {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (!isNode(node)) continue;
    if (n === path.length && key !== undefined && isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && p.key.value === key);
      if (pair !== undefined && isNode(pair.key)) return pair.key.range?.[0] ?? 0;
    }
    return node.range?.[0] ?? 0;
  }
  return 0;
}
