/**
 * The X.509 library (./x509) costs about 0.4 s to load and 9 MiB resident: it
 * is imported only where a certificate is made or a request is checked (the
 * CA, on a scheduler), so the CLI and the agents never load it.
 */
export const pki = (): Promise<typeof import('./x509.js')> => import('./x509.js');
