import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LookupAddress, LookupOptions } from "node:dns";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { networkInterfaces } from "node:os";
import type { AddressInfo, LookupFunction } from "node:net";
import { AddressRefused, addressPolicy, guardedLookup, refusedRange, type AddressPolicy } from "../../src/feeds/address-policy.js";
import { FetchError, fetchResource, USER_AGENT } from "../../src/feeds/fetch.js";

describe("refusedRange", () => {
  test("public IPv4 and IPv6 addresses pass", () => {
    for (const address of [
      "8.8.8.8",
      "93.184.216.34",
      "1.1.1.1",
      "172.32.0.1", // just past 172.16/12
      "100.128.0.1", // just past 100.64/10
      "11.0.0.1",
      "2606:4700:4700::1111",
      "2a00:1450:4001:82b::200e",
      "::ffff:8.8.8.8",
      "64:ff9b::808:808",
      "2002:808:808::1",
    ]) {
      assert.equal(refusedRange(address, false), undefined, address);
    }
  });

  test("every non-public IPv4 range is refused, by name", () => {
    const cases: [string, string][] = [
      ["127.0.0.1", "loopback"],
      ["127.255.255.254", "loopback"],
      ["10.0.0.1", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.168.1.1", "private"],
      ["169.254.169.254", "linkLocal"],
      ["100.64.0.1", "carrierGradeNat"],
      ["100.127.255.255", "carrierGradeNat"],
      ["224.0.0.1", "multicast"],
      ["239.255.255.250", "multicast"],
      ["0.0.0.0", "unspecified"],
      ["0.1.2.3", "unspecified"],
      ["255.255.255.255", "broadcast"],
      ["240.0.0.1", "reserved"],
      ["192.0.2.1", "reserved"],
      ["198.18.0.1", "reserved"],
    ];
    for (const [address, range] of cases) assert.equal(refusedRange(address, false), range, address);
  });

  test("every non-public IPv6 range is refused, by name", () => {
    const cases: [string, string][] = [
      ["::1", "loopback"],
      ["::", "unspecified"],
      ["fe80::1", "linkLocal"],
      ["fc00::1", "uniqueLocal"],
      ["fd00:ec2::254", "uniqueLocal"],
      ["ff02::1", "multicast"],
      ["2001:db8::1", "reserved"],
      ["fec0::1", "deprecatedSiteLocal"],
    ];
    for (const [address, range] of cases) assert.equal(refusedRange(address, false), range, address);
  });

  test("IPv6 forms that embed an IPv4 address are judged by it", () => {
    const cases: [string, string][] = [
      ["::ffff:127.0.0.1", "loopback, embedded in ipv4Mapped"],
      ["::ffff:7f00:1", "loopback, embedded in ipv4Mapped"],
      ["0:0:0:0:0:ffff:a00:1", "private, embedded in ipv4Mapped"],
      ["::ffff:169.254.169.254", "linkLocal, embedded in ipv4Mapped"],
      ["::ffff:0.0.0.0", "unspecified, embedded in ipv4Mapped"],
      ["::ffff:0:127.0.0.1", "loopback, embedded in rfc6145"],
      ["64:ff9b::127.0.0.1", "loopback, embedded in rfc6052"],
      ["64:ff9b::a9fe:a9fe", "linkLocal, embedded in rfc6052"],
      ["64:ff9b:1::c0a8:101", "private, embedded in rfc6052"],
      ["2002:7f00:1::1", "loopback, embedded in 6to4"],
      ["2002:c0a8:101::1", "private, embedded in 6to4"],
      // Teredo: the client's address is the last 32 bits inverted (here 127.0.0.1).
      ["2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback, embedded in teredo"],
      // ::127.0.0.1, as WHATWG URL and getaddrinfo write it (ipaddr.js would read the dotted form as mapped).
      ["::7f00:1", "loopback, embedded in ipv4Compatible"],
      ["::a00:1", "private, embedded in ipv4Compatible"],
    ];
    for (const [address, range] of cases) assert.equal(refusedRange(address, false), range, address);
  });

  test("allowPrivate opens RFC 1918, CGNAT and unique-local, and nothing else", () => {
    for (const address of ["10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "fd00::2", "::ffff:10.0.0.1"]) {
      assert.equal(refusedRange(address, true), undefined, address);
    }
    for (const address of ["127.0.0.1", "::1", "169.254.169.254", "fe80::1", "0.0.0.0", "::", "224.0.0.1", "::ffff:127.0.0.1"]) {
      assert.notEqual(refusedRange(address, true), undefined, address);
    }
  });
});

/** A resolver answering each call with the next of `answers` (the last one repeats), counting calls. */
function scriptedResolver(...answers: string[][]): AddressPolicy["resolve"] & { calls: number } {
  const resolver = ((_hostname: string, _options: LookupOptions, callback: (error: Error | null, addresses: LookupAddress[]) => void) => {
    const answer = answers[Math.min(resolver.calls++, answers.length - 1)]!;
    queueMicrotask(() => callback(null, answer.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }))));
  }) as unknown as AddressPolicy["resolve"] & { calls: number };
  resolver.calls = 0;
  return resolver;
}

