import * as fs from 'node:fs';
import * as path from 'node:path';
import { createNodeKeyRequest, identityFiles, writeAdminBundle, type AdminCertificate } from '@pisched/api';
import type { Command } from 'commander';
import type { Context } from '../context';
import { CliError } from '../errors';
import { isoTime } from '../format';
import { printJson } from '../json-views';
import { renderTable } from '../table';
import { ADMIN_BUNDLE } from '../tls-lookup';

/**
 * `pisched admin issue|revoke|ls`: more admin bundles for the CLI (one per
 * person or machine, so one can be revoked without touching the others).
 * The key is made here and written 0600; only the CSR goes to the cluster.
 */
export function registerAdmin(program: Command, context: Context): void {
  const admin = program.command('admin').description('issue, revoke and list admin credentials for the CLI');
  admin
    .command('issue')
    .description('make a new admin bundle (ca.pem, admin.pem, admin.key, and cert.pem, key.pem for the docker CLI) in DIR, for use with --tls-dir DIR or DOCKER_CERT_PATH=DIR')
    .argument('<name>', 'a name no certificate of the cluster holds, e.g. the person or machine it is for')
    .requiredOption('--out <DIR>', 'where to write the bundle (must not hold one already)')
    .action(async (name: string, options: { out: string }) => {
      const files = identityFiles(options.out, ADMIN_BUNDLE);
      // Never overwrite a bundle: it may be the one this CLI is using.
      // Nor a docker CLI bundle (cert.pem, key.pem) another cluster may have put there.
      const dockerFiles = [path.join(options.out, 'cert.pem'), path.join(options.out, 'key.pem')];
      if (fs.existsSync(files.cert) || fs.existsSync(files.key) || dockerFiles.some((file) => fs.existsSync(file))) throw new CliError(`${options.out} holds an admin bundle already; choose another --out`);
      const { keyPem, csrPem } = await createNodeKeyRequest(name);
      const { certPem, caPem } = await context.client().issueAdminCertificate(name, csrPem);
      try {
        writeAdminBundle(options.out, ADMIN_BUNDLE, { caPem, certPem, keyPem });
      } catch (error) {
        throw new CliError(`certificate ${name} was issued but cannot be written to ${options.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}; revoke it with pisched admin revoke ${name}`);
      }
      context.write(`Admin credentials for ${name} written to ${path.resolve(options.out)}; use them with --tls-dir ${options.out} (or DOCKER_CERT_PATH=${options.out} DOCKER_TLS_VERIFY=1 with a scheduler's --docker-api-addr)\n`);
    });
  admin
    .command('revoke')
    .description('revoke every certificate of an admin name: its bundles are refused from now on')
    .argument('<name>', 'the admin name given to admin issue')
    .action(async (name: string) => {
      // Revoking the bundle in use would lock this CLI out in the middle of the command.
      if (context.adminName() === name) throw new CliError(`${name} is the admin certificate this command is using; revoke it with another admin's bundle (--tls-dir)`);
      await context.client().revokeAdminCertificate(name);
      context.write(`${name}\n`);
    });
  admin
    .command('ls')
    .description('list admin certificates, live and revoked')
    .option('--json', 'print a JSON array instead of a table')
    .action(async (options: { json?: boolean }) => {
      const certificates = await context.client().listAdminCertificates();
      if (options.json) printJson(certificates.map(adminView), (text) => context.write(text));
      else context.write(renderTable(['NAME', 'SERIAL', 'EXPIRES', 'REVOKED'], certificates.map(adminView).map((c) => [c.name, c.serial ?? '(unrecorded)', c.expires ?? '-', c.revokedAt ?? 'no'])));
    });
}

const adminView = (cert: AdminCertificate) => ({
  name: cert.name,
  serial: cert.serial || null,
  expires: isoTime(cert.notAfterMs),
  revoked: cert.revoked,
  revokedAt: cert.revoked ? isoTime(cert.revokedAtMs) : null,
});
