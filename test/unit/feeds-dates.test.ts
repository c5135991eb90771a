import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseFeedDate } from "../../src/feeds/dates.js";
import { parseFeed } from "../../src/feeds/parse.js";

const iso = (text: string) => parseFeedDate(text)?.toISOString();

describe("parseFeedDate", () => {
  test("what Date reads is read as Date reads it", () => {
    assert.equal(iso("Tue, 10 Jun 2025 12:00:00 GMT"), "2025-06-10T12:00:00.000Z");
    assert.equal(iso("2025-06-10T12:35:09+01:00"), "2025-06-10T11:35:09.000Z");
    assert.equal(iso("Mon, 9 Jun 2025 7:05:00 PDT"), "2025-06-09T14:05:00.000Z");
    assert.equal(iso("Tue, 10 Jun 2025 12:00:00 EST"), "2025-06-10T17:00:00.000Z");
  });

  test("one-digit hours, minutes and seconds in ISO 8601", () => {
    assert.equal(iso("2025-06-10T12:35:9+01:00"), "2025-06-10T11:35:09.000Z");
    assert.equal(iso("2025-06-10T1:2:3Z"), "2025-06-10T01:02:03.000Z");
  });

  test("time-zone abbreviations Date does not know", () => {
    const noon = "Tue, 10 Jun 2025 12:00:00";
    const expected: Record<string, string> = {
      MSK: "09:00", CEST: "10:00", CET: "11:00", EEST: "09:00", EET: "10:00", BST: "11:00", WEST: "11:00",
      IST: "06:30", JST: "03:00", KST: "03:00", AEST: "02:00", HKT: "04:00", MESZ: "10:00", NZDT: "23:00",
    };
    for (const [zone, utc] of Object.entries(expected)) {
      const day = zone === "NZDT" ? "09" : "10";
      assert.equal(iso(`${noon} ${zone}`), `2025-06-${day}T${utc}:00.000Z`, zone);
      assert.equal(iso(`${noon} ${zone.toLowerCase()}`), `2025-06-${day}T${utc}:00.000Z`, `${zone} in lower case`);
    }
  });

  test("a 12-hour clock with a zone abbreviation", () => {
    assert.equal(iso("Tue, 10 Jun 2025 8:19 pm CEST"), "2025-06-10T18:19:00.000Z");
    assert.equal(iso("Tue, 10 Jun 2025 8:19 AM MSK"), "2025-06-10T05:19:00.000Z");
  });

  test("weekdays and months in the site's language", () => {
    assert.equal(iso("Seg, 24 Set 2018 19:42:40 -0300"), "2018-09-24T22:42:40.000Z");
    assert.equal(iso("Вт, 10 июн 2025 12:00:00 +0300"), "2025-06-10T09:00:00.000Z");
    assert.equal(iso("10 июня 2025 12:00 MSK"), "2025-06-10T09:00:00.000Z");
    assert.equal(iso("mar., 10 juil. 2025 14:05:00 CEST"), "2025-07-10T12:05:00.000Z", "mar. is Tuesday here, juil. July");
    assert.equal(iso("Di., 10 Dez 2025 08:00:00 MEZ"), "2025-12-10T07:00:00.000Z");
    assert.equal(iso("mié, 05 ene 2022 08:00:00 +0100"), "2022-01-05T07:00:00.000Z");
  });

  test("no date, no Date", () => {
    for (const text of ["", "  ", "garbage", "Tue, 10 Jun 2025 12:00:00 XYZ", "8:19 pm CEST", "soon"]) assert.equal(parseFeedDate(text), undefined, text);
  });
});

describe("parseFeed keeps the date of", () => {
  test("an Atom entry published at 12:35:9+01:00 and an RSS item at MSK", async () => {
    const atom = `<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>t</title><published>2025-06-10T12:35:9+01:00</published></entry></feed>`;
    assert.deepEqual((await parseFeed(atom, "https://x.example/")).entries[0]?.published, new Date("2025-06-10T11:35:09Z"));
    const rss = `<rss version="2.0"><channel><item><title>t</title><pubDate>Tue, 10 Jun 2025 8:19 pm CEST</pubDate></item></channel></rss>`;
    assert.deepEqual((await parseFeed(rss, "https://x.example/")).entries[0]?.published, new Date("2025-06-10T18:19:00Z"));
  });
});
