/**
 * identity/keys — the RS256 signing keys: `graph` (access tokens from the token endpoint) and
 * `notifications` (the bot-framework JWT on webhooks). Keys live in the store (Part B), so processes
 * sharing one PostgreSQL sign and verify with the same keys; this class is an in-memory view of them.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type JsonWebKey, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, type JWK } from 'jose';
import type { SigningKeyRow, Store } from '../store/store.js';

export type KeyStore = Pick<Store, 'signingKeys' | 'addSigningKey' | 'retireSigningKey'>;
export type KeyUse = SigningKeyRow['use'];

/** A public key as published in a JWKS document. */
export interface PublicJwk extends JWK {
  kty: 'RSA';
  n: string;
  e: string;
  kid: string;
  use: 'sig';
  alg: 'RS256';
}

/** A jose key resolver over one use's published keys (what `jwtVerify` takes). */
export type LocalJwks = ReturnType<typeof createLocalJWKSet>;

export interface CurrentKey {
  kid: string;
  privateKey: KeyObject;
}

/**
 * How long a retired key stays published (and accepted). Tokens live 1 h (access tokens 3599 s,
 * notification tokens 3600 s) plus a 5 min clock tolerance; 24 h also covers relying parties that cache
 * a JWKS document for a day (the Bot Framework SDK does), at no cost.
 */
export const RETIRED_KEY_GRACE_MS = 24 * 60 * 60 * 1000;

/**
 * The store is re-read at most this often: when a verifier meets an unknown `kid` (another process, or
 * `switchboard keys rotate`, may have added it), and before signing or publishing keys (a rotation made
 * elsewhere is picked up within this time, without a restart).
 */
export const KEY_RELOAD_INTERVAL_MS = 5_000;

const USES: readonly KeyUse[] = ['graph', 'notifications'];
const generateRsa = promisify(generateKeyPair);

interface LoadedKey {
  row: SigningKeyRow;
  privateKey: KeyObject;
  publicJwk: PublicJwk;
}

export class SigningKeys {
  private keys: LoadedKey[] = [];
  private lastReload = 0;
  /** See KEY_RELOAD_INTERVAL_MS; tests shorten it. */
  reloadIntervalMs = KEY_RELOAD_INTERVAL_MS;
  /** jose imports a JWK on first use per set: reusing the set halves the cost of a verification. */
  private readonly jwksCache = new Map<KeyUse, { kids: string; jwks: LocalJwks }>();

  private constructor(
    private readonly store: KeyStore,
    /** The real clock (epoch ms): key lifetimes follow token lifetimes, which never use the virtual clock. */
    private readonly now: () => number,
  ) {}

  /** Reads the keys from the store, creating (and persisting) one per use that has no active key. */
  static async load(store: KeyStore, now: () => number = Date.now): Promise<SigningKeys> {
    const keys = new SigningKeys(store, now);
    await keys.reload();
    let created = false;
    for (const use of USES) {
      if (!keys.active(use)) {
        await store.addSigningKey(await newKeyRow(use, now()));
        created = true;
      }
    }
    // Re-read rather than trust what we wrote: another process may have created its key at the same
    // moment, and every process must then agree on the newest one.
    if (created) await keys.reload();
    return keys;
  }

  /** The key to sign with: the newest key of that use that is not retired. */
  current(use: KeyUse): CurrentKey {
    const key = this.active(use);
    if (!key) throw new Error(`no active ${use} signing key (was SigningKeys.load awaited?)`);
    return { kid: key.row.kid, privateKey: key.privateKey };
  }

  /** Active keys plus keys retired less than RETIRED_KEY_GRACE_MS ago, newest first. */
  publicJwks(use: KeyUse): { keys: PublicJwk[] } {
    const cutoff = this.now() - RETIRED_KEY_GRACE_MS;
    return {
      keys: this.keys
        .filter((k) => k.row.use === use && (k.row.retiredAt === undefined || k.row.retiredAt > cutoff))
        .map((k) => ({ ...k.publicJwk })),
    };
  }

