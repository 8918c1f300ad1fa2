import type { LogConfig, LogConfigInput } from './types';
import { SpecError } from './spec-error';

/**
 * What a container logs with when its spec names no driver: json-file, which
 * `pisched logs` reads, capped so that a chatty task cannot fill a Pi's SD
 * card (at most 3 × 10 MB per container).
 */
export const DEFAULT_LOG_CONFIG: LogConfig = { driver: 'json-file', options: { 'max-size': '10m', 'max-file': '3' } };

const DRIVER = /^[a-z0-9][a-z0-9_.:/-]*$/;
const OPTION_KEY = /^[a-z0-9][a-z0-9_.:-]*$/i;

/** Absent stays absent (the default applies); options without a driver are the default driver's. */
export function validateLogConfig(input: LogConfigInput | null | undefined): LogConfig | null {
  if (input == null) return null;
  const driver = (input.driver ?? '').trim().toLowerCase() || DEFAULT_LOG_CONFIG.driver;
  if (!DRIVER.test(driver)) throw new SpecError(`invalid log driver "${input.driver}"`);
  const options = { ...(input.options ?? {}) };
  for (const [key, value] of Object.entries(options)) {
    if (!OPTION_KEY.test(key)) throw new SpecError(`invalid log option "${key}": expected KEY=VALUE`);
    // The engine would only refuse these when the task starts on a node: refuse them now.
    if (key === 'max-size' && !/^\d+[kmg]?$/i.test(value)) throw new SpecError(`invalid log option max-size "${value}": use a size such as 10m`);
    if (key === 'max-file' && !/^[1-9]\d*$/.test(value)) throw new SpecError(`invalid log option max-file "${value}": must be a whole number, 1 or more`);
  }
  return { driver, options };
}

/**
 * The driver and options a container is created with. json-file keeps the
 * default caps for whatever the spec does not set, so naming the driver or
 * one option never turns rotation off by accident; other drivers get exactly
 * what was asked.
 */
export function effectiveLogConfig(config: LogConfig | null | undefined): LogConfig {
  if (!config) return { driver: DEFAULT_LOG_CONFIG.driver, options: { ...DEFAULT_LOG_CONFIG.options } };
  const defaults = config.driver === DEFAULT_LOG_CONFIG.driver ? DEFAULT_LOG_CONFIG.options : {};
  return { driver: config.driver, options: { ...defaults, ...config.options } };
}
