/**
 * What a delivery carries, and how it reads in a chat. A job's payload is a tagged union: the
 * sender knows only that a payload has a lane (the chat's turn-taking: deliveries of one lane keep
 * their order) and renders to a message, HTML or plain. A new kind of message (a digest) is a new
 * member here, with its lane and renderings; nothing else in delivery changes.
 */
import type { Item } from "../items/item.js";
import { renderDigest, type DigestPayload } from "./digest.js";
import { renderItem, renderPlain, type RenderedMessage, type RenderOptions } from "./render.js";

/** One new article, as every subscriber of its topics gets it. */
export interface ItemPayload {
  kind: "item";
  item: Item;
}

export type Payload = ItemPayload | DigestPayload;

/** The two renderings of a payload: HTML first, plain text when Telegram refuses that. */
export type MessageForm = "html" | "plain";

interface PayloadKind<P extends Payload> {
  /** The lane a chat's deliveries of this payload take turns in. */
  lane(payload: P): string;
  render(payload: P, form: MessageForm, options: RenderOptions): RenderedMessage;
}

const kinds: { [K in Payload["kind"]]: PayloadKind<Extract<Payload, { kind: K }>> } = {
  item: {
    // Each feed's items in order; feeds take turns.
    lane: ({ item }) => `feed:${item.feedId}`,
    render: ({ item }, form, options) => (form === "html" ? renderItem(item, options) : renderPlain(item, options)),
  },
  digest: {
    // A chat's digests, in order, taking turns with its feeds.
    lane: () => "digest",
    render: (payload, form, options) => renderDigest(payload, form, options),
  },
};

/** The kind of `payload`: its members typed by their own payload (TypeScript cannot tie a lookup by tag to it). */
const kindOf = <P extends Payload>(payload: P): PayloadKind<P> => kinds[payload.kind] as unknown as PayloadKind<P>;

export const laneOf = (payload: Payload): string => kindOf(payload).lane(payload);

/**
 * The story a payload reports, when it is one source of a story: a chat that holds a message of
 * the story gets that message edited to name this source, instead of a message of its own.
 */
export function storyOf(payload: Payload): { storyId: string; item: Item } | undefined {
  return payload.kind === "item" && payload.item.storyId !== undefined ? { storyId: payload.item.storyId, item: payload.item } : undefined;
}

export const renderPayload = (payload: Payload, form: MessageForm, options: RenderOptions): RenderedMessage =>
  kindOf(payload).render(payload, form, options);

/**
 * Each payload's messages, rendered once per form, locale and kind of chat, not once per
 * recipient; kept while the payload is (a broadcast's jobs hold it).
 */
export class Renderings {
  private readonly cache = new WeakMap<Payload, Map<string, RenderedMessage>>();

  of(payload: Payload, form: MessageForm, options: RenderOptions): RenderedMessage {
    let forms = this.cache.get(payload);
    if (!forms) this.cache.set(payload, (forms = new Map()));
    const key = `${form}:${options.locale}:${options.share === true}`;
    let message = forms.get(key);
    if (!message) forms.set(key, (message = renderPayload(payload, form, options)));
    return message;
  }
}
