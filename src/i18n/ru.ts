import type { Messages } from "./i18n.js";

/** The Russian form for `count`: one (1, 21…), few (2–4, 22–24…), many (the rest, 11–14 too). */
function plural(count: number, one: string, few: string, many: string): string {
  const tens = count % 100;
  const units = count % 10;
  if (tens >= 11 && tens <= 14) return many;
  if (units === 1) return one;
  return units >= 2 && units <= 4 ? few : many;
}

/** Russian. */
export const ru: Messages = {
  readMore: "Читать",
  alsoIn: "Также пишут",
  start: (name: string) =>
    `Привет, ${name}! Я <b>newswire</b>: присылаю краткое изложение каждой новой статьи по темам, на которые вы подписаны.\n\n` +
    "Выберите темы ниже или командой /subscribe, свежие статьи — /latest, все команды — /help.",
  help: [
    "/start: что умеет бот и меню тем",
    "/help: этот список",
    "/topics: темы с кнопками подписки",
    "/subscribe ТЕМА…: подписать этот чат (all — всё подряд)",
    "/unsubscribe ТЕМА…: отписаться; /unsubscribe all — от всего",
    "/subscriptions: темы и настройки этого чата",
    "/latest [N] [ТЕМА]: N свежих статей (по умолчанию 5, не больше 20)",
    "/digest off|hourly|daily ЧЧ:ММ|weekly [ЧЧ:ММ]: собирать новости и присылать вместе (weekly — по понедельникам)",
    "/timezone ЗОНА: часовой пояс чата для дайджестов и тихих часов, например Europe/Moscow",
    "/quiet ЧЧ:ММ-ЧЧ:ММ [hold|silent] или /quiet off: тихие часы (hold — одним дайджестом после них, silent — без звука)",
    "/channel add @КАНАЛ ТЕМА…: публиковать темы в вашем канале (в личном чате со мной)",
    "/channel home @КАНАЛ ТЕМА…: то же, и подписчики этих тем получают посты канала пересылкой",
    "/channel remove @КАНАЛ: отвязать канал",
    "/channels: привязанные вами каналы",
    "/status: ленты, ошибки и очереди (для админов бота)",
  ],
  commands: {
    start: "Что умеет бот",
    help: "Все команды",
    topics: "Темы с кнопками",
    subscribe: "Подписаться на темы",
    unsubscribe: "Отписаться от тем",
    subscriptions: "Подписки этого чата",
    latest: "Свежие статьи",
    digest: "Дайджесты вместо отдельных новостей",
    timezone: "Часовой пояс чата",
    quiet: "Тихие часы",
    channel: "Привязать или отвязать канал",
    channels: "Привязанные каналы",
    status: "Ленты и очереди (админы)",
  },
  topicsHeader: "Темы (нажмите, чтобы подписаться или отписаться):",
  topicsNone: "Темы пока не настроены; /subscribe all — все статьи.",
  subscribeUsage: (topics: string) => `Укажите одну или несколько тем: /subscribe ТЕМА…\nТемы: ${topics}`,
  unsubscribeUsage: "Укажите темы или all: /unsubscribe ТЕМА…",
  unknownTopics: (unknown: string, valid: string) => `Неизвестная тема: ${unknown}.\nДоступные темы: ${valid}`,
  andMore: (count: number) => `… и ещё ${count}`,
  subscribed: (topics: string) => `Подписка оформлена: ${topics}.`,
  alreadySubscribed: (topics: string) => `Вы уже подписаны: ${topics}.`,
  unsubscribed: (topics: string) => `Подписка отменена: ${topics}.`,
  notSubscribed: (topics: string) => `Подписки не было: ${topics}.`,
  noSubscriptions: "Этот чат ни на что не подписан. /topics или /subscribe ТЕМА, чтобы начать.",
  subscriptions: (topics: string, language: string) => `Этот чат подписан на: ${topics}\nЯзык: ${language}`,
  groupAdminsOnly: "Менять подписки группы могут только её администраторы.",
  latestUsage: (topics: string) => `Использование: /latest [N] [ТЕМА], N от 1 до 20.\nТемы: ${topics}`,
  latestNone: "Здесь пока ничего не опубликовано. Попробуйте после следующего опроса лент.",
  internalError: "У меня что-то сломалось; ошибка записана в журнал. Попробуйте ещё раз.",
  notSaved: "Не удалось сохранить: моё хранилище сейчас не работает, поэтому ничего не изменилось. Попробуйте ещё раз через несколько минут.",
  adminOnly: "Эта команда — для администраторов бота (ADMIN_IDS).",
  statusStoreOk: "<b>Хранилище</b>: ✅",
  statusStoreFailing: (count: number, unit: "s" | "m" | "h", failures: number, error: string) =>
    `<b>Хранилище</b>: ❌ сбоит уже ${count} ${{ s: "с", m: "мин", h: "ч" }[unit]} (неудачных обращений: ${failures}): ${error}`,
  statusFeedsShown: (shown: number, feeds: number, failing: number, limit: number) =>
    failing === 0
      ? `Лент: ${feeds}, все в порядке; по одной они не перечислены (при числе лент больше ${limit} перечисляются только сбойные).`
      : `Сбойных лент: ${failing} из ${feeds}; ниже ${shown === failing ? "перечислены все они" : `перечислены ${shown} с наибольшим числом сбоев подряд`}.`,
  statusBudget: (replies: number, alerts: number, broadcasts: number, tooManyRequests: number, expired: number) =>
    `<b>Лимит Telegram</b>: выдано ответам ${replies}, уведомлениям ${alerts}, рассылке ${broadcasts}; ` +
    `ответов 429: ${tooManyRequests}; ответов и уведомлений, не отправленных в срок: ${expired}`,
  unknownCommand: "Такой команды я не знаю. Список — /help.",
  staleButton: "Кнопка устарела: такой темы больше нет. Отправьте /topics за свежим меню.",
  staleMenu: "Это меню устарело. Отправьте /topics за свежим.",
  allTopics: "Всё подряд",
  latestHeader: (count: number) => `Свежие (${count}):`,
  channelUsage: "Использование: /channel add @КАНАЛ ТЕМА…, /channel home @КАНАЛ ТЕМА… или /channel remove @КАНАЛ (в личном чате со мной).",
  notAChannel: (ref: string) => `${ref} — не канал.`,
  channelNotFound: (ref: string) => `Я не вижу ${ref}. Проверьте имя и сначала добавьте меня в канал администратором.`,
  channelUserNotAdmin: (title: string) => `Вы не администратор ${title}, поэтому не можете привязать или отвязать его.`,
  channelBotNotAdmin: (title: string, bot: string) => `Я не администратор ${title}. Добавьте @${bot} в администраторы канала с правом публиковать сообщения и повторите.`,
  channelBotCannotPost: (title: string) => `Я администратор ${title}, но не могу публиковать сообщения. Дайте мне право «Публикация сообщений» и повторите.`,
  channelLinked: (title: string, topics: string) => `Канал ${title} привязан: темы ${topics}.`,
  channelRemoved: (title: string) => `Канал ${title} отвязан: публикаций там больше не будет.`,
  channelNotLinked: (title: string) => `Канал ${title} не был привязан.`,
  channelsNone: "Вы не привязали ни одного канала. /channel add @КАНАЛ ТЕМА… — привязать.",
  channelLost: (title: string) => `Меня удалили из ${title} или лишили права публикации, поэтому привязка снята.`,
  digestHeader: (stories: number, part: number, parts: number) => `Дайджест: ${stories} ${plural(stories, "сюжет", "сюжета", "сюжетов")}${parts > 1 ? ` (${part}/${parts})` : ""}`,
  digestSources: (count: number) => `${count} ${plural(count, "источник", "источника", "источников")}`,
  digestOther: "Другое",
  digestMore: (count: number) => `… и ещё ${count} ${plural(count, "сюжет", "сюжета", "сюжетов")} с меньшим числом источников; свежие — в /latest.`,
  digestRhythm: (every: "hourly" | "daily" | "weekly", at: string) => (every === "hourly" ? "каждый час" : every === "daily" ? `ежедневно в ${at}` : `по понедельникам в ${at}`),
  digestUsage: (current: string) => `Использование: /digest off, /digest hourly, /digest daily ЧЧ:ММ или /digest weekly [ЧЧ:ММ] (по понедельникам).\nСейчас: ${current}.`,
  digestOffNow: "без дайджеста, новости приходят сразу",
  digestSet: (rhythm: string, zone: string) => `Дайджест ${rhythm} (${zone}): новости собираются и приходят вместе. /digest off — снова сразу.`,
  digestOff: "Дайджест выключен: новости приходят сразу.",
  subscribeFirst: "Этот чат ещё ни на что не подписан: сначала /subscribe, потом выберите, как получать новости.",
  timezoneUsage: (current: string) => `Использование: /timezone ЗОНА, название IANA, например Europe/Moscow, Asia/Almaty или America/New_York.\nСейчас: ${current}.`,
  timezoneUnknown: (name: string) => `Неизвестный часовой пояс: ${name}. Укажите название IANA, например Europe/Moscow, Asia/Almaty или America/New_York (UTC — без смещения).`,
  timezoneSet: (zone: string, time: string) => `Часовой пояс: ${zone} (там сейчас ${time}). Дайджесты и тихие часы идут по нему.`,
  quietUsage: (current: string) => `Использование: /quiet ЧЧ:ММ-ЧЧ:ММ [hold|silent], например /quiet 23:00-08:00, или /quiet off.\nhold (по умолчанию): новости ждут и приходят одним дайджестом, когда тихие часы кончатся; silent: приходят сразу, но без звука.\nСейчас: ${current}.`,
  quietNone: "тихих часов нет",
  quietHours: (from: string, to: string, silent: boolean) => `${from}–${to}, ${silent ? "без звука" : "новости ждут до конца"}`,
  quietSet: (hours: string, zone: string) => `Тихие часы ${hours} (${zone}).`,
  quietOff: "Тихие часы выключены.",
  scheduleSummary: (digest: string, zone: string, quiet: string) => `Дайджест: ${digest}\nЧасовой пояс: ${zone}\nТихие часы: ${quiet}`,
  share: "Поделиться",
  channelHome: (title: string, topics: string) => `Канал ${title} стал домом тем ${topics}: статьи публикуются там, а подписчики этих тем получают их пересылкой.`,
};
