import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * Only global unicast addresses are public. ipaddr.js names every special
 * range (private, loopback, link-local, CGNAT, multicast, reserved, and for
 * IPv6 the forms that embed an IPv4 address: mapped, NAT64, 6to4, Teredo);
 * all of them are refused rather than unwrapped, since no media host needs them.
 */
export function isPublicAddress(host: string): boolean {
  const address = ipaddr.parse(host);
  // ::a.b.c.d (IPv4-compatible, deprecated) is not a range ipaddr.js names.
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0))
    return false;
  return address.range() === 'unicast';
}

function isLoopback(host: string): boolean {
  return ipaddr.process(host).range() === 'loopback';
}

/** A DNS name of at least two labels, each 1 to 63 letters, digits or inner hyphens. */
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/**
 * A URL someone else's servers (Meta's) or ours (webhooks) will fetch must be
 * public https. Literal addresses, local names and malformed hosts are
 * refused at once; names are resolved at fetch time (resolvePublic), since
 * DNS changes. The URL is judged as the WHATWG parser reads it, which is also
 * the form stored and used, so no other parser can read it differently later.
 */
export function publicUrlProblem(value: string, field: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} must be an absolute URL`;
  }
  if (url.protocol !== 'https:') return `${field} must use https`;
  if (url.username || url.password) return `${field} must not contain credentials`;
  if (url.port === '0') return `${field} must not use port 0`;
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '');
  if (host === '') return `${field} must name a host`;
  if (isIP(host) !== 0) {
    return isPublicAddress(host)
      ? null
      : `${field} must point at a public address, not a private, loopback, link-local or other special one`;
  }
  if (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host.endsWith('.local') ||
    host.endsWith('.internal')
  )
    return `${field} must point at a public host, not a local name`;
  const labels = host.split('.');
  if (labels.length < 2 || !labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels.at(-1)!))
    return `${field} must point at a public host name`;
  return null;
}

/** How names are resolved; tests inject one (a name that resolves to loopback). */
export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

export class NonPublicAddress extends Error {
  override name = 'NonPublicAddress';
}

/**
 * Resolves a URL's host and returns the address to connect to: the first
 * one, once every address the name has is public (a name with one private
 * address among public ones is refused: the attacker chooses which one a
 * client uses). Connecting to exactly this address keeps a DNS answer that
 * changes between check and connect (rebinding) from mattering.
 */
export async function resolvePublic(
  hostname: string,
  opts: { resolver?: Resolver; allowPrivate?: boolean } = {},
): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const found =
    isIP(host) !== 0
      ? [{ address: host, family: isIP(host) }]
      : await (opts.resolver ?? systemResolver)(host);
  if (found.length === 0) throw new NonPublicAddress(`${hostname} does not resolve`);
  // The tests-only flags let loopback through, nothing else: a redirect to 10.x or 169.254.x stays refused.
  const bad = found.find((a) => !isPublicAddress(a.address) && !(opts.allowPrivate && isLoopback(a.address)));
  if (bad) throw new NonPublicAddress(`${hostname} resolves to a non-public address`);
  return { address: found[0]!.address, family: found[0]!.family === 6 ? 6 : 4 };
}
