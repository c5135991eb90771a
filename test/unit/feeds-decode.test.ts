import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { decodeText } from "../../src/feeds/decode.js";

// Own encoders from the code page tables, so the fixtures don't come from the decoder under test.
/** windows-1251: А..я are 0xC0..0xFF in alphabetical order; ё and Ё sit apart. */
function windows1251(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => {
    const code = char.codePointAt(0)!;
    if (code < 0x80) return code;
    if (char === "ё") return 0xb8;
    if (char === "Ё") return 0xa8;
    if (code >= 0x410 && code <= 0x44f) return 0xc0 + code - 0x410;
    throw new Error(`no windows-1251 byte for ${char}`);
  });
}

/** KOI8-R: lower case at 0xC0..0xDF and upper case at 0xE0..0xFF, both in this (Latin-sounding) order. */
const KOI8_ORDER = "юабцдефгхийклмнопярстужвьызшэщчъ";
function koi8r(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => {
    const code = char.codePointAt(0)!;
    if (code < 0x80) return code;
    if (char === "ё") return 0xa3;
    if (char === "Ё") return 0xb3;
    const lower = KOI8_ORDER.indexOf(char);
    if (lower >= 0) return 0xc0 + lower;
    const upper = KOI8_ORDER.indexOf(char.toLowerCase());
    if (upper >= 0) return 0xe0 + upper;
    throw new Error(`no KOI8-R byte for ${char}`);
  });
}

function utf16(text: string, littleEndian: boolean, bom: boolean): Uint8Array {
  const units = (bom ? "\uFEFF" : "") + text;
  const bytes = new Uint8Array(units.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < units.length; i++) view.setUint16(i * 2, units.charCodeAt(i), littleEndian);
  return bytes;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((part) => [...part]));
const hex = (digits: string): Uint8Array => Uint8Array.from(digits.match(/../g)!, (pair) => parseInt(pair, 16));

const RUSSIAN =
  "Новости экономики: рост цен на нефть продолжился, сообщили аналитики в понедельник. " +
  "Правительство готовит новые меры поддержки для малого бизнеса и семей с детьми. Ёлки подешевели.";
const feed = (body: string, declaration = `<?xml version="1.0"?>`): string =>
  `${declaration}\n<rss version="2.0"><channel><title>${body}</title></channel></rss>`;

describe("decodeText: the encoders of this test", () => {
  test("agree with TextDecoder (sanity check of the fixtures themselves)", () => {
    assert.equal(new TextDecoder("windows-1251").decode(windows1251(RUSSIAN)), RUSSIAN);
    assert.equal(new TextDecoder("koi8-r").decode(koi8r(RUSSIAN)), RUSSIAN);
    assert.deepEqual(koi8r("Как"), hex("ebc1cb"));
    assert.deepEqual(windows1251("Как"), hex("cae0ea"));
  });
});

describe("decodeText: Unicode", () => {
  test("UTF-8 without a BOM", () => {
    const text = feed(`Café — ${RUSSIAN} 中文`);
    assert.equal(decodeText(utf8(text)), text);
  });

  test("UTF-8 with a BOM, which is dropped", () => {
    assert.equal(decodeText(concat(hex("efbbbf"), utf8(feed("Été")))), feed("Été"));
  });

  test("UTF-8 with a BOM wins over a contradicting charset", () => {
    assert.equal(decodeText(concat(hex("efbbbf"), utf8("Привет")), "text/xml; charset=windows-1251"), "Привет");
  });

  test("UTF-16 LE and BE with a BOM", () => {
    const text = feed(`Ünïcödé ${RUSSIAN}`, `<?xml version="1.0" encoding="utf-16"?>`);
    assert.equal(decodeText(utf16(text, true, true)), text);
    assert.equal(decodeText(utf16(text, false, true)), text);
  });

  test("UTF-16 LE and BE without a BOM, recognised by the leading `<`", () => {
    const text = feed("Ядро", `<?xml version="1.0" encoding="utf-16"?>`);
    assert.equal(decodeText(utf16(text, true, false)), text);
    assert.equal(decodeText(utf16(text, false, false)), text);
  });

  test("UTF-32 LE with a BOM", () => {
    const bytes = concat(hex("fffe0000"), ...Array.from("<a>Ж😀</a>", (char) => {
      const unit = new Uint8Array(4);
      new DataView(unit.buffer).setUint32(0, char.codePointAt(0)!, true);
      return unit;
    }));
    assert.equal(decodeText(bytes), "<a>Ж😀</a>");
  });

  test("a UTF-16 declaration on 8-bit bytes is ignored", () => {
    const text = feed("plain ASCII and Привет", `<?xml version="1.0" encoding="utf-16"?>`);
    assert.equal(decodeText(utf8(text)), text);
  });

  test("valid UTF-8 wins over a declared legacy encoding", () => {
    const text = feed(RUSSIAN, `<?xml version="1.0" encoding="windows-1251"?>`);
    assert.equal(decodeText(utf8(text), "application/rss+xml; charset=ISO-8859-1"), text);
  });

  test("one stray byte in UTF-8 Cyrillic spoils one character, not the feed", () => {
    const text = feed(RUSSIAN, `<?xml version="1.0" encoding="UTF-8"?>`);
    const [head, tail] = [utf8(text.slice(0, 120)), utf8(text.slice(120))];
    for (const stray of [hex("ff"), hex("c0"), hex("e9"), hex("d0")]) {
      const decoded = decodeText(concat(head, stray, tail), "application/rss+xml; charset=utf-8");
      assert.equal(decoded, `${text.slice(0, 120)}\uFFFD${text.slice(120)}`);
    }
    assert.equal(decodeText(concat(head, hex("ff"), tail)), `${text.slice(0, 120)}\uFFFD${text.slice(120)}`, "undeclared too");
  });

  test("a U+FFFD the document itself holds is no sign of a legacy encoding", () => {
    assert.equal(decodeText(utf8(feed("Lost character: \uFFFD"))), feed("Lost character: \uFFFD"));
  });

  test("controls and bidi overrides never leave it, written out or as references; C1 reads as windows-1252", () => {
    const page = "<p>Pay\u0000 \u202Efdp.exe&#x202C; &#27;now\u001b don\u0092t</p>";
    assert.equal(decodeText(utf8(page)), "<p>Pay fdp.exe now don’t</p>");
    // Undeclared windows-1252, which Node's TextDecoder leaves C1 at 0x80–0x9F.
    assert.equal(decodeText(Uint8Array.from("don?t", (char) => (char === "?" ? 0x92 : char.charCodeAt(0)))), "don’t");
  });

  test("no bytes, no text", () => {
    assert.equal(decodeText(new Uint8Array(0)), "");
  });
});

