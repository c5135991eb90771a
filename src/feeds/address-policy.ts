/**
 * Which addresses article fetches may connect to. A feed item's link is chosen by whoever writes the
 * feed (on a link aggregator, by anyone), so it must not reach the bot's own host, its network or a
 * cloud metadata service: only public unicast addresses pass, checked in the socket's own DNS lookup
 * so that the address checked is the address connected to (a DNS rebind has no second answer to give).
 * The operator's feeds, and pages on their origins, are trusted as they are.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

/** What article fetches may reach. */
export interface AddressPolicy {
  /** Origins (`URL.origin`) fetched without a check: those of the configured feeds. */
  trustedOrigins: ReadonlySet<string>;
  /** Private ranges (RFC 1918, CGNAT, IPv6 unique-local) allowed too, for an intranet. */
  allowPrivate: boolean;
  /** Name resolution; `dns.lookup` unless a test fakes it. */
  resolve?: typeof dnsLookup;
}

/** The policy for article pages of `feedUrls` (the catalog's feeds). */
export function addressPolicy(feedUrls: readonly string[], allowPrivate: boolean): AddressPolicy {
  return { trustedOrigins: new Set(feedUrls.map((url) => new URL(url).origin)), allowPrivate };
}

/** A connection the policy refused; the message names the host, the address and its range. */
export class AddressRefused extends Error {
  override readonly name = "AddressRefused";
}

/** Ranges `allowPrivate` opens; loopback, link-local (metadata services) and the rest stay closed. */
const PRIVATE_RANGES = new Set(["private", "carrierGradeNat", "uniqueLocal"]);

/**
 * Why `address` (an IP literal) is refused — its range as ipaddr.js names it, such as "loopback"
 * or "loopback, embedded in ipv4Mapped" — or undefined when it is public (or private and `allowPrivate`). Forms that embed
 * an IPv4 address (mapped, translated, NAT64, 6to4, Teredo, IPv4-compatible) are judged by it.
 */
export function refusedRange(address: string, allowPrivate: boolean): string | undefined {
  const parsed = ipaddr.parse(address);
  const range = parsed.range();
  if (parsed.kind() === "ipv6") {
    const embedded = embeddedIpv4(parsed as ipaddr.IPv6, range);
    if (embedded !== undefined) {
      const inner = refusedRange(embedded.toString(), allowPrivate);
      // ipaddr.js counts ::a.b.c.d as unicast; it is the deprecated IPv4-compatible form.
      return inner === undefined ? undefined : `${inner}, embedded in ${range === "unicast" ? "ipv4Compatible" : range}`;
    }
  }
  if (range === "unicast" || (allowPrivate && PRIVATE_RANGES.has(range))) return undefined;
  return range;
}

/** The IPv4 address an IPv6 address of `range` carries, if it carries one. */
function embeddedIpv4(address: ipaddr.IPv6, range: string): ipaddr.IPv4 | undefined {
  const parts = address.parts;
  const ipv4 = (high: number, low: number) => new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
  switch (range) {
    case "ipv4Mapped": // ::ffff:a.b.c.d
    case "rfc6145": // ::ffff:0:a.b.c.d
    case "rfc6052": // NAT64, 64:ff9b::a.b.c.d
      return ipv4(parts[6]!, parts[7]!);
    case "6to4": // 2002:AABB:CCDD::/48
      return ipv4(parts[1]!, parts[2]!);
    case "teredo": // the client's address, inverted, in the last 32 bits
      return ipv4(~parts[6]! & 0xffff, ~parts[7]! & 0xffff);
    case "unicast":
      // ::a.b.c.d (IPv4-compatible); :: and ::1 have ranges of their own.
      return parts.slice(0, 6).every((part) => part === 0) ? ipv4(parts[6]!, parts[7]!) : undefined;
    default:
      return undefined;
  }
}

/**
 * How a request to `url` connects under `policy`: undefined for a trusted origin (connect as
 * usual), else a socket `lookup` that fails with {@link AddressRefused} when the name resolves to
 * a refused address. Connections to IP literals skip `lookup`, so a literal is judged here.
 * @throws AddressRefused for a refused IP literal.
 */
export function guardedLookup(url: URL, policy: AddressPolicy): LookupFunction | undefined {
  if (policy.trustedOrigins.has(url.origin)) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(host) !== 0) {
    const range = refusedRange(host, policy.allowPrivate);
    if (range !== undefined) throw new AddressRefused(`${url.host} is not a public address (${range})`);
  }
  const resolve = policy.resolve ?? dnsLookup;
  return (hostname, options: LookupOptions, callback) => {
    resolve(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, "");
      // One refused address refuses the name: an answer mixing them is a rebind attempt.
      for (const { address } of addresses) {
        const range = refusedRange(address, policy.allowPrivate);
        if (range !== undefined) return callback(new AddressRefused(`${hostname} resolves to ${address}, not a public address (${range})`), "");
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}
