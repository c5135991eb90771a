import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { stripControls, stripControlsFromMarkup } from "../../src/text/controls.js";

describe("stripControls", () => {
  test("drops C0 and C1 controls but keeps tab and line breaks", () => {
    assert.equal(stripControls("a\u0000b\u001bc\u0007d\u007fe\u0081f\u009dg"), "abcdefg");
    assert.equal(stripControls("one\ttwo\nthree\r\nfour"), "one\ttwo\nthree\r\nfour");
  });

  test("reads C1 characters as the windows-1252 ones of their bytes", () => {
    assert.equal(stripControls("don\u0092t \u0093quote\u0094 \u0085 \u0080 5\u0096 6"), "don’t “quote” … € 5– 6");
  });

  test("drops bidi embeddings, overrides and isolates, keeps the marks", () => {
    const spoof = "Invoice \u202Efdp.exe\u202C and \u2066isolated\u2069 \u202Aleft\u202B\u202D";
    assert.equal(stripControls(spoof), "Invoice fdp.exe and isolated left");
    assert.equal(stripControls("שלום\u200F (2026) \u200Eabc\u061C"), "שלום\u200F (2026) \u200Eabc\u061C");
  });

  test("drops lone surrogates, keeps pairs", () => {
    assert.equal(stripControls("a\uD800b\uDC00c 😀"), "abc 😀");
  });

  test("leaves ordinary text alone", () => {
    const text = "Новости: «рост» — 5 % 中文 café";
    assert.equal(stripControls(text), text);
  });
});

describe("stripControlsFromMarkup", () => {
  test("drops references to those characters, in decimal and hex, with or without ;", () => {
    assert.equal(stripControlsFromMarkup("<p>a&#27;b&#x1B;c&#X202e;d&#8238e&#0;f&#xD800;g</p>"), "<p>abcdefg</p>");
  });

  test("keeps other references, and 0x80–0x9F ones that HTML reads as windows-1252", () => {
    const html = "<p>&#8212; &#x41; &#150; &amp;#27; &#x200F; &#1114112;</p>";
    assert.equal(stripControlsFromMarkup(html), html);
  });

  test("drops the characters themselves too", () => {
    assert.equal(stripControlsFromMarkup("<b>\u202Eevil</b>\u0000"), "<b>evil</b>");
  });
});
