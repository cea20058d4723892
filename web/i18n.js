// i18n.js — every string the pages show, in English and Simplified Chinese,
// and the little machinery that puts them on the page.
//
// - The HTML carries the English text as a fallback plus data-i18n="key" (the
//   element's text) and data-i18n-label="key" (its aria-label); applyI18n()
//   rewrites them in the chosen language.
// - Page scripts never write user-visible text directly: setText(el, key, vars)
//   remembers the key and its variables on the element (data-i18n,
//   data-i18n-vars), so switching the language later re-renders dynamic text
//   (status lines, session lists, results) without the page's help.
// - The language: localStorage "qrlogin.lang" if the visitor chose one with the
//   switch, else the first of navigator.languages that we have, else English.

const STORAGE_KEY = 'qrlogin.lang';
export const LANGS = Object.freeze(['en', 'zh-CN']);

const plural = (n, one, many) => (Number(n) === 1 ? one : many);

const en = {
  raw: '{x}',
  'lang.group': 'Language',

  'conn.connecting': 'Connecting…',
  'conn.live': 'Live',
  'conn.offline': 'Offline — reconnecting…',

  // PC login page
  'pc.title': 'Sign in — qrlogin',
  'pc.h1': 'Sign in with your phone',
  'pc.step1': 'Open the camera on your phone (or the qrlogin app).',
  'pc.step2': 'Point it at the code on this screen.',
  'pc.step3': 'Check that the details match this computer, then tap “Confirm”.',
  'pc.status.connecting': 'Connecting…',
  'pc.status.getting': 'Getting a sign-in code…',
  'pc.status.waiting': 'Waiting for your phone… Scan the code to sign in.',
  'pc.status.scanned': 'Scanned by {name} — confirm on your phone',
  'pc.status.scannedAnon': 'Scanned — confirm on your phone',
  'pc.status.signedIn': 'Signed in',
  'pc.status.denied': 'Denied on the phone',
  'pc.status.expired': 'Code expired',
  'pc.status.failed': 'Could not get a sign-in code. Please try again.',
  'pc.status.lost': 'Connection lost — reconnecting…',
  'pc.detail.waiting': 'The code refreshes by itself while you wait.',
  'pc.detail.scanned': 'Check the details on your phone, then tap “Confirm” there.',
  'pc.detail.signedIn': 'Opening your account…',
  'pc.detail.denied': 'Nobody was signed in. Get a new code to try again.',
  'pc.detail.expired': 'Nobody scanned it in time. Get a new code to try again.',
  'pc.detail.failed': '',
  'pc.detail.lost': 'A new code appears as soon as the connection is back.',
  'pc.overlay.scanned': 'Scanned',
  'pc.overlay.signedIn': 'Signed in',
  'pc.newCode': 'Get a new code',
  'pc.already': 'This computer is already signed in.',
  'pc.goApp': 'Go to the app',
  'pc.qrTitle': 'Sign-in code',
  'pc.loading': 'Loading code…',
  'pc.qrAlt': 'QR code: scan it with your phone to sign in',
  'pc.qrBroken': 'The code could not be drawn.',
  'pc.codeLabel': 'Your phone will ask for this number',
  'pc.ticketLink': 'Open the phone page on this computer',

  // phone page
  'phone.title': 'qrlogin on your phone',
  'phone.loading': 'Connecting…',
  'phone.loadingHint': 'One moment, please.',
  'phone.signin.h1': 'Sign in',
  'phone.signin.hint': 'Sign in to approve the computer that showed you this code.',
  'phone.signin.username': 'Username',
  'phone.signin.password': 'Password',
  'phone.signin.submit': 'Sign in',
  'phone.signin.empty': 'Enter your username and password.',
  'phone.signin.wrong': 'Wrong username or password.',
  'phone.signin.rate': 'Too many attempts. Try again in {n} seconds.',
  'phone.signin.offline': 'No connection to the server. Please try again.',
  'phone.signin.failed': 'Sign-in failed ({code}).',
  'phone.signin.external': 'The app could not sign you in ({code}).',
  'phone.authRetry': 'Could not sign in ({code}). Retrying…',
  'reason.logout_all': 'You were signed out on all devices. Sign in again to continue.',
  'reason.refresh_reused': 'For your safety this phone was signed out. Please sign in again.',
  'reason.revoked': 'This phone’s sign-in was revoked. Please sign in again.',
  'reason.signout': 'You are signed out.',
  'reason.elsewhere': 'You signed out in another tab.',
  'reason.token_expired': 'Your sign-in has expired. Please sign in again.',
  'reason.other': 'Please sign in again.',

  'ticket.h1': 'Sign in on a computer?',
  'ticket.checking': 'Checking the code…',
  'ticket.warn': 'Only confirm if you are signing in on this computer right now.',
  'ticket.browser': 'Browser',
  'ticket.system': 'System',
  'ticket.name': 'Name',
  'ticket.ip': 'IP address',
  'ticket.requested': 'Requested at',
  'ticket.left': 'Time left',
  'ticket.fullUa': 'Full browser description',
  'ticket.uaMissing': 'not sent',
  'ticket.ipUnknown': 'unknown',
  'ticket.pickNumber': 'Tap the number shown on the computer',
  'ticket.deny': 'Deny',
  'ticket.confirm': 'Confirm',
  'ticket.done': 'Done',
  'ticket.confirmed': 'Confirmed. The computer is signing in now.',
  'ticket.denied': 'Denied. The computer was not signed in.',
  'ticket.expired': 'This code has expired — get a new one on the computer.',
  'ticket.notFound': 'This code is no longer valid — get a new one on the computer.',
  'ticket.mismatch': 'That was the wrong number, so this sign-in was cancelled for safety. Get a new code on the computer.',
  'ticket.conflict': 'This code was already scanned by another account.',
  'ticket.tooManyCodes': 'Too many wrong codes. Try again in {n} seconds.',
  'ticket.cancelled': 'The computer cancelled',
  'ticket.dropped': 'The connection dropped before the answer arrived. If the computer did not change, get a new code there.',
  'ticket.error': 'Something went wrong ({code}). Get a new code on the computer.',

  'account.h1': 'Your account',
  'account.signedInAs': 'Signed in as',
  'account.devices': 'Signed-in devices',
  'account.enterCode': 'Code shown on a device',
  'account.enterCodeGo': 'Continue',
  'account.reload': 'Refresh',
  'account.loading': 'Loading devices…',
  'account.count': (v) => plural(v.n, '1 device is signed in.', `${v.n} devices are signed in.`),
  'account.loadFailed': 'Could not load devices ({code}).',
  'account.kind.web': 'Computer (web)',
  'account.kind.app': 'Phone (app)',
  'account.kind.other': 'Device',
  'account.thisDevice': 'this device',
  'account.ipUnknown': 'unknown IP',
  'account.signedInFrom': 'Signed in from {device}, {ip} at {time}',
  'account.signedInAt': 'Signed in {time}',
  'account.lastUsed': 'Last used {ago}',
  'account.revoke': 'Revoke',
  'account.revokeLabel': 'Revoke {device}',
  'account.revokeLabelCurrent': 'Revoke {device} (this device)',
  'account.revokeFailed': 'Could not revoke ({code}).',
  'account.history': 'Recent approvals',
  'account.historyEmpty': 'No sign-in decisions yet.',
  'account.outcome.confirmed': 'Approved',
  'account.outcome.denied': 'Denied',
  'account.outcome.code_mismatch': 'Wrong number',
  'account.outcome.other': 'Decided',
  'account.historyItem': '{device}, {ip} — {time}',
  'account.logoutAll': 'Log out everywhere',
  'account.logoutAllAsk': 'Sign out every device of this account, including this phone?',
  'account.logoutAllFailed': 'Could not sign out everywhere ({code}).',
  'account.signout': 'Sign out of this phone',

  'time.unknown': 'unknown',
  'time.justNow': 'just now',
  'time.minAgo': '{n} min ago',
  'time.hAgo': '{n} h ago',

  // app page
  'app.title': 'Signed in — qrlogin',
  'app.signedInAs': 'Signed in as',
  'app.session': 'This session',
  'app.ttl': 'Access token expires in',
  'app.sid': 'Session',
  'app.refreshes': 'Refreshes made by this tab',
  'app.expired': 'expired',
  'app.autoNote': 'The token is refreshed automatically at 80 % of its life; other open tabs share the new one.',
  'app.logout': 'Log out',
  'app.demo': 'Refresh demo',
  'app.demoText': 'This first replaces the stored access token with a stale, expired-looking one, then sends five /api/me calls at once. Each call gets 401; the client should refresh the token once and retry all five with the new one.',
  'app.burst': 'Fire 5 API calls',
  'app.running': 'Running…',
  'app.burstResult': (v) => `${v.calls} calls, ${v.n} ${plural(v.n, 'refresh', 'refreshes')}`,
  'app.burstAllOk': 'All 5 calls succeeded.',
  'app.burstSome': '{ok} of 5 calls succeeded.',

  'device.unknown': 'Unknown device',
  'device.unknownBrowser': 'Unknown browser',
  'device.unknownOs': 'Unknown system',
  'device.label': '{browser} on {os}',
};

