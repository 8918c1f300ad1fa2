import * as fs from 'node:fs';
import * as path from 'node:path';

/** The page as shipped in the package (packages/scheduler/dashboard): no build step, nothing fetched from the internet. */
export const ASSETS_DIR = path.resolve(__dirname, '../../dashboard');

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export interface Asset {
  body: Buffer;
  type: string;
}

/** Read once at start: a missing file is a broken install, said at once rather than on the first visit. */
export function loadAssets(dir = ASSETS_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [route, { file, type }] of Object.entries(FILES)) {
    const where = path.join(dir, file);
    try {
      assets.set(route, { body: fs.readFileSync(where), type });
    } catch (error) {
      throw new Error(`the dashboard's page is missing (${where}: ${(error as NodeJS.ErrnoException).code}); reinstall pisched`);
    }
  }
  return assets;
}