/** What `lookup` answers for `hostname`, as a socket would ask (`all` as given). */
function ask(lookup: LookupFunction, hostname: string, all: boolean): Promise<string | LookupAddress[]> {
  return new Promise((resolve, reject) => lookup(hostname, { all }, (error, address) => (error ? reject(error) : resolve(address))));
}

describe("guardedLookup", () => {
  const strict = (resolve?: AddressPolicy["resolve"]): AddressPolicy => ({ trustedOrigins: new Set(), allowPrivate: false, ...(resolve && { resolve }) });

  test("IP literals in every spelling are refused before any connection (sockets skip lookup for them)", () => {
    for (const href of [
      "http://127.0.0.1:8080/",
      "http://127.1/",
      "http://2130706433/",
      "http://0x7f.1/",
      "http://0x7f000001/",
      "http://0177.0.0.1/",
      "http://017700000001/",
      "http://0.0.0.0/",
      "http://0/",
      "http://[::1]/",
      "http://[0:0:0:0:0:0:0:1]/",
      "http://[::ffff:127.0.0.1]/",
      "http://[::ffff:7f00:1]/",
      "http://[64:ff9b::7f00:1]/",
      "https://169.254.169.254/latest/meta-data/",
      "http://[fd00:ec2::254]/",
      "http://10.1.2.3/",
    ]) {
      assert.throws(() => guardedLookup(new URL(href), strict()), AddressRefused, href);
    }
  });

  test("a refused literal's message names the host and the range", () => {
    assert.throws(() => guardedLookup(new URL("http://0x7f.1:9000/"), strict()), {
      message: "127.0.0.1:9000 is not a public address (loopback)",
    });
  });

  test("a public literal connects through the guard; a trusted origin connects as usual", () => {
    assert.equal(typeof guardedLookup(new URL("http://8.8.8.8/"), strict()), "function");
    const policy = addressPolicy(["http://127.0.0.1:8080/feed.xml", "https://news.example/rss"], false);
    assert.equal(guardedLookup(new URL("http://127.0.0.1:8080/articles/1"), policy), undefined);
    assert.equal(guardedLookup(new URL("https://news.example:443/a"), policy), undefined, "default port is the same origin");
    assert.throws(() => guardedLookup(new URL("http://127.0.0.1:8081/"), policy), AddressRefused, "another port is another origin");
    assert.equal(typeof guardedLookup(new URL("http://news.example/a"), policy), "function", "another scheme is another origin");
  });

  test("a name resolving to a public address passes, in both callback forms", async () => {
    const lookup = guardedLookup(new URL("http://news.example/"), strict(scriptedResolver(["93.184.216.34", "2606:2800:220:1::248"])))!;
    assert.equal(await ask(lookup, "news.example", false), "93.184.216.34");
    assert.deepEqual(await ask(lookup, "news.example", true), [
      { address: "93.184.216.34", family: 4 },
      { address: "2606:2800:220:1::248", family: 6 },
    ]);
  });

  test("a name resolving to a non-public address is refused, even mixed with a public one", async () => {
    for (const answer of [["127.0.0.1"], ["::1"], ["93.184.216.34", "10.0.0.5"], ["::ffff:169.254.169.254"]]) {
      const lookup = guardedLookup(new URL("http://evil.example/"), strict(scriptedResolver(answer)))!;
      await assert.rejects(ask(lookup, "evil.example", true), AddressRefused, answer.join(","));
    }
    const lookup = guardedLookup(new URL("http://localhost/"), strict(scriptedResolver(["127.0.0.1"])))!;
    await assert.rejects(ask(lookup, "localhost", false), { message: "localhost resolves to 127.0.0.1, not a public address (loopback)" });
  });

  test("a rebind (public first, loopback on the second lookup) is refused at the second lookup", async () => {
    const resolver = scriptedResolver(["93.184.216.34"], ["127.0.0.1"]);
    const lookup = guardedLookup(new URL("http://rebind.example/"), strict(resolver))!;
    assert.equal(await ask(lookup, "rebind.example", false), "93.184.216.34");
    await assert.rejects(ask(lookup, "rebind.example", false), AddressRefused);
    assert.equal(resolver.calls, 2);
  });
});