const zh = {
  'lang.group': '语言',

  'conn.connecting': '正在连接…',
  'conn.live': '已连接',
  'conn.offline': '连接已断开，正在重连…',

  'pc.title': '登录 — qrlogin',
  'pc.h1': '用手机扫码登录',
  'pc.step1': '打开手机相机（或 qrlogin 应用）。',
  'pc.step2': '对准这块屏幕上的二维码。',
  'pc.step3': '核对手机上显示的电脑信息，然后点“确认”。',
  'pc.status.connecting': '正在连接…',
  'pc.status.getting': '正在获取登录二维码…',
  'pc.status.waiting': '等待手机扫码… 扫描二维码即可登录。',
  'pc.status.scanned': '{name} 已扫码，请在手机上确认',
  'pc.status.scannedAnon': '已扫码，请在手机上确认',
  'pc.status.signedIn': '已登录',
  'pc.status.denied': '已在手机上拒绝',
  'pc.status.expired': '二维码已过期',
  'pc.status.failed': '无法获取登录二维码，请重试。',
  'pc.status.lost': '连接已断开，正在重连…',
  'pc.detail.waiting': '等待期间二维码会自动刷新。',
  'pc.detail.scanned': '请在手机上核对信息，然后点“确认”。',
  'pc.detail.signedIn': '正在打开您的账户…',
  'pc.detail.denied': '没有登录任何账户。获取新的二维码即可重试。',
  'pc.detail.expired': '二维码未在有效期内被扫描。获取新的二维码即可重试。',
  'pc.detail.failed': '',
  'pc.detail.lost': '连接恢复后会立即显示新的二维码。',
  'pc.overlay.scanned': '已扫码',
  'pc.overlay.signedIn': '已登录',
  'pc.newCode': '获取新二维码',
  'pc.already': '这台电脑已经登录。',
  'pc.goApp': '进入应用',
  'pc.qrTitle': '登录二维码',
  'pc.loading': '正在加载二维码…',
  'pc.qrAlt': '二维码：用手机扫描即可登录',
  'pc.qrBroken': '二维码无法显示。',
  'pc.codeLabel': '手机会让您选择这个数字',
  'pc.ticketLink': '在这台电脑上打开手机页面',

  'phone.title': '手机上的 qrlogin',
  'phone.loading': '正在连接…',
  'phone.loadingHint': '请稍候。',
  'phone.signin.h1': '登录',
  'phone.signin.hint': '登录后即可批准显示此二维码的电脑。',
  'phone.signin.username': '用户名',
  'phone.signin.password': '密码',
  'phone.signin.submit': '登录',
  'phone.signin.empty': '请输入用户名和密码。',
  'phone.signin.wrong': '用户名或密码错误。',
  'phone.signin.rate': '尝试次数过多，请在 {n} 秒后重试。',
  'phone.signin.offline': '无法连接服务器，请重试。',
  'phone.signin.failed': '登录失败（{code}）。',
  'phone.signin.external': '应用无法为您登录（{code}）。',
  'phone.authRetry': '无法登录（{code}），正在重试…',
  'reason.logout_all': '您已在所有设备上退出。请重新登录以继续。',
  'reason.refresh_reused': '为了您的安全，这部手机已退出登录。请重新登录。',
  'reason.revoked': '这部手机的登录已被撤销。请重新登录。',
  'reason.signout': '您已退出登录。',
  'reason.elsewhere': '您已在另一个标签页中退出。',
  'reason.token_expired': '登录已过期，请重新登录。',
  'reason.other': '请重新登录。',

  'ticket.h1': '在电脑上登录？',
  'ticket.checking': '正在核对二维码…',
  'ticket.warn': '只有当您此刻正在这台电脑上登录时才确认。',
  'ticket.browser': '浏览器',
  'ticket.system': '系统',
  'ticket.name': '名称',
  'ticket.ip': 'IP 地址',
  'ticket.requested': '请求时间',
  'ticket.left': '剩余时间',
  'ticket.fullUa': '完整的浏览器标识',
  'ticket.uaMissing': '未提供',
  'ticket.ipUnknown': '未知',
  'ticket.pickNumber': '点按电脑上显示的数字',
  'ticket.deny': '拒绝',
  'ticket.confirm': '确认',
  'ticket.done': '完成',
  'ticket.confirmed': '已确认，电脑正在登录。',
  'ticket.denied': '已拒绝，电脑没有登录。',
  'ticket.expired': '二维码已过期，请在电脑上获取新的二维码。',
  'ticket.notFound': '二维码已失效，请在电脑上获取新的二维码。',
  'ticket.mismatch': '数字选错了，为安全起见本次登录已取消。请在电脑上获取新的二维码。',
  'ticket.conflict': '此二维码已被另一个账户扫描。',
  'ticket.tooManyCodes': '输错的代码太多，请在 {n} 秒后重试。',
  'ticket.cancelled': '电脑已取消',
  'ticket.dropped': '在收到回复前连接已断开。如果电脑没有变化，请在电脑上获取新的二维码。',
  'ticket.error': '出错了（{code}）。请在电脑上获取新的二维码。',

  'account.h1': '您的账户',
  'account.signedInAs': '当前登录账户',
  'account.devices': '已登录的设备',
  'account.enterCode': '设备上显示的代码',
  'account.enterCodeGo': '继续',
  'account.reload': '刷新',
  'account.loading': '正在加载设备…',
  'account.count': (v) => `已登录 ${v.n} 台设备。`,
  'account.loadFailed': '无法加载设备（{code}）。',
  'account.kind.web': '电脑（网页）',
  'account.kind.app': '手机（应用）',
  'account.kind.other': '设备',
  'account.thisDevice': '本机',
  'account.ipUnknown': 'IP 未知',
  'account.signedInFrom': '{time} 从 {device}（{ip}）登录',
  'account.signedInAt': '登录于 {time}',
  'account.lastUsed': '最近使用：{ago}',
  'account.revoke': '撤销',
  'account.revokeLabel': '撤销 {device}',
  'account.revokeLabelCurrent': '撤销 {device}（本机）',
  'account.revokeFailed': '无法撤销（{code}）。',
  'account.history': '最近的登录确认',
  'account.historyEmpty': '还没有登录记录。',
  'account.outcome.confirmed': '已批准',
  'account.outcome.denied': '已拒绝',
  'account.outcome.code_mismatch': '数字错误',
  'account.outcome.other': '已处理',
  'account.historyItem': '{device}，{ip} — {time}',
  'account.logoutAll': '在所有设备上退出',
  'account.logoutAllAsk': '要让此账户的所有设备（包括这部手机）都退出登录吗？',
  'account.logoutAllFailed': '无法在所有设备上退出（{code}）。',
  'account.signout': '在这部手机上退出',

  'time.unknown': '未知',
  'time.justNow': '刚刚',
  'time.minAgo': '{n} 分钟前',
  'time.hAgo': '{n} 小时前',

  'app.title': '已登录 — qrlogin',
  'app.signedInAs': '当前登录账户',
  'app.session': '本次会话',
  'app.ttl': '访问令牌剩余有效期',
  'app.sid': '会话',
  'app.refreshes': '本标签页的刷新次数',
  'app.expired': '已过期',
  'app.autoNote': '令牌会在有效期过去 80% 时自动刷新；其他打开的标签页共用新令牌。',
  'app.logout': '退出登录',
  'app.demo': '刷新演示',
  'app.demoText': '先把保存的访问令牌换成一个已过期的旧令牌，再同时发出五个 /api/me 请求。每个请求都会得到 401；客户端应只刷新一次令牌，并用新令牌重试这五个请求。',
  'app.burst': '同时发出 5 个 API 请求',
  'app.running': '正在运行…',
  'app.burstResult': (v) => `${v.calls} 个请求，${v.n} 次刷新`,
  'app.burstAllOk': '5 个请求全部成功。',
  'app.burstSome': '5 个请求中有 {ok} 个成功。',

  'device.unknown': '未知设备',
  'device.unknownBrowser': '未知浏览器',
  'device.unknownOs': '未知系统',
  'device.label': '{os} 上的 {browser}',
};

