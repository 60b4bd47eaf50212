/**
 * notifications/callback-policy — where Switchboard may POST notifications (contract Part B "Callback URLs").
 *
 * - https only.
 * - Private, link-local, cloud-metadata, unspecified and non-unicast addresses are refused in every mode,
 *   unless the URL's host is listed in `notifications.allowHosts`.
 * - Loopback is allowed in dev mode (simulator on); in operator mode (`--no-simulator`) only when listed.
 *
 * Checked twice:
 * 1. when a callbackUri is given (redirect/reject/answer bodies, the directory at start): the scheme, a
 *    literal IP, and names whose meaning is fixed (`localhost`, `metadata.google.internal`);
 * 2. on the address actually connected to at delivery: `lookup` filters what DNS answers (so a name that
 *    resolves to 169.254.169.254 or 10.0.0.1 is refused however it is spelt, and a re-binding DNS server
 *    gains nothing), and `verifySocket` checks the peer address of the connected socket.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** What an address (or a fixed host name) is. `public` is the only class allowed without listing. */
export type AddressClass = 'public' | 'loopback' | 'private' | 'linkLocal' | 'metadata' | 'unspecified' | 'nonUnicast';

export interface CallbackRefusal {
  /** The rule that refused the URL, e.g. `https-only`, `metadata`. */
  rule: 'https-only' | 'invalid-url' | Exclude<AddressClass, 'public'>;
  message: string;
}

export interface CallbackPolicyOptions {
  /** `notifications.allowHosts`: host names or IP addresses, compared with the URL's host. */
  allowHosts: readonly string[];
  /** Dev mode (the simulator is on): loopback callbacks are allowed. */
  devMode: boolean;
  /** The resolver behind `lookup` (default `dns.lookup`; tests give a fake one). */
  resolve?: (hostname: string, options: LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;
}

/** A delivery refused by the policy at connection time (recorded as the attempt's error, then retried as usual). */
export class CallbackRefusedError extends Error {
  readonly code = 'ECALLBACKREFUSED';
  constructor(
    message: string,
    readonly rule: CallbackRefusal['rule'],
  ) {
    super(message);
    this.name = 'CallbackRefusedError';
  }
}

// --- address classes -----------------------------------------------------------------------

/** Cloud metadata endpoints: AWS/Azure/GCP/OpenStack (169.254.169.254), AWS IPv6, AWS ECS, Alibaba, Azure wire server. */
const METADATA_ADDRESSES = new Set(['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200', '168.63.129.16']);
/** Names that always mean a metadata endpoint or this machine, whatever DNS says. */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);

const blocks = (entries: Array<[string, number, 'ipv4' | 'ipv6']>): BlockList => {
  const list = new BlockList();
  for (const [net, prefix, type] of entries) list.addSubnet(net, prefix, type);
  return list;
};

const LOOPBACK = blocks([
  ['127.0.0.0', 8, 'ipv4'],
  ['::1', 128, 'ipv6'],
]);
const UNSPECIFIED = blocks([
  // 0.0.0.0/8 "this network": connecting to 0.0.0.0 reaches the local machine on Linux.
  ['0.0.0.0', 8, 'ipv4'],
  ['::', 128, 'ipv6'],
]);
const LINK_LOCAL = blocks([
  ['169.254.0.0', 16, 'ipv4'],
  ['fe80::', 10, 'ipv6'],
]);
const PRIVATE = blocks([
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // shared address space (carrier-grade NAT)
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['fc00::', 7, 'ipv6'], // unique local addresses
  ['fec0::', 10, 'ipv6'], // site-local (deprecated, still routed privately)
]);
const NON_UNICAST = blocks([
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, and 255.255.255.255 broadcast
  ['ff00::', 8, 'ipv6'], // multicast
]);

