/**
 * A loopback fake of an OpenAI-compatible model server (chat completions, embeddings) for the
 * model clients' tests: it records every request and answers as the test last said.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { pino, type Logger } from "pino";

/** How the fake answers the next requests. */
export type Answer = (res: ServerResponse) => void;

export const json =
  (status: number, body: unknown): Answer =>
  (res) => {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };

export interface ModelRequest<Body> {
  url: string;
  headers: IncomingHttpHeaders;
  body: Body;
}

export interface ModelServer<Body> {
  origin: string;
  requests: ModelRequest<Body>[];
  answer: Answer;
  close(): Promise<void>;
}

/** Starts the fake on a free loopback port; it answers `answer` until told otherwise. */
export async function startModelServer<Body>(answer: Answer): Promise<ModelServer<Body>> {
  const requests: ModelRequest<Body>[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      requests.push({ url: req.url ?? "", headers: req.headers, body: JSON.parse(body) as Body });
      fake.answer(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const fake: ModelServer<Body> = {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    answer,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return fake;
}

/** A warn-level logger whose lines are collected in `warnings`. */
export function warningsLogger(): { logger: Logger; warnings: Array<{ msg: string; err: string }> } {
  const warnings: Array<{ msg: string; err: string }> = [];
  return { logger: pino({ level: "warn" }, { write: (line: string) => warnings.push(JSON.parse(line)) }), warnings };
}
