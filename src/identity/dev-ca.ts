/**
 * identity/dev-ca — the development TLS material under `<data dir>/tls/`: a local CA (created once, kept
 * across starts, its path printed so bots can trust it) and a server certificate it signs for the
 * listening host. MSAL refuses `http://` authorities, so even a laptop run needs HTTPS.
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import forge from 'node-forge';

export interface DevCertificates {
  /** The CA certificate to trust (e.g. NODE_EXTRA_CA_CERTS). */
  caPath: string;
  certPath: string;
  keyPath: string;
  /** PEM of the server certificate. */
  cert: string;
  /** PEM (PKCS#8) of the server's private key. */
  key: string;
  /** PEM of the CA certificate. */
  ca: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_DAYS = 3650;
/** Under 398 days, the longest validity some TLS clients accept for a leaf certificate. */
const SERVER_DAYS = 365;
/** Certificates expiring sooner than this are replaced at start. */
const RENEW_BEFORE_MS = 30 * DAY_MS;
const DEFAULT_HOSTS = ['127.0.0.1', '::1', 'localhost'];

/**
 * Returns the dev CA and a server certificate for `hosts` (plus 127.0.0.1, ::1, localhost), creating
 * or renewing whatever is missing, expiring within 30 days, or not covering a host.
 */
export function ensureDevCertificates(dataDir: string, hosts: string[]): DevCertificates {
  const dir = join(dataDir, 'tls');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca-key.pem');
  const certPath = join(dir, 'server.pem');
  const keyPath = join(dir, 'server-key.pem');
  const names = normaliseHosts([...DEFAULT_HOSTS, ...hosts]);
  const now = Date.now();

  let ca = readCa(caPath, caKeyPath, now);
  let caCreated = false;
  if (!ca) {
    ca = createCa(now);
    writePem(caKeyPath, ca.key, 0o600);
    writePem(caPath, ca.cert, 0o644);
    caCreated = true;
  }

  let server = caCreated ? undefined : readServer(certPath, keyPath, ca.cert, names, now);
  if (!server) {
    server = createServerCert(ca, names, now);
    writePem(keyPath, server.key, 0o600);
    writePem(certPath, server.cert, 0o644);
  }
  return { caPath, certPath, keyPath, cert: server.cert, key: server.key, ca: ca.cert };
}

interface Pair {
  cert: string;
  key: string;
}

function readCa(certPath: string, keyPath: string, now: number): Pair | undefined {
  const pair = readPair(certPath, keyPath);
  if (!pair) return undefined;
  try {
    const x509 = new X509Certificate(pair.cert);
    if (!x509.ca || !x509.checkPrivateKey(createPrivateKey(pair.key))) return undefined;
    if (Date.parse(x509.validTo) - now < RENEW_BEFORE_MS) return undefined;
    return pair;
  } catch {
    return undefined;
  }
}

function readServer(certPath: string, keyPath: string, caCert: string, names: HostNames, now: number): Pair | undefined {
  const pair = readPair(certPath, keyPath);
  if (!pair) return undefined;
  try {
    const x509 = new X509Certificate(pair.cert);
    const issuer = new X509Certificate(caCert);
    if (!x509.checkIssued(issuer) || !x509.verify(issuer.publicKey)) return undefined;
    if (!x509.checkPrivateKey(createPrivateKey(pair.key))) return undefined;
    if (Date.parse(x509.validTo) - now < RENEW_BEFORE_MS) return undefined;
    // checkIP/checkHost consult only the subjectAltName entries, as TLS clients do.
    if (!names.ips.every((ip) => x509.checkIP(ip) !== undefined)) return undefined;
    if (!names.dns.every((dns) => x509.checkHost(dns, { wildcards: false }) !== undefined)) return undefined;
    return pair;
  } catch {
    return undefined;
  }
}

function readPair(certPath: string, keyPath: string): Pair | undefined {
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
}

function createCa(now: number): Pair {
  const { privatePem, forgePrivate, forgePublic } = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePublic;
  cert.serialNumber = serialNumber();
  setValidity(cert, now, CA_DAYS);
  // A per-installation suffix, so two data dirs' CAs are distinguishable in a trust store.
  const attrs = [
    { name: 'commonName', value: `Switchboard Dev CA ${randomBytes(4).toString('hex')}` },
    { name: 'organizationName', value: 'Switchboard (development only)' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgePrivate, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privatePem };
}

function createServerCert(ca: Pair, names: HostNames, now: number): Pair {
  const caCert = forge.pki.certificateFromPem(ca.cert);
  const caKey = forge.pki.privateKeyFromPem(ca.key);
  const { privatePem, forgePublic } = rsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePublic;
  cert.serialNumber = serialNumber();
  setValidity(cert, now, SERVER_DAYS);
  cert.setSubject([{ name: 'commonName', value: names.dns[0] ?? names.ips[0] ?? 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      // GeneralName types: 2 = dNSName, 7 = iPAddress.
      altNames: [...names.dns.map((value) => ({ type: 2, value })), ...names.ips.map((ip) => ({ type: 7, ip }))],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: privatePem };
}

/** RSA keys come from node:crypto: forge's pure-JS key generation takes seconds. */
function rsaKey(): { privatePem: string; forgePrivate: forge.pki.rsa.PrivateKey; forgePublic: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgePrivate = forge.pki.privateKeyFromPem(privatePem);
  const forgePublic = forge.pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e);
  return { privatePem, forgePrivate, forgePublic };
}

function setValidity(cert: forge.pki.Certificate, now: number, days: number): void {
  // Backdated a day, so a client whose clock runs a little behind still accepts a fresh certificate.
  cert.validity.notBefore = new Date(now - DAY_MS);
  cert.validity.notAfter = new Date(now + days * DAY_MS);
}

/** 16 random bytes, high bit clear: a positive DER INTEGER, unique enough that browsers never see a reuse. */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

interface HostNames {
  dns: string[];
  ips: string[];
}

function normaliseHosts(hosts: string[]): HostNames {
  const dns = new Set<string>();
  const ips = new Set<string>();
  for (const raw of hosts) {
    const host = raw.trim().replace(/^\[(.*)\]$/, '$1').toLowerCase();
    if (host === '') continue;
    if (isIP(host)) ips.add(host);
    else dns.add(host);
  }
  return { dns: [...dns], ips: [...ips] };
}

/** Writes through a temporary file and a rename, so a crash never leaves half a PEM behind. */
function writePem(path: string, content: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}
