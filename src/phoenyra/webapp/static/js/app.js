// Shared by every page: the CSRF-aware API helper, translations, toasts, the clock, the
// connection indicator, number formatting and the number ticker.
(function () {
  "use strict";

  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = meta ? meta.content : "";
  const i18nNode = document.getElementById("phx-i18n");
  const strings = i18nNode ? JSON.parse(i18nNode.textContent) : {};
  const lang = document.documentElement.lang || "en";
  const locale = lang === "de" ? "de-AT" : "en-GB";
  // Numbers as the server writes them in its sentences (1.000,5 in German; de-AT would group
  // with spaces), so a figure reads the same in the form and in the exchange's answer.
  const numberLocale = lang === "de" ? "de-DE" : "en-GB";
  // Asked on first use: evaluating a media query forces a style pass, which at start-up would
  // delay the page becoming interactive.
  let motionQuery = null;
  const reducedMotion = () =>
    (motionQuery || (motionQuery = window.matchMedia("(prefers-reduced-motion: reduce)"))).matches;

  function t(key, vars) {
    let s = strings[key] || key;
    if (vars) for (const [k, v] of Object.entries(vars)) s = s.replace("{" + k + "}", v);
    return s;
  }
  // The catalogue's words for a key, or null when it has none (t answers the key itself).
  const known = (key) => (strings[key] === undefined ? null : t(key));
  // A count in a sentence: the catalogue holds key_one and key_other (ngettext's forms for 1
  // and for many), chosen by the language's plural rule.
  let pluralRules = null;
  function tn(key, n, vars) {
    const rule = (pluralRules || (pluralRules = new Intl.PluralRules(lang))).select(n);
    const form = strings[key + "_" + rule] !== undefined ? key + "_" + rule : key + "_other";
    return t(form, Object.assign({ n: num(n, 0) }, vars || {}));
  }
  // An order status in words ("Partially filled"), as the exchange's code when not known.
  const statusLabel = (status) => strings["status_" + status] || String(status).replace(/_/g, " ");

  class ApiError extends Error {
    constructor(status, code, message, details) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details || {}; // the error object's figures beside code and message
    }
  }

  // fetch with the session cookie and the CSRF header; JSON in and out. Errors carry the
  // exchange's (or web app's) code and sentence, so they can be shown as they are.
  async function api(path, options) {
    const opts = Object.assign({ credentials: "same-origin" }, options || {});
    opts.headers = Object.assign({ "X-CSRFToken": csrfToken, Accept: "application/json" }, opts.headers || {});
    if (opts.json !== undefined) {
      opts.body = JSON.stringify(opts.json);
      opts.headers["Content-Type"] = "application/json";
      delete opts.json;
    }
    let response;
    try {
      response = await fetch(path, opts);
    } catch (err) {
      throw new ApiError(0, "NETWORK", t("request_failed") + ": " + err.message);
    }
    const text = await response.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const e = (body && body.error) || {};
      throw new ApiError(response.status, e.code || String(response.status), e.message || body?.message || text || response.statusText, e);
    }
    return body;
  }

  // The language switch keeps the page's place (the telemetry page's tab, #mqtt): a browser
  // keeps a link's fragment across the redirect back to the page.
  for (const a of document.querySelectorAll("a[hreflang]")) {
    a.addEventListener("click", () => {
      a.href = a.href.split("#")[0] + location.hash;
    });
  }

  // ---- toasts (the flash messages of pages that answer without a reload) ----------------
  const flashList = document.getElementById("flash");
  function toast(category, message, ms) {
    if (!flashList) return;
    const li = document.createElement("li");
    li.className = "toast toast-" + category + " flash flash-" + category;
    const icon = document.createElement("i");
    icon.className = "fa-solid mt-0.5 " + (category === "error" ? "fa-circle-exclamation text-sell" : category === "info" ? "fa-circle-info text-gold" : "fa-circle-check text-buy");
    icon.setAttribute("aria-hidden", "true");
    const span = document.createElement("span");
    span.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", flashList.dataset.dismiss || "Dismiss");
    const x = document.createElement("i");
    x.className = "fa-solid fa-xmark";
    x.setAttribute("aria-hidden", "true");
    close.append(x);
    li.append(icon, span, close);
    flashList.append(li);
    setTimeout(() => li.remove(), ms || (category === "error" ? 12000 : 6000));
  }
  if (flashList) {
    // Server-rendered flashes fade out too, so they do not cover the page all day.
    for (const li of flashList.children) setTimeout(() => li.remove(), 10000);
    // A tap or click anywhere on a toast dismisses it (its close button too, from the
    // keyboard), unless it ends selecting the toast's text.
    flashList.addEventListener("click", (ev) => {
      const li = ev.target.closest(".toast");
      if (!li) return;
      const sel = window.getSelection();
      if (!ev.target.closest(".toast-close") && sel && !sel.isCollapsed && li.contains(sel.anchorNode)) return;
      li.remove();
    });
  }

  // ---- formatting ----------------------------------------------------------------------
  const numberFormats = new Map();
  function num(value, decimals) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    const d = decimals === undefined ? 2 : decimals;
    if (!numberFormats.has(d)) {
      numberFormats.set(d, new Intl.NumberFormat(numberLocale, { minimumFractionDigits: d, maximumFractionDigits: d }));
    }
    return numberFormats.get(d).format(value);
  }
  // Each formatter is made on first use: making one costs tens of milliseconds in a fresh
  // browser process, and a page needs only some of them.
  function lazyFormat(loc, options) {
    let f = null;
    return { format: (d) => (f || (f = new Intl.DateTimeFormat(loc, options))).format(d) };
  }
  const timeFmt = lazyFormat(locale, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const hmFmt = lazyFormat(locale, { hour: "2-digit", minute: "2-digit" });
  const dayFmt = lazyFormat(locale, { day: "2-digit", month: "short" });
  const dateTimeFmt = lazyFormat(locale, { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const utcHm = lazyFormat("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
  // The trade history and its CSV are in UTC: the same formats with timeZone UTC.
  const utc = { timeZone: "UTC" };
  const hmUtcFmt = lazyFormat(locale, Object.assign({ hour: "2-digit", minute: "2-digit" }, utc));
  const dayUtcFmt = lazyFormat(locale, Object.assign({ day: "2-digit", month: "short" }, utc));
  const dateTimeUtcFmt = lazyFormat(locale, Object.assign({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" }, utc));
  function sameDay(a, b) {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
  }
  function sameUtcDay(a, b) {
    return a.toISOString().slice(0, 10) === b.toISOString().slice(0, 10);
  }
  let zoneName = null;
  // A price in EUR/MWh: two decimals, three where the trade rule (the average of two limits on
  // the 0.01 tick) made a half tick, so price × quantity reads as the value shown beside it.
  function price(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    return num(value, Math.abs(value * 100 - Math.round(value * 100)) > 1e-6 ? 3 : 2);
  }
  const fmt = {
    num,
    price,
    signed(value, decimals) {
      if (value === null || value === undefined) return "–";
      return (value > 0 ? "+" : "") + num(value, decimals);
    },
    time: (iso) => (iso ? timeFmt.format(new Date(iso)) : "–"),
    dateTime: (iso) => (iso ? dateTimeFmt.format(new Date(iso)) : "–"),
    dateTimeUtc: (iso) => (iso ? dateTimeUtcFmt.format(new Date(iso)) : "–"),
    // The browser's time zone (the dashboard's times are in it), e.g. "Europe/Vienna".
    timeZone: () => zoneName || (zoneName = new Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"),
    // A delivery quarter-hour as the operator reads it: local "14:15–14:30" (UTC with
    // inUtc), with the day when it is not today.
    delivery(startIso, endIso, inUtc) {
      if (!startIso) return t("continuous");
      const s = new Date(startIso);
      const e = endIso ? new Date(endIso) : new Date(s.getTime() + 15 * 60000);
      const hm = inUtc ? hmUtcFmt : hmFmt;
      const today = inUtc ? sameUtcDay(s, new Date()) : sameDay(s, new Date());
      const day = today ? "" : (inUtc ? dayUtcFmt : dayFmt).format(s) + " ";
      return day + hm.format(s) + "–" + hm.format(e);
    },
    ago(iso) {
      if (!iso) return "–";
      const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
      return s < 120 ? t("ago_s", { n: s }) : t("ago_min", { n: Math.round(s / 60) });
    },
    locale,
  };

  // ---- number ticker: the value counts to its new figure; the final text is set at once
  // when motion is reduced or the tab is hidden ---------------------------------------------
  const TICK_MS = 250;
  function ticker(el, value, decimals) {
    if (!el) return;
    const d = decimals === undefined ? Number(el.dataset.decimals || 2) : decimals;
    const prev = el.dataset.value === undefined || el.dataset.value === "" ? null : Number(el.dataset.value);
    if (value === null || value === undefined || Number.isNaN(value)) {
      el.dataset.value = "";
      el.textContent = "–";
      return;
    }
    el.dataset.value = String(value);
    if (prev === value && el.textContent !== "–") return;
    if (prev !== null && prev !== value && !reducedMotion() && el.animate) {
      // A short colour flash in the direction of the change (no layout is forced).
      el.animate([{ color: value > prev ? "#00ff00" : "#f87171" }, {}], { duration: 900, easing: "ease-out" });
    }
    if (prev === null || document.hidden || reducedMotion()) {
      el.textContent = num(value, d);
      return;
    }
    const start = performance.now();
    const step = (now) => {
      if (el.dataset.value !== String(value)) return; // a newer value took over
      const k = Math.min(1, (now - start) / TICK_MS);
      const eased = 1 - Math.pow(1 - k, 3);
      el.textContent = num(k >= 1 ? value : prev + (value - prev) * eased, d);
      if (k < 1) requestAnimationFrame(step);
    };
    el.textContent = num(prev + (value - prev) * 0.15, d);
    requestAnimationFrame(step);
  }

  // Decorative CSS animations wait for the page to have loaded (see app.css, .loaded).
  window.addEventListener("load", () => document.documentElement.classList.add("loaded"), { once: true });

  // ---- clock ---------------------------------------------------------------------------
  const clock = document.getElementById("clock");
  const clockUtc = document.getElementById("clock-utc");
  function tick() {
    const now = new Date();
    if (clock) {
      clock.textContent = timeFmt.format(now);
      clock.dateTime = now.toISOString();
    }
    if (clockUtc) clockUtc.textContent = "(" + utcHm.format(now) + " UTC)";
  }
  tick();
  setInterval(tick, 1000);

  // ---- connection indicator ------------------------------------------------------------
  const conn = document.getElementById("connection-state");
  function setConnection(state) {
    if (!conn) return;
    conn.dataset.state = state;
    conn.querySelector(".status-dot").dataset.state = state;
    conn.querySelector(".connection-label").textContent = t(state);
  }

  // Socket.IO to the web app, which relays the exchange's signed event stream. The callback
  // gets (connected: bool) whenever the live path opens or closes, counting the relay's own
  // link to the exchange.
  //
  // socket.io-client is fetched here rather than with the page: the page fills itself over
  // plain HTTP first, so the live path need not hold up its start.
  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.async = true;
      script.addEventListener("load", () => resolve(), { once: true });
      script.addEventListener("error", () => reject(new Error(src)), { once: true });
      document.head.append(script);
    });
  }
  function connectLive(handlers, onState) {
    const src = document.body.dataset.socketioSrc;
    const ready = typeof io !== "undefined" ? Promise.resolve() : loadScript(src);
    ready.then(
      () => openSocket(handlers, onState),
      () => onState(false)
    );
  }
  function openSocket(handlers, onState) {
    const socket = io({ transports: ["websocket", "polling"], reconnectionDelayMax: 5000 });
    let exchangeUp = true;
    socket.on("connect", () => onState(exchangeUp));
    socket.on("disconnect", () => onState(false));
    socket.on("connect_error", () => onState(false));
    socket.on("exchange_status", (data) => {
      exchangeUp = !!(data && data.connected);
      onState(socket.connected && exchangeUp);
    });
    for (const [name, fn] of Object.entries(handlers)) socket.on(name, fn);
  }

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else node.setAttribute(k, v === true ? "" : v);
      }
    }
    for (const c of children || []) node.append(c);
    return node;
  }

  // The cells every trade table shares: market, delivery, our side, quantity, price, value.
  // inUtc: the delivery quarter-hour in UTC (the trade history), else in local time.
  function tradeCells(tr, inUtc) {
    const side = tr.side || null;
    return [
      el("td", { text: tr.market }),
      el("td", { text: fmt.delivery(tr.delivery_start, null, inUtc) }),
      el("td", { class: side ? "side-" + side : "text-muted", text: side ? (side === "BUY" ? t("buy") : t("sell")) : "—" }),
      el("td", { class: "text-right", text: num(tr.quantity, 1) }),
      el("td", { class: "text-right", text: price(tr.price) }),
      el("td", { class: "text-right", text: num(tr.price * tr.quantity, 2) }),
    ];
  }

  window.phoenyra = { csrfToken, api, ApiError, t, tn, known, statusLabel, toast, fmt, ticker, setConnection, connectLive, el, tradeCells, loadScript, lang };
})();
