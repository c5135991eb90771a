import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openNamespaces } from "../../src/store/keyv.js";

// A first start opens every namespace of a new SQLite file at once; racing the switch to WAL, one
// of them used to be refused with SQLITE_BUSY now and then (about 1 start in 50), which stopped
// newswire with "STORE_URL cannot be opened". A race is caught only by trying often.
test("opening a new SQLite store never fails with SQLITE_BUSY", async () => {
  const root = mkdtempSync(join(tmpdir(), "newswire-open-"));
  try {
    const failures: string[] = [];
    for (let run = 0; run < 100; run++) {
      try {
        const namespaces = await openNamespaces(`sqlite://${join(root, `${run}.sqlite`)}`);
        await Promise.all(Object.values(namespaces).map((keyv) => keyv.disconnect()));
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    assert.deepEqual(failures, []);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
