/** Small HTTP helpers for end-to-end tests of the instances' servers (PORT). */
import { createServer } from "node:net";

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** What a GET answered. */
export interface Answer {
  status: number;
  type: string;
  body: string;
}

/** GETs `path` on the loopback `port`. */
export async function get(port: number, path: string, method = "GET"): Promise<Answer> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: response.status, type: response.headers.get("content-type") ?? "", body: await response.text() };
}

/** GETs `path`; its body parsed as JSON when it is JSON, else the text. */
export async function getJson(port: number, path: string): Promise<{ status: number; body: unknown }> {
  const answer = await get(port, path);
  return { status: answer.status, body: answer.type.includes("json") ? JSON.parse(answer.body) : answer.body };
}
