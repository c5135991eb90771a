/** English: the reference catalog. */
export const en = {
  readMore: "Read",
  alsoIn: "Also in",
  start: (name: string) =>
    `Hi, ${name}! I am <b>newswire</b>: I send you a short summary of every new article on the topics you follow.\n\n` +
    "Pick topics below or with /subscribe, see the newest articles with /latest, all commands with /help.",
  help: [
    "/start: what this bot does, and the topic menu",
    "/help: this list",
    "/topics: the topics, with subscribe / unsubscribe buttons",
    "/subscribe TOPIC…: subscribe this chat (all = everything)",
    "/unsubscribe TOPIC…: the reverse; /unsubscribe all ends every subscription",
    "/subscriptions: this chat's topics and settings",
    "/latest [N] [TOPIC]: the N newest articles (5 by default, 20 at most)",
    "/channel add @CHANNEL TOPIC…: post topics into a channel you administer (in a private chat with me)",
    "/channel home @CHANNEL TOPIC…: the same, and subscribers of those topics get the channel's posts as forwards",
    "/channel remove @CHANNEL: unlink a channel",
    "/channels: the channels you linked",
    "/status: feeds, errors and queues (bot admins)",
  ],
  commands: {
    start: "What this bot does",
    help: "All commands",
    topics: "Topics with buttons",
    subscribe: "Subscribe to topics",
    unsubscribe: "Unsubscribe from topics",
    subscriptions: "This chat's subscriptions",
    latest: "The newest articles",
    channel: "Link or unlink a channel",
    channels: "Channels you linked",
    status: "Feeds and queues (admins)",
  },
  topicsHeader: "Topics (tap to subscribe or unsubscribe):",
  topicsNone: "No topics are configured yet; /subscribe all gives you every article.",
  subscribeUsage: (topics: string) => `Name one or more topics: /subscribe TOPIC…\nTopics: ${topics}`,
  unsubscribeUsage: "Name one or more topics, or all: /unsubscribe TOPIC…",
  unknownTopics: (unknown: string, valid: string) => `Unknown topic: ${unknown}.\nValid topics: ${valid}`,
  andMore: (count: number) => `… and ${count} more`,
  subscribed: (topics: string) => `Subscribed to ${topics}.`,
  alreadySubscribed: (topics: string) => `Already subscribed to ${topics}.`,
  unsubscribed: (topics: string) => `Unsubscribed from ${topics}.`,
  notSubscribed: (topics: string) => `Not subscribed to ${topics}.`,
  noSubscriptions: "This chat follows no topics. /topics or /subscribe TOPIC to start.",
  subscriptions: (topics: string, language: string) => `This chat follows: ${topics}\nLanguage: ${language}`,
  groupAdminsOnly: "Only this group's admins can change its subscriptions.",
  latestUsage: (topics: string) =>
    `Usage: /latest [N] [TOPIC], N from 1 to 20.\nTopics: ${topics}`,
  latestNone: "Nothing has been published here yet. Try again after the next poll.",
  internalError: "Something went wrong on my side; it has been logged. Please try again.",
  notSaved: "That could not be saved: my storage is failing right now, so nothing was changed. Please try again in a few minutes.",
  adminOnly: "This command is for the bot's admins (ADMIN_IDS).",
  statusStoreOk: "<b>Store</b>: ✅",
  /** `unit` of `count`: s, m, h; `error` is HTML-escaped by the caller. */
  statusStoreFailing: (count: number, unit: "s" | "m" | "h", failures: number, error: string) =>
    `<b>Store</b>: ❌ failing since ${count}${unit} ago (${failures} failed calls): ${error}`,
  /** More feeds than /status lists one by one: it lists `shown` of the `failing` failing ones. */
  statusFeedsShown: (shown: number, feeds: number, failing: number, limit: number) =>
    failing === 0
      ? `All ${feeds} feeds are well; none is listed one by one (only the failing are, when there are more than ${limit} feeds).`
      : `${failing} of ${feeds} feeds are failing; ${shown === failing ? "each is" : `the ${shown} with the most failures in a row are`} listed below.`,
  statusBudget: (replies: number, alerts: number, broadcasts: number, tooManyRequests: number, expired: number) =>
    `<b>Telegram budget</b>: ${replies} replies, ${alerts} alerts, ${broadcasts} broadcasts granted; ` +
    `429s: ${tooManyRequests}; replies and alerts dropped unsent: ${expired}`,
  unknownCommand: "I don't know that command. /help lists the ones I do.",
  staleButton: "This button is out of date: that topic no longer exists. Send /topics for a fresh menu.",
  staleMenu: "This menu is out of date. Send /topics for a fresh one.",
  allTopics: "Everything",
  latestHeader: (count: number) => `The ${count} newest:`,
  channelUsage: "Usage: /channel add @CHANNEL TOPIC…, /channel home @CHANNEL TOPIC… or /channel remove @CHANNEL (in a private chat with me).",
  notAChannel: (ref: string) => `${ref} is not a channel.`,
  channelNotFound: (ref: string) => `I can't see ${ref}. Check the name, and add me to the channel as an admin first.`,
  channelUserNotAdmin: (title: string) => `You are not an admin of ${title}, so you can't link or unlink it.`,
  channelBotNotAdmin: (title: string, bot: string) => `I am not an admin of ${title}. Add @${bot} to the channel's admins with the right to post messages, then try again.`,
  channelBotCannotPost: (title: string) => `I am an admin of ${title} but may not post messages. Give me the "Post messages" right, then try again.`,
  channelLinked: (title: string, topics: string) => `Linked ${title}: it now receives ${topics}.`,
  channelRemoved: (title: string) => `Unlinked ${title}: nothing more will be posted there.`,
  channelNotLinked: (title: string) => `${title} was not linked.`,
  channelsNone: "You have linked no channels. /channel add @CHANNEL TOPIC… links one.",
  channelLost: (title: string) => `I was removed from ${title} or may no longer post there, so its link has ended.`,
  share: "Share",
  channelHome: (title: string, topics: string) => `Linked ${title} as the home of ${topics}: items are posted there and subscribers of these topics get them as forwards.`,
};
