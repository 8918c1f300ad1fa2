/** Docker's column gap: three spaces between columns. */
const GAP = '   ';

/**
 * Left-aligned columns as docker prints them. Width is counted in code points
 * so a label with a non-ASCII character does not shift the rest of its row.
 * The last column is not padded, so lines carry no trailing spaces.
 */
export function renderTable(headers: string[], rows: string[][]): string {
  const width = (text: string) => [...text].length;
  const widths = headers.map((header, column) =>
    Math.max(width(header), ...rows.map((row) => width(row[column] ?? ''))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell + ' '.repeat(widths[column] - width(cell))))
      .join(GAP)
      .trimEnd();
  return [line(headers), ...rows.map((row) => line(headers.map((_, column) => row[column] ?? '')))].join('\n') + '\n';
}

/** What `-q` prints, as docker's: one id a line, nothing else, for scripts. */
export function idLines(ids: string[]): string {
  return ids.map((id) => `${id}\n`).join('');
}
