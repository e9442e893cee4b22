/** Plain-text tables for the support commands' human output. Pure. */

/**
 * Columns padded to their widest cell, two spaces apart; the last column is not padded (it may be long).
 * Cells are single lines (line breaks become spaces).
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const clean = (cell: string | undefined): string => (cell ?? '').replace(/\s*[\r\n]+\s*/gu, ' ');
  const all = [headers, ...rows].map((row) => headers.map((_, i) => clean(row[i])));
  const widths = headers.map((_, i) => Math.max(...all.map((row) => [...(row[i] ?? '')].length)));
  return all
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - [...cell].length))).join('  ').trimEnd())
    .join('\n');
}
