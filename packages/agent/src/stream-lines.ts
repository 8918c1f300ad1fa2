/**
 * Calls `onLine` with each non-empty line of a stream of newline-separated
 * text, however its chunks fall: Docker's event stream sends one JSON object
 * per line, and a chunk may hold several or end mid-line.
 */
export function onLines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.on('data', (chunk: Buffer | string) => {
    buffer += chunk.toString();
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line !== '') onLine(line);
    }
  });
}