  /** The published keys of `use` as a verifier, cached until the published set changes. */
  localJwks(use: KeyUse): LocalJwks {
    const published = this.publicJwks(use);
    const kids = published.keys.map((k) => k.kid).join(' ');
    const cached = this.jwksCache.get(use);
    if (cached && cached.kids === kids) return cached.jwks;
    const jwks = createLocalJWKSet(published);
    this.jwksCache.set(use, { kids, jwks });
    return jwks;
  }

  /** Adds a new key for `use` and retires the previous active one(s). Returns the new kid. */
  async rotate(use: KeyUse): Promise<string> {
    await this.reload();
    const previous = this.keys.filter((k) => k.row.use === use && k.row.retiredAt === undefined);
    // Strictly newer than every existing key, so "newest" is unambiguous even within one millisecond.
    const newest = Math.max(0, ...this.keys.filter((k) => k.row.use === use).map((k) => k.row.createdAt));
    const row = await newKeyRow(use, Math.max(this.now(), newest + 1));
    // Add before retiring, so a crash in between leaves two usable keys rather than none.
    await this.store.addSigningKey(row);
    for (const key of previous) await this.store.retireSigningKey(key.row.kid, this.now());
    await this.reload();
    return row.kid;
  }

  /** Re-reads every key from the store. */
  async reload(): Promise<void> {
    const rows = await this.store.signingKeys();
    this.keys = rows
      .map(loadRow)
      // Newest first; kid breaks ties so that every process picks the same current key.
      .sort((a, b) => b.row.createdAt - a.row.createdAt || (a.row.kid < b.row.kid ? -1 : a.row.kid > b.row.kid ? 1 : 0));
    this.lastReload = this.now();
  }

  /**
   * Called by verifiers that met a `kid` they do not know: re-reads the store if that kid is unknown and
   * the last re-read is older than a few seconds (bounded, so random kids cannot hammer the store).
   * Returns true when the kid is known afterwards.
   */
  async refreshFor(use: KeyUse, kid: string): Promise<boolean> {
    if (this.publicJwks(use).keys.some((k) => k.kid === kid)) return true;
    if (this.now() - this.lastReload < this.reloadIntervalMs) return false;
    await this.reload();
    return this.publicJwks(use).keys.some((k) => k.kid === kid);
  }

  /**
   * Re-reads the store when the last read is older than `reloadIntervalMs`: called before signing and
   * before publishing a JWKS, so a key rotated by another process (or the CLI) is used and published
   * without a restart. A failed re-read keeps the keys already loaded.
   */
  async refreshIfStale(): Promise<void> {
    if (this.now() - this.lastReload < this.reloadIntervalMs) return;
    if (this.reloading) return this.reloading;
    this.reloading = this.reload()
      .catch(() => {
        this.lastReload = this.now();
      })
      .finally(() => {
        this.reloading = undefined;
      });
    return this.reloading;
  }
  private reloading: Promise<void> | undefined;

  private active(use: KeyUse): LoadedKey | undefined {
    return this.keys.find((k) => k.row.use === use && k.row.retiredAt === undefined);
  }
}

async function newKeyRow(use: KeyUse, createdAt: number): Promise<SigningKeyRow> {
  const { privateKey } = await generateRsa('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const jwk = await exportJWK(privateKey);
  if (!jwk.n || !jwk.e) throw new Error('generated RSA key has no modulus/exponent');
  // RFC 7638 thumbprint: stable, derived from the key, and unique without coordination between processes.
  const kid = await calculateJwkThumbprint({ kty: 'RSA', n: jwk.n, e: jwk.e }, 'sha256');
  return { kid, use, privateJwk: JSON.stringify(jwk), createdAt };
}

function loadRow(row: SigningKeyRow): LoadedKey {
  const privateKey = createPrivateKey({ key: JSON.parse(row.privateJwk) as JsonWebKey, format: 'jwk' });
  const pub = createPublicKey(privateKey).export({ format: 'jwk' });
  if (pub.kty !== 'RSA' || typeof pub.n !== 'string' || typeof pub.e !== 'string') {
    throw new Error(`signing key ${row.kid} in the store is not an RSA key`);
  }
  return { row, privateKey, publicJwk: { kty: 'RSA', n: pub.n, e: pub.e, kid: row.kid, use: 'sig', alg: 'RS256' } };
}
