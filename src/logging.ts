/**
 * The process's logger: JSON lines (pino) with every secret blanked out of what is written. The
 * token is in every Bot API URL, and errors of the HTTP layer below grammY carry that URL in their
 * message and stack, however carefully the call sites log; blanking at the stream is the one place
 * that catches all of them.
 */
import { pino, type DestinationStream, type Level, type Logger } from "pino";

/** The text that stands where a secret was. */
export const REDACTED = "[redacted]";

/** A logger at `level` that never writes any of `secrets` (empty strings are ignored). */
export function createLogger(level: Level | "silent", secrets: readonly (string | undefined)[], destination?: DestinationStream): Logger {
  const hidden = secrets.filter((secret): secret is string => secret !== undefined && secret.length > 0);
  const streamWrite = (line: string): string => hidden.reduce((text, secret) => text.replaceAll(secret, REDACTED), line);
  const options = { level, base: { app: "newswire" }, hooks: { streamWrite } };
  return destination ? pino(options, destination) : pino(options);
}