/** Parses an IPv6 address (no brackets, no zone) into 8 16-bit groups. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  let tail: number[] | undefined;
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    if (lastColon < 0 || isIP(last) !== 4) return undefined;
    const o = last.split('.').map(Number) as [number, number, number, number];
    tail = [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
    // Stand-in groups for the dotted quad, replaced below.
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const double = text.indexOf('::');
  let groups: number[];
  if (double >= 0) {
    const head = parse(text.slice(0, double));
    const rest = parse(text.slice(double + 2));
    const missing = 8 - head.length - rest.length;
    if (missing < 0) return undefined;
    groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  } else {
    groups = parse(text);
  }
  if (tail && groups.length === 8) groups.splice(6, 2, ...tail);
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  return groups;
}

const v4 = (hi: number, lo: number): string => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4), if any. */
export function embeddedIPv4(address: string): string | undefined {
  const g = ipv6Groups(address);
  if (!g) return undefined;
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated; not :: or ::1)
  if (zeros(0, 5) && (g[5] === 0xffff || (g[5] === 0 && (g[6] !== 0 || (g[7] ?? 0) > 1)))) return v4(g[6]!, g[7]!);
  // 64:ff9b::a.b.c.d (NAT64 well-known prefix) and 64:ff9b:1::/48 (local-use NAT64)
  if (g[0] === 0x64 && g[1] === 0xff9b) return v4(g[6]!, g[7]!);
  // 2002:AABB:CCDD::/48 (6to4)
  if (g[0] === 0x2002) return v4(g[1]!, g[2]!);
  return undefined;
}

