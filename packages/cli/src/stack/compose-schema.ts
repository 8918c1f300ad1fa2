import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { ComposeError, describePath } from './compose-error';
import type { ComposeFile } from './compose-file';

// The vendored schema lives outside src so that src/ and dist/ both find it two levels up.
const SCHEMA_PATH = join(__dirname, '..', '..', 'schema', 'compose-spec.json');

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as Record<string, unknown>;
    // Its $schema names a draft-07 URL Ajv does not know by that spelling; the keywords are draft-07's.
    delete schema.$schema;
    // strict off: the schema uses annotations (deprecated) Ajv would refuse; formats are checked where the values are read.
    const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
    compiled = ajv.compile(schema);
  }
  return compiled;
}

/** Checks one file against the Compose Specification; throws the most telling problem as one line. */
export function validateAgainstSchema(file: ComposeFile): void {
  const validate = validator();
  if (validate(file.model)) return;
  const error = mostTelling(validate.errors ?? []);
  const path = error.instancePath.split('/').slice(1).map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  const where = (extra: string[]) => {
    const full = [...path, ...extra];
    const line = file.lineOf(full);
    return `${file.path}${line === undefined ? '' : `:${line}`}: ${describePath(full) || 'top level'}`;
  };
  if (error.keyword === 'additionalProperties') {
    const key = String((error.params as { additionalProperty: string }).additionalProperty);
    throw new ComposeError(`${where([key])}: unknown key (not in the Compose Specification)`);
  }
  throw new ComposeError(`${where([])}: ${error.message ?? 'invalid'}`);
}

/**
 * With oneOf/anyOf, Ajv reports every branch that failed; the deepest error is
 * the one a person made (a misspelt key inside deploy rather than "must match
 * a schema in oneOf" at the service), and an unknown key beats a type mismatch
 * of another branch at the same depth.
 */
function mostTelling(errors: ErrorObject[]): ErrorObject {
  const rank = (error: ErrorObject) =>
    error.instancePath.split('/').length * 10 + (error.keyword === 'additionalProperties' ? 5 : 0) - (['oneOf', 'anyOf', 'if'].includes(error.keyword) ? 9 : 0);
  return errors.reduce((best, error) => (rank(error) > rank(best) ? error : best));
}