describe("fetchResource under an address policy", { timeout: 30_000 }, () => {
  const hits: string[] = [];
  let server: Server;
  let port = 0;
  let origin = "";
  before(async () => {
    server = createServer((request, response) => {
      hits.push(request.url ?? "");
      if (request.url === "/to-localhost") return void response.writeHead(302, { location: `http://localhost:${port}/secret` }).end();
      if (request.url === "/to-same-origin") return void response.writeHead(302, { location: "/page" }).end();
      response.end(request.url === "/secret" ? "SECRET" : "page");
    });
    server.listen(0, "::");
    await once(server, "listening");
    port = (server.address() as AddressInfo).port;
    origin = `http://127.0.0.1:${port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const fetchUnder = (href: string, policy: AddressPolicy) =>
    fetchResource(href, { timeoutMs: 5_000, maxBytes: 1024 * 1024, userAgent: USER_AGENT, addressPolicy: policy });

  async function assertRefused(href: string, policy: AddressPolicy): Promise<void> {
    const before = hits.length;
    await assert.rejects(fetchUnder(href, policy), (error: unknown) => {
      assert.ok(error instanceof FetchError && error.reason === "refused-address", String(error));
      assert.ok(error.message.includes(href), error.message);
      return true;
    });
    assert.deepEqual(hits.slice(before), href.endsWith("/to-localhost") ? ["/to-localhost"] : [], "the refused address got no request");
  }

  test("a name the resolver points at loopback is refused as the socket connects", async () => {
    const resolve = scriptedResolver(["127.0.0.1"]);
    await assertRefused(`http://internal.example:${port}/secret`, { ...addressPolicy([], false), resolve });
    assert.equal(resolve.calls, 1, "resolved once, by the socket");
  });

  test("a trusted origin is fetched; its redirect elsewhere is checked again, one to itself is not", async () => {
    const policy = addressPolicy([`${origin}/feed.xml`], false);
    const page = await fetchUnder(`${origin}/to-same-origin`, policy);
    assert.equal(page.status === "ok" && page.url, `${origin}/page`);
    await assertRefused(`${origin}/to-localhost`, policy);
  });

  test("a DNS rebind between two fetches: the second connection's own lookup refuses it", async (t) => {
    // Needs an address the policy allows that reaches this machine: a non-loopback private one, with allowPrivate.
    const own = Object.values(networkInterfaces())
      .flat()
      .find((info) => info !== undefined && !info.internal && refusedRange(info.address, false) !== undefined && refusedRange(info.address, true) === undefined);
    if (own === undefined) return t.skip("no private, non-loopback interface address on this machine");
    const resolve = scriptedResolver([own.address], ["127.0.0.1"]);
    const policy: AddressPolicy = { ...addressPolicy([], true), resolve };
    const first = await fetchUnder(`http://rebind.example:${port}/page`, policy);
    assert.equal(first.status === "ok" && new TextDecoder().decode(first.bytes), "page", `reached through ${own.address}`);
    await assertRefused(`http://rebind.example:${port}/secret`, policy);
    assert.equal(resolve.calls, 2);
  });
});