const DICTS = { en, 'zh-CN': zh };

function storedLang() {
  try {
    const v = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null;
  }
}

/** The first of the browser's languages we have (any zh-* is served zh-CN). */
export function detectLang(list = (typeof navigator !== 'undefined' && navigator.languages) || []) {
  const prefs = [...list];
  if (!prefs.length && typeof navigator !== 'undefined' && navigator.language) prefs.push(navigator.language);
  for (const raw of prefs) {
    const l = String(raw).toLowerCase();
    if (l === 'zh' || l.startsWith('zh-')) return 'zh-CN';
    if (l === 'en' || l.startsWith('en-')) return 'en';
  }
  return 'en';
}

let lang = storedLang() || detectLang();
const hooks = new Set();

export function currentLang() { return lang; }

function fmtTime(ms, style) {
  const d = new Date(ms);
  if (style === 'clock') return d.toLocaleTimeString(lang, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return d.toLocaleString(lang, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Server timestamps are ms since the epoch; values below 10^12 are seconds. */
export function toMs(v) {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) return null;
  return n < 1e12 ? n * 1000 : n;
}

/**
 * A variable's display form. Plain strings and numbers stay as they are;
 *   {k: key, v: vars}        → t(key, vars)  (a translated piece)
 *   {time: ms, style}        → a local date/time in the current language
 *   {ago: ms, off: clockOff} → "3 min ago" measured against the server clock
 */
function fmtVar(v) {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'object') return String(v);
  if (typeof v.k === 'string') return t(v.k, v.v);
  if ('time' in v) {
    const ms = toMs(v.time);
    return ms === null ? t('time.unknown') : fmtTime(ms, v.style);
  }
  if ('ago' in v) {
    const ms = toMs(v.ago);
    if (ms === null) return t('time.unknown');
    const s = Math.round((Date.now() + (Number(v.off) || 0) - ms) / 1000);
    if (s < 60) return t('time.justNow');
    if (s < 3600) return t('time.minAgo', { n: Math.floor(s / 60) });
    if (s < 86400) return t('time.hAgo', { n: Math.floor(s / 3600) });
    return fmtTime(ms);
  }
  return '';
}

/** The string for key in the current language (English if missing there). */
export function t(key, vars = {}) {
  const entry = DICTS[lang][key] ?? en[key];
  if (entry === undefined) return key;
  const shown = {};
  for (const [name, value] of Object.entries(vars || {})) shown[name] = fmtVar(value);
  if (typeof entry === 'function') return entry(shown);
  return entry.replace(/\{(\w+)\}/g, (m, name) => (name in shown ? shown[name] : m));
}

/** Set el's text from key (and remember it, so a language switch re-renders it). */
export function setText(el, key, vars) {
  if (!el) return;
  el.dataset.i18n = key;
  if (vars && Object.keys(vars).length) el.dataset.i18nVars = JSON.stringify(vars);
  else delete el.dataset.i18nVars;
  el.textContent = t(key, vars);
}

/** Set el's aria-label from key, remembered like setText. */
export function setLabel(el, key, vars) {
  if (!el) return;
  el.dataset.i18nLabel = key;
  if (vars && Object.keys(vars).length) el.dataset.i18nLabelVars = JSON.stringify(vars);
  else delete el.dataset.i18nLabelVars;
  el.setAttribute('aria-label', t(key, vars));
}

/** Set el's text to one variable (a device label, a time…). */
export function setVarText(el, v) {
  setText(el, 'raw', { x: v });
}

/** Remove the text and forget its key. */
export function clearText(el) {
  if (!el) return;
  delete el.dataset.i18n;
  delete el.dataset.i18nVars;
  el.textContent = '';
}

function readVars(json) {
  if (!json) return undefined;
  try { return JSON.parse(json); } catch { return undefined; }
}

/** Render every [data-i18n] / [data-i18n-label] under root in the current language. */
export function applyI18n(root = document) {
  document.documentElement.lang = lang;
  for (const el of root.querySelectorAll('[data-i18n]')) {
    el.textContent = t(el.dataset.i18n, readVars(el.dataset.i18nVars));
  }
  for (const el of root.querySelectorAll('[data-i18n-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nLabel, readVars(el.dataset.i18nLabelVars)));
  }
  for (const b of root.querySelectorAll('[data-lang]')) {
    b.setAttribute('aria-pressed', String(b.dataset.lang === lang));
  }
}

/** Switch language (persisted), re-render, tell the page. */
export function setLang(next, { persist = true } = {}) {
  if (!LANGS.includes(next)) return;
  if (persist) {
    try { localStorage.setItem(STORAGE_KEY, next); } catch { /* private mode: this page only */ }
  }
  if (next === lang) return;
  lang = next;
  applyI18n();
  for (const fn of [...hooks]) { try { fn(lang); } catch (e) { console.error(e); } }
}

/** fn(lang) after every language switch. */
export function onLangChange(fn) { hooks.add(fn); return () => hooks.delete(fn); }

/** "Chrome on Linux" as a translatable variable. */
export function deviceVar(ua) {
  if (!ua || (!ua.browserKnown && !ua.osKnown)) return { k: 'device.unknown' };
  if (!ua.osKnown) return ua.browser;
  if (!ua.browserKnown) return ua.os;
  return { k: 'device.label', v: { browser: ua.browser, os: ua.os } };
}

function init() {
  if (typeof document === 'undefined') return;
  applyI18n();
  for (const b of document.querySelectorAll('[data-lang]')) {
    b.addEventListener('click', () => setLang(b.dataset.lang));
  }
  // Another tab switched: follow it.
  addEventListener('storage', (ev) => {
    if (ev.key === STORAGE_KEY && LANGS.includes(ev.newValue)) setLang(ev.newValue, { persist: false });
  });
}

init();
