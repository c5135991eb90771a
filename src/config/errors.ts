/**
 * A mistake in the operator's settings or config file. `main` prints its message as one line and
 * exits 1 — no stack trace, since the fix is in the operator's hands, not in the code.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}
