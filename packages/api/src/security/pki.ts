/**
 * The X.509 library (./x509) costs about 0.4 s to load: it is imported only
 * where a certificate or request is made, so the CLI and the daemons do not
 * pay for it on every start.
 */
export const pki = (): Promise<typeof import('./x509.js')> => import('./x509.js');