describe("decodeText: declared legacy encodings", () => {
  test("windows-1251 from the XML declaration", () => {
    const text = feed(RUSSIAN, `<?xml version="1.0" encoding="windows-1251"?>`);
    assert.equal(decodeText(windows1251(text)), text);
  });

  test("KOI8-R from the HTTP charset, quoted", () => {
    const text = feed("Короткий заголовок");
    assert.equal(decodeText(koi8r(text), 'text/xml; charset="koi8-r"'), text);
  });

  test("the HTTP charset wins over the XML declaration", () => {
    const text = feed("Что в заголовке", `<?xml version="1.0" encoding="windows-1251"?>`);
    assert.equal(decodeText(koi8r(text), "text/xml; charset=KOI8-R"), text);
  });

  test("windows-1251 from an HTML meta charset", () => {
    const page = `<!doctype html><html><head><meta charset="windows-1251"><title>Главная</title></head></html>`;
    assert.equal(decodeText(windows1251(page)), page);
  });

  test("ISO-8859-1 declared and meant", () => {
    const text = feed("Économie : les prix à la pompe reculent cet été", `<?xml version="1.0" encoding="ISO-8859-1"?>`);
    const bytes = Uint8Array.from(text, (char) => char.charCodeAt(0));
    assert.equal(decodeText(bytes), text);
  });
});

describe("decodeText: undeclared or wrongly declared Cyrillic", () => {
  test("undeclared windows-1251", () => {
    assert.equal(decodeText(windows1251(feed(RUSSIAN))), feed(RUSSIAN));
  });

  test("undeclared KOI8-R", () => {
    assert.equal(decodeText(koi8r(feed(RUSSIAN))), feed(RUSSIAN));
  });

  test("a short undeclared KOI8-R title", () => {
    assert.equal(decodeText(koi8r(feed("Как пережить новогоднюю ночь"))), feed("Как пережить новогоднюю ночь"));
  });

  test("UTF-8 declared, windows-1251 sent", () => {
    const text = feed(RUSSIAN, `<?xml version="1.0" encoding="UTF-8"?>`);
    assert.equal(decodeText(windows1251(text), "text/xml; charset=utf-8"), text);
  });

  test("UTF-8 declared, KOI8-R sent", () => {
    const text = feed(RUSSIAN, `<?xml version="1.0" encoding="utf-8"?>`);
    assert.equal(decodeText(koi8r(text)), text);
  });

  test("a server-default ISO-8859-1 over windows-1251 Russian", () => {
    assert.equal(decodeText(windows1251(feed(RUSSIAN)), "text/xml; charset=iso-8859-1"), feed(RUSSIAN));
  });

  test("windows-1251 with a few bytes that pair up as UTF-8 is still windows-1251", () => {
    // В« is C2 AB, Д» C4 BB, Я№ DF B9: each a valid two-byte UTF-8 sequence.
    const text = feed(`${RUSSIAN} В«Ёлки» Д» Я№5`);
    const bytes = Uint8Array.from(text, (char) => (char === "«" ? 0xab : char === "»" ? 0xbb : char === "№" ? 0xb9 : windows1251(char)[0]!));
    assert.equal(new TextDecoder("utf-8").decode(bytes).match(/[\u0080-\u07FF]/g)?.length, 3, "the fixture holds three valid pairs");
    assert.equal(decodeText(bytes), text);
  });

  test("an unknown label falls back to detection", () => {
    const text = feed(RUSSIAN, `<?xml version="1.0" encoding="bogus"?>`);
    assert.equal(decodeText(koi8r(text), "text/xml; charset=x-unheard-of"), text);
  });

  test("Latin-1 text, undeclared or declared, is not taken for Cyrillic", () => {
    // Italian accents read as windows-1251 are mostly common Russian letters (à→а, è→и, ò→т).
    const italian = "La città è pronta: è già tutto deciso, perché la novità più attesa è arrivata. Però non è chiaro chi sarà.";
    const portuguese = "Notícias: a economia está em alta, disse o ministério na sexta-feira. Ação e paixão.";
    for (const text of [feed(italian), feed(portuguese)]) {
      const bytes = Uint8Array.from(text, (char) => char.charCodeAt(0));
      assert.equal(decodeText(bytes), text);
      assert.equal(decodeText(bytes, "text/xml; charset=iso-8859-1"), text);
    }
  });
});