/** The class of a literal IP address (v4 or v6, brackets allowed). */
export function classifyAddress(raw: string): AddressClass {
  const address = raw.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const family = isIP(address.split('%')[0] ?? '');
  if (family === 0) return 'nonUnicast';
  const plain = address.split('%')[0]!;
  if (family === 6) {
    const inner = embeddedIPv4(plain);
    if (inner !== undefined) {
      const innerClass = classifyAddress(inner);
      if (innerClass !== 'public') return innerClass;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (METADATA_ADDRESSES.has(canonicalIp(plain))) return 'metadata';
  if (LOOPBACK.check(plain, type)) return 'loopback';
  if (UNSPECIFIED.check(plain, type)) return 'unspecified';
  if (LINK_LOCAL.check(plain, type)) return 'linkLocal';
  if (PRIVATE.check(plain, type)) return 'private';
  if (NON_UNICAST.check(plain, type)) return 'nonUnicast';
  return 'public';
}

/** A canonical text form of an IP (IPv6 compressed as the URL parser writes it). */
function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  try {
    return new URL(`https://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address;
  }
}

/** A URL host as compared with allowHosts: lower case, no brackets, no trailing dot, IPv6 canonical. */
export function normaliseHost(host: string): string {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  return canonicalIp(bare);
}

/** The class of a host as written in a URL: a literal IP, a name with a fixed meaning, or undefined (needs DNS). */
export function classifyHost(hostname: string): AddressClass | undefined {
  const host = normaliseHost(hostname);
  if (isIP(host)) return classifyAddress(host);
  if (host === 'localhost' || host.endsWith('.localhost')) return 'loopback';
  if (METADATA_NAMES.has(host)) return 'metadata';
  return undefined;
}

const CLASS_WORDS: Record<Exclude<AddressClass, 'public'>, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  linkLocal: 'a link-local address',
  metadata: 'a cloud metadata address',
  unspecified: 'an unspecified ("this host") address',
  nonUnicast: 'a multicast, broadcast or reserved address',
};

// --- the policy ----------------------------------------------------------------------------

export class CallbackPolicy {
  private readonly allow: Set<string>;

  constructor(readonly options: CallbackPolicyOptions) {
    this.allow = new Set(options.allowHosts.map(normaliseHost));
  }

  get devMode(): boolean {
    return this.options.devMode;
  }

  isAllowListed(hostname: string): boolean {
    return this.allow.has(normaliseHost(hostname));
  }

  /** Whether an address class may be reached without the host being listed. */
  private classAllowed(cls: AddressClass): boolean {
    return cls === 'public' || (cls === 'loopback' && this.options.devMode);
  }

  private refusal(uriOrHost: string, host: string, cls: Exclude<AddressClass, 'public'>, resolved?: string): CallbackRefusal {
    const what = resolved ? `${host} resolves to ${resolved}, ${CLASS_WORDS[cls]}` : `${host} is ${CLASS_WORDS[cls]}`;
    const rule =
      cls === 'loopback'
        ? this.options.devMode
          ? 'loopback addresses are allowed in dev mode only'
          : 'loopback callback URLs are refused in operator mode (--no-simulator)'
        : `${CLASS_WORDS[cls].replace(/^an? /, '')}es are refused in every mode`;
    return {
      rule: cls,
      message: `${uriOrHost} is refused: ${what} (rule: ${rule}, unless the host is listed in notifications.allowHosts).`,
    };
  }

  /**
   * The request-time check of a callback URL: absolute, https, and its host not a refused literal IP or a
   * name with a fixed meaning. Other names are checked when Switchboard connects.
   */
  checkUrl(uri: string, field = 'callbackUri'): CallbackRefusal | undefined {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return { rule: 'invalid-url', message: `${field} is not an absolute URL: ${JSON.stringify(uri.slice(0, 100))}.` };
    }
    if (url.protocol !== 'https:') {
      return { rule: 'https-only', message: `${field} must be an https URL (got ${url.protocol.replace(':', '')}; rule: https only).` };
    }
    if (url.hostname === '') return { rule: 'invalid-url', message: `${field} has no host.` };
    if (this.isAllowListed(url.hostname)) return undefined;
    const cls = classifyHost(url.hostname);
    if (cls === undefined || this.classAllowed(cls)) return undefined;
    return this.refusal(`${field} ${url.origin}`, url.hostname, cls as Exclude<AddressClass, 'public'>);
  }

  /** The connection-time check: may Switchboard connect to `address` for a URL whose host is `hostname`? */
  checkAddress(hostname: string, address: string): CallbackRefusal | undefined {
    if (this.isAllowListed(hostname)) return undefined;
    // A name with a fixed meaning is refused whatever it resolves to.
    const named = isIP(normaliseHost(hostname)) ? undefined : classifyHost(hostname);
    if (named !== undefined && !this.classAllowed(named)) {
      return this.refusal(`callback host ${hostname}`, hostname, named as Exclude<AddressClass, 'public'>);
    }
    const cls = classifyAddress(address);
    if (this.classAllowed(cls)) return undefined;
    const resolved = normaliseHost(hostname) === normaliseHost(address) ? undefined : address;
    return this.refusal(`callback host ${hostname}`, hostname, cls as Exclude<AddressClass, 'public'>, resolved);
  }

  /**
   * A `dns.lookup` replacement for the delivery agent: resolves as usual, then keeps only the addresses
   * the policy allows for that host; none left is a `CallbackRefusedError`.
   */
  readonly lookup = (
    hostname: string,
    options: LookupOneOptions | LookupAllOptions | number | undefined,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const opts: LookupOneOptions | LookupAllOptions = typeof options === 'number' ? { family: options } : (options ?? {});
    // A name with a fixed meaning (localhost, metadata.google.internal) is refused before any DNS query.
    const named = this.isAllowListed(hostname) ? undefined : classifyHost(hostname);
    if (named !== undefined && !this.classAllowed(named)) {
      const refusal = this.refusal(`callback host ${hostname}`, hostname, named as Exclude<AddressClass, 'public'>);
      return callback(new CallbackRefusedError(refusal.message, refusal.rule) as NodeJS.ErrnoException, []);
    }
    const resolve = this.options.resolve ?? dnsLookup;
    resolve(hostname, { ...opts, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const list = addresses as LookupAddress[];
      const allowed: LookupAddress[] = [];
      let firstRefusal: CallbackRefusal | undefined;
      for (const entry of list) {
        const refusal = this.checkAddress(hostname, entry.address);
        if (refusal) firstRefusal ??= refusal;
        else allowed.push(entry);
      }
      if (allowed.length === 0) {
        const refusal = firstRefusal ?? { rule: 'nonUnicast' as const, message: `callback host ${hostname} resolves to no address.` };
        return callback(new CallbackRefusedError(refusal.message, refusal.rule) as NodeJS.ErrnoException, []);
      }
      if ((opts as LookupAllOptions).all) return callback(null, allowed);
      const first = allowed[0]!;
      return callback(null, first.address, first.family);
    });
  };

  /** The directory's callback URIs this policy refuses, as lines naming the application. */
  directoryProblems(applications: ReadonlyArray<{ id: string; tenantId: string; callbackUri: string }>): string[] {
    const problems: string[] = [];
    for (const app of applications) {
      const refusal = this.checkUrl(app.callbackUri, 'callbackUri');
      if (refusal) problems.push(`application ${app.id} (tenant ${app.tenantId}): callbackUri ${app.callbackUri}: ${refusal.message}`);
    }
    return problems;
  }
}

/** Thrown by `startSwitchboard` in operator mode when the directory names a callback URI the policy refuses. */
export class CallbackConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Operator mode (--no-simulator) refuses to start: the directory names callback URIs Switchboard would refuse to call:\n` +
        problems.map((p) => `  - ${p}`).join('\n') +
        `\nList those hosts in notifications.allowHosts if they are meant, or run in dev mode (without --no-simulator).`,
    );
    this.name = 'CallbackConfigurationError';
  }
}
