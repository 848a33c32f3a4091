// The dashboard: battery cards, market chart, order entry, active orders, trades, exposure and
// PnL, VWAP per quarter-hour. Live over Socket.IO; every 10 s by polling while the socket is
// down.
(function () {
  "use strict";
  const { api, t, known, statusLabel, toast, fmt, ticker, setConnection, connectLive, el, tradeCells, loadScript, lang } = window.phoenyra;
  const root = document.getElementById("dashboard");
  if (!root) return;

  // The chart library (the page's largest script) is fetched and compiled after the page is
  // interactive: the cards, tables and the order form never wait for it; charts draw when it
  // has arrived.
  // In German the charts' date axis speaks German too ("Dez", not "Dec"): ApexCharts' own
  // locale file, fetched alongside the library.
  const chartLocale = root.dataset.chartsLocaleSrc
    ? fetch(root.dataset.chartsLocaleSrc, { credentials: "same-origin" }).then((r) => (r.ok ? r.json() : null)).catch(() => null)
    : Promise.resolve(null);
  const chartsReady = Promise.all([loadScript(root.dataset.chartsSrc), chartLocale]).then(([, loc]) => {
    if (loc && loc.name) {
      chartBase.chart.locales = [loc];
      chartBase.chart.defaultLocale = loc.name;
    }
  });
  chartsReady.catch((err) => toast("error", t("request_failed") + ": " + err.message));
  const POLL_MS = 10000;
  const GATE_CLOSURE_MS = 5 * 60000;
  const QH_MS = 15 * 60000;
  const state = {
    market: root.dataset.market,
    battery: root.dataset.battery,
    orders: new Map(), // id → order (active only)
    trades: [],
    marketData: null,
    indicators: [],
    vwap: [],
    live: false,
    pollTimer: null,
    deskId: null, // the exchange account the web app trades as: "our" orders are its orders
  };
  const $ = (id) => document.getElementById(id);
  // The dashboard's times are the browser's local time: say which.
  $("tz-name").textContent = fmt.timeZone();

  // ---- battery ---------------------------------------------------------------------------
  function renderBattery(s) {
    if (!s || (s.battery_id && s.battery_id !== state.battery)) return;
    // A status fetched before a newer live reading arrived must not put the older one back.
    if (state.batteryAt && s.updated_at && s.updated_at < state.batteryAt) return;
    state.batteryAt = s.updated_at || state.batteryAt;
    state.batteryStatus = s;
    state.batteryReceived = performance.now();
    ticker($("bess-soc"), s.soc_percent, 1);
    ticker($("bess-power"), s.power_mw, 3);
    ticker($("bess-temp"), s.temperature_c, 1);
    if ((s.temperature_c === null || s.temperature_c === undefined) && s.online) $("bess-temp").title = t("not_reported");
    ticker($("bess-rated"), s.rated_power_mw, 2);
    ticker($("bess-capacity"), s.capacity_mwh, 2);
    const soc = s.soc_percent;
    $("bess-soc-bar").style.width = (soc === null || soc === undefined ? 0 : Math.max(0, Math.min(100, soc))) + "%";
    if (s.soc_min_percent !== undefined) {
      $("bess-soc-min").style.left = s.soc_min_percent + "%";
      $("bess-soc-max").style.left = s.soc_max_percent + "%";
      $("bess-soc-limits").textContent = `min ${fmt.num(s.soc_min_percent, 0)} % · max ${fmt.num(s.soc_max_percent, 0)} %`;
      const outside = soc !== null && (soc < s.soc_min_percent || soc > s.soc_max_percent);
      $("card-soc").dataset.alert = outside ? "true" : "false";
    }
    const p = s.power_mw;
    $("bess-direction").textContent = p === null || p === undefined ? "–" : p > 0.0005 ? t("discharging") : p < -0.0005 ? t("charging") : t("idle");
    const online = !!s.online;
    // Offline: the exchange has had no reading for 3 update intervals. The figures shown are
    // the last known ones, and the exchange refuses the battery's orders until one arrives.
    const stale = !online && s.updated_at !== undefined;
    for (const id of ["bess-soc", "bess-power", "bess-temp"]) {
      $(id).dataset.stale = stale ? "true" : "false";
      $(id).title = stale ? t("stale_value", { at: fmt.dateTime(s.updated_at) }) : "";
    }
    const since = s.updated_at ? t("stale_since", { at: fmt.dateTime(s.updated_at) }) : t("stale_never");
    $("bess-stale").classList.toggle("hidden", !stale);
    $("bess-stale-text").textContent = stale ? since : "";
    if ($("order-battery-stale")) {
      $("order-battery-stale").classList.toggle("hidden", !stale);
      $("order-battery-stale-text").textContent = stale ? since + " " + t("stale_orders_refused") : "";
    }
    $("bess-online").textContent = online ? t("online") : t("offline_battery");
    $("bess-online").className = "text-2xl font-semibold " + (online ? "text-neon" : "text-sell");
    $("bess-online-dot").dataset.state = online ? "live" : "offline";
    $("card-status").dataset.alert = online ? "false" : "true";
    $("bess-source").textContent = s.source || "–";
    $("bess-updated").textContent = t("updated") + " " + fmt.ago(s.updated_at);
    $("bess-updated").dataset.at = s.updated_at || "";
  }
  setInterval(() => {
    const at = $("bess-updated").dataset.at;
    if (at) $("bess-updated").textContent = t("updated") + " " + fmt.ago(at);
    // The exchange refuses the battery's orders once its reading is older than max_age_s:
    // show it offline at that moment (by the age the exchange gave plus the time since, so a
    // browser clock that is off does not matter), and ask the exchange.
    const s = state.batteryStatus;
    if (s && s.online && s.age_s !== null && s.age_s !== undefined && s.max_age_s) {
      const age = s.age_s + (performance.now() - state.batteryReceived) / 1000;
      if (age > s.max_age_s) {
        renderBattery(Object.assign({}, s, { online: false }));
        loadBattery().catch(() => {});
      }
    }
  }, 1000);
  // A battery that stops reporting sends no event: its online state comes from the exchange,
  // so ask it now and then even while the live stream is up.
  setInterval(() => {
    if (state.live) loadBattery().catch(() => {});
  }, 15000);

  // ---- market ------------------------------------------------------------------------------
  const sourceName = (source) => known("source_" + source) || source;
  // Why the data is stale, in the page's language from the exchange's code and figures.
  function staleReason(d) {
    if (!known("stale_" + d.stale_code)) return d.stale_reason || "";
    return t("stale_" + d.stale_code, { age: fmt.num(d.stale_age_s, 0), limit: fmt.num(d.stale_limit_s, 0) });
  }
  function renderMarketData(d) {
    if (!d || d.market !== state.market) return;
    state.marketData = d;
    ticker($("kpi-mark"), d.mark, 2);
    ticker($("kpi-ema"), d.ema, 2);
    ticker($("kpi-vwap"), d.vwap, 2);
    $("market-source").textContent = d.source ? sourceName(d.source) : "–";
    $("market-simulated").classList.toggle("hidden", !d.simulated);
    $("market-stale").classList.toggle("hidden", !d.stale);
    $("market-stale-reason").classList.toggle("hidden", !d.stale);
    $("market-stale-reason").textContent = d.stale ? staleReason(d) : "";
    updateOrderSummary();
  }

  const chartBase = {
    chart: {
      background: "transparent",
      foreColor: "#b3b3b3",
      fontFamily: "Inter Variable, system-ui, sans-serif",
      toolbar: { show: false },
      zoom: { enabled: false },
      animations: { enabled: true, speed: 300, dynamicAnimation: { speed: 300 } },
    },
    theme: { mode: "dark" },
    grid: { borderColor: "rgba(255,255,255,0.08)", strokeDashArray: 3 },
    legend: { position: "top", horizontalAlign: "left", labels: { colors: "#e5e5e5" } },
    tooltip: { theme: "dark", x: { format: "dd MMM HH:mm" } },
    dataLabels: { enabled: false },
    noData: { text: t("no_prices"), style: { color: "#b3b3b3" } },
  };
  const priceAxis = (title) => ({
    title: { text: title, style: { color: "#b3b3b3", fontWeight: 500 } },
    labels: { formatter: (v) => (v === null || v === undefined ? "" : fmt.num(v, 0)) },
    forceNiceScale: true,
  });
  let marketChart = null;
  let vwapChart = null;

  function marketSeries() {
    const mark = state.indicators.map((p) => [Date.parse(p.start), p.mark]);
    // The last period's price holds until its end: close the step line there.
    if (state.indicators.length) {
      const last = state.indicators[state.indicators.length - 1];
      mark.push([Date.parse(last.end), last.mark]);
    }
    return [
      { name: t("mark"), type: "line", data: mark },
      { name: t("ema"), type: "line", data: state.indicators.map((p) => [Date.parse(p.start), p.ema]) },
      { name: t("vwap") + " (15 min)", type: "line", data: state.vwap.map((p) => [Date.parse(p.start), p.vwap]) },
    ];
  }
  function nowAnnotation() {
    return {
      xaxis: [
        {
          x: Date.now(),
          borderColor: "#FFD700",
          strokeDashArray: 4,
          label: { text: t("now"), borderColor: "#FFD700", style: { background: "#FFD700", color: "#1a1a1a", fontWeight: 600 } },
        },
      ],
    };
  }
  function drawMarketChart() {
    if (typeof ApexCharts === "undefined") return;
    const options = Object.assign({}, chartBase, {
      chart: Object.assign({}, chartBase.chart, { type: "line", height: 330, id: "market" }),
      series: marketSeries(),
      colors: ["#00FF00", "#FFD700", "#ffffff"],
      stroke: { width: [2, 2, 0], curve: ["stepline", "smooth", "straight"], dashArray: [0, 5, 0] },
      markers: { size: [0, 0, 4], strokeWidth: 0, hover: { size: 5 } },
      xaxis: { type: "datetime", labels: { datetimeUTC: false }, tooltip: { enabled: false } },
      yaxis: priceAxis("EUR/MWh"),
      annotations: nowAnnotation(),
      tooltip: Object.assign({}, chartBase.tooltip, { shared: true, y: { formatter: (v) => (v === null || v === undefined ? "–" : fmt.num(v, 2) + " EUR/MWh") } }),
    });
    if (marketChart) {
      marketChart.updateOptions({ series: options.series, annotations: options.annotations }, false, false);
    } else {
      marketChart = new ApexCharts($("market-chart"), options);
      marketChart.render();
    }
  }
  function drawVwapChart() {
    if (typeof ApexCharts === "undefined") return;
    // The window is always the last 96 quarter-hours: every one gets a slot (empty ones with no
    // volume and no VWAP), so a single traded quarter-hour is drawn a quarter-hour wide.
    const end = Math.ceil(Date.now() / QH_MS) * QH_MS;
    const byStart = new Map(state.vwap.map((p) => [Date.parse(p.start), p]));
    const slots = Array.from({ length: 96 }, (_, i) => end - (96 - i) * QH_MS);
    const series = [
      { name: t("volume") + " (MWh)", type: "column", data: slots.map((x) => [x, byStart.has(x) ? byStart.get(x).volume_mwh : 0]) },
      { name: t("vwap_qh"), type: "line", data: slots.map((x) => [x, byStart.has(x) ? byStart.get(x).vwap : null]) },
    ];
    const xaxis = { type: "datetime", labels: { datetimeUTC: false } };
    if (vwapChart) {
      vwapChart.updateOptions({ series, xaxis }, false, false);
      return;
    }
    vwapChart = new ApexCharts(
      $("vwap-chart"),
      Object.assign({}, chartBase, {
        chart: Object.assign({}, chartBase.chart, { type: "line", height: 290, id: "vwap" }),
        series,
        colors: ["rgba(255,215,0,0.45)", "#00FF00"],
        stroke: { width: [0, 2.5], curve: "straight" },
        markers: { size: [0, 4], strokeWidth: 0 },
        plotOptions: { bar: { columnWidth: "70%", borderRadius: 2 } },
        xaxis,
        yaxis: [
          { seriesName: t("volume") + " (MWh)", opposite: true, title: { text: "MWh", style: { color: "#b3b3b3" } }, labels: { formatter: (v) => fmt.num(v, 1) } },
          Object.assign(priceAxis("EUR/MWh"), { seriesName: t("vwap_qh") }),
        ],
        noData: { text: t("no_vwap"), style: { color: "#b3b3b3" } },
        tooltip: Object.assign({}, chartBase.tooltip, { shared: true }),
      })
    );
    vwapChart.render();
  }

  // ---- orders ------------------------------------------------------------------------------
  const ACTIVE = new Set(["ACCEPTED", "PARTIALLY_FILLED"]);
  function orderRow(o, fresh) {
    // In the order of the table's head (dashboard.html): the most telling columns first.
    const cells = [
      el("td", { text: String(o.id) }),
      el("td", { class: "side-" + o.side, text: o.side === "BUY" ? t("buy") : t("sell") }),
      el("td", { text: fmt.delivery(o.delivery_start, o.delivery_end) }),
      el("td", { class: "text-right", text: fmt.num(o.quantity, 1) }),
      el("td", { class: "text-right", text: fmt.price(o.price) }),
      el("td", {}, [el("span", { class: o.status === "PARTIALLY_FILLED" ? "badge-sim" : "badge-muted", text: statusLabel(o.status), title: o.status })]),
      el("td", { class: "text-right", text: fmt.num(o.filled, 1) }),
      el("td", { text: o.market }),
      el("td", { text: o.time_in_force }),
      el("td", { text: fmt.time(o.created_at) }),
    ];
    const actions = el("td", { class: "col-actions" });
    if (root.dataset.mayTrade === "true") {
      // An icon with its words as title and accessible name: "Stornieren" beside every row
      // took the width the status needed.
      const label = t("cancel") + " #" + o.id;
      const btn = el("button", { type: "button", class: "btn-danger-sm", "data-cancel": String(o.id), "aria-label": label, title: label }, [
        el("i", { class: "fa-solid fa-xmark", "aria-hidden": "true" }),
      ]);
      actions.append(btn);
    }
    cells.push(actions);
    return el("tr", { id: "order-" + o.id, class: fresh ? "flash-row" : "", "data-status": o.status }, cells);
  }
  function renderOrders(freshId) {
    const body = $("orders-body");
    const rows = [...state.orders.values()].sort((a, b) => b.id - a.id);
    body.replaceChildren(...(rows.length ? rows.map((o) => orderRow(o, o.id === freshId)) : [el("tr", { class: "empty-row" }, [el("td", { colspan: "11", text: t("no_orders") })])]));
    $("orders-count").textContent = String(rows.length);
  }
  function isOurs(o) {
    return state.deskId === null || o.account_id === state.deskId;
  }
  // Our orders as last told by an event: id → {at: performance.now(), order}. It also tells
  // our side of a live trade.
  const orderEvents = new Map();
  function applyOrder(o) {
    if (!isOurs(o)) return; // an admin also receives the other participants' order events
    orderEvents.set(o.id, { at: performance.now(), order: o });
    if (ACTIVE.has(o.status)) state.orders.set(o.id, o);
    else state.orders.delete(o.id);
    renderOrders(o.id);
  }
  $("orders-body").addEventListener("click", async (ev) => {
    const btn = ev.target.closest("[data-cancel]");
    if (!btn) return;
    btn.disabled = true;
    try {
      const o = await api("/api/orders/" + btn.dataset.cancel, { method: "DELETE" });
      applyOrder(o);
      toast("success", t("cancelled", { id: o.id }));
    } catch (err) {
      btn.disabled = false;
      toast("error", t("cancel_failed") + ": " + cancelRefusal(err, btn.dataset.cancel) + " (" + err.code + ")");
      // The order ended meanwhile (filled, expired): show the list as it is now.
      if (err.code === "ORDER_NOT_OPEN" || err.code === "NOT_FOUND") loadOrders().catch(() => {});
    }
  });
  // Why a cancel failed, in the page's language for the exchange's known codes.
  function cancelRefusal(err, id) {
    const d = err.details;
    if (err.code === "ORDER_NOT_OPEN" && d.order_status) {
      const status = statusLabel(d.order_status).toLocaleLowerCase(lang);
      return t("cancel_not_open", { id: d.order_id ?? id, status });
    }
    if (err.code === "NOT_FOUND") return t("cancel_not_found", { id });
    if (err.code === "FORBIDDEN") return t("cancel_forbidden", { id });
    return err.message;
  }

  // ---- trades ------------------------------------------------------------------------------
  function tradeRow(tr, fresh) {
    return el("tr", { id: "trade-" + tr.id, class: fresh ? "flash-row" : "" }, [
      el("td", { text: fmt.time(tr.executed_at), title: fmt.dateTime(tr.executed_at) }),
      ...tradeCells(tr),
    ]);
  }
  function renderTrades(freshIds) {
    const body = $("trades-body");
    const rows = state.trades.slice(0, 50);
    body.replaceChildren(...(rows.length ? rows.map((tr) => tradeRow(tr, freshIds && freshIds.has(tr.id))) : [el("tr", { class: "empty-row" }, [el("td", { colspan: "7", text: t("no_trades") })])]));
  }
  // A live trade event carries no "side" (it is the same for every listener): it is ours when
  // one of its orders is one of ours.
  function sideOf(tr) {
    if (tr.side !== undefined) return tr.side;
    if (state.orders.has(tr.buy_order_id) || orderEvents.has(tr.buy_order_id)) return "BUY";
    if (state.orders.has(tr.sell_order_id) || orderEvents.has(tr.sell_order_id)) return "SELL";
    return null;
  }

  // ---- positions ---------------------------------------------------------------------------
  function renderPositions(list) {
    let net = 0, realized = 0, unrealized = 0, anyUnrealized = false;
    const rows = list.map((p) => {
      net += p.net_energy_mwh;
      realized += p.realized_pnl_eur;
      if (p.unrealized_pnl_eur !== null) {
        unrealized += p.unrealized_pnl_eur;
        anyUnrealized = true;
      }
      const pnlClass = (v) => "text-right " + (v > 0 ? "text-buy" : v < 0 ? "text-sell" : "");
      return el("tr", {}, [
        el("td", { text: p.market }),
        el("td", { class: "text-right", text: fmt.signed(p.net_energy_mwh, 1) }),
        el("td", { class: "text-right", text: fmt.num(p.average_price, 2) }),
        el("td", { class: "text-right", text: fmt.num(p.notional_eur, 2) }),
        el("td", { class: pnlClass(p.realized_pnl_eur), text: fmt.signed(p.realized_pnl_eur, 2) }),
        el("td", { class: pnlClass(p.unrealized_pnl_eur), text: p.unrealized_pnl_eur === null ? "–" : fmt.signed(p.unrealized_pnl_eur, 2) }),
      ]);
    });
    $("positions-body").replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty-row" }, [el("td", { colspan: "6", text: t("no_positions") })])]));
    ticker($("pos-net"), list.length ? net : null, 1);
    ticker($("pos-realized"), list.length ? realized : null, 2);
    ticker($("pos-unrealized"), anyUnrealized ? unrealized : null, 2);
  }

  // ---- optimised schedule ---------------------------------------------------------------------
  let scheduleChart = null;
  function renderSchedule(sch) {
    state.schedule = sch;
    const iv = sch.intervals;
    ticker($("sched-revenue"), sch.expected_revenue_eur, 2);
    ticker($("sched-cycles"), sch.cycles, 2);
    $("sched-energy").textContent = fmt.num(sch.charged_mwh, 1) + " / " + fmt.num(sch.discharged_mwh, 1);
    $("sched-orders").textContent = String(sch.orders.length);
    $("schedule-meta").textContent = t("schedule_meta", {
      start: fmt.delivery(sch.start),
      end: fmt.delivery(iv.length ? iv[iv.length - 1].start : sch.end),
      soc0: fmt.num(sch.initial_soc_percent, 1),
      soc1: fmt.num(iv.length ? iv[iv.length - 1].soc_percent : sch.terminal_soc_percent, 1),
      ms: fmt.num(sch.solve_ms, 1),
    });
    const exec = $("schedule-execute");
    if (exec) exec.disabled = sch.orders.length === 0;
    chartsReady.then(() => drawSchedule(sch));
  }
  // Charging is buying and discharging is selling: the bars take the buy and sell colours of
  // the order form and the tables (app.css --color-buy, --color-sell), apart from the gold
  // price line, and the legend names each.
  const BUY_COLOUR = "#22c55e";
  const SELL_COLOUR = "#f87171";
  // Below Tailwind's sm (640 px) three y-axes with titles leave the plot little width: there
  // the chart keeps the MW and SoC labels (SoC's with its %), without titles and without the
  // price axis (the legend and the tooltip name the units).
  let narrowQuery = null;
  function narrowScreen() {
    if (!narrowQuery) {
      narrowQuery = window.matchMedia("(max-width: 639.98px)");
      narrowQuery.addEventListener("change", () => {
        if (scheduleChart) scheduleChart.updateOptions({ yaxis: scheduleAxes(narrowQuery.matches) }, false, false);
      });
    }
    return narrowQuery.matches;
  }
  const scheduleNames = () => ({
    charge: t("schedule_charge") + " (MW)",
    discharge: t("schedule_discharge") + " (MW)",
    soc: t("schedule_soc") + " (%)",
    price: t("price_axis") + " (EUR/MWh)",
  });
  function scheduleAxes(narrow) {
    const names = scheduleNames();
    const title = (text) => ({ text: narrow ? "" : text, style: { color: "#b3b3b3" } });
    return [
      { seriesName: [names.charge, names.discharge], title: title("MW"), labels: { formatter: (v) => fmt.num(v, 1) } },
      { seriesName: names.soc, opposite: true, min: 0, max: 100, title: title("SoC %"), labels: { formatter: (v) => fmt.num(v, 0) + (narrow ? " %" : "") } },
      { seriesName: names.price, opposite: true, show: !narrow, title: title("EUR/MWh"), labels: { formatter: (v) => fmt.num(v, 0) } },
    ];
  }
  function drawSchedule(sch) {
    if (state.schedule !== sch) return; // a newer schedule is being drawn
    const iv = sch.intervals;
    const x = (p) => Date.parse(p.start);
    const names = scheduleNames();
    // Charge down (−, buying) and discharge up (+, selling), stacked on one bar per
    // quarter-hour; a plan without the MILP may do both in one quarter-hour.
    const series = [
      { name: names.charge, type: "column", data: iv.map((p) => [x(p), p.charge_mw > 1e-9 ? -p.charge_mw : null]) },
      { name: names.discharge, type: "column", data: iv.map((p) => [x(p), p.discharge_mw > 1e-9 ? p.discharge_mw : null]) },
      { name: names.soc, type: "line", data: iv.map((p) => [x(p), p.soc_percent]) },
      { name: names.price, type: "line", data: iv.map((p) => [x(p), p.price]) },
    ];
    if (scheduleChart) {
      scheduleChart.updateSeries(series, false);
      return;
    }
    $("schedule-chart").replaceChildren(); // the placeholder of clearSchedule
    scheduleChart = new ApexCharts(
      $("schedule-chart"),
      Object.assign({}, chartBase, {
        // Stacked: the two power series share one bar slot (lines are not stacked).
        chart: Object.assign({}, chartBase.chart, { type: "line", height: 310, id: "schedule", stacked: true }),
        series,
        colors: [BUY_COLOUR, SELL_COLOUR, "#ffffff", "rgba(255,215,0,0.55)"],
        stroke: { width: [0, 0, 2, 1.5], curve: ["straight", "straight", "smooth", "stepline"], dashArray: [0, 0, 0, 4] },
        plotOptions: { bar: { columnWidth: "85%", borderRadius: 1 } },
        xaxis: { type: "datetime", labels: { datetimeUTC: false } },
        yaxis: scheduleAxes(narrowScreen()),
        // One legend row in the series' order (stacked columns would get a group of their own).
        legend: Object.assign({}, chartBase.legend, { clusterGroupedSeries: false }),
        noData: { text: t("no_schedule"), style: { color: "#b3b3b3" } },
        tooltip: Object.assign({}, chartBase.tooltip, { shared: true }),
      })
    );
    scheduleChart.render();
  }
  function scheduleBody() {
    return { market: state.market, forbid_simultaneous: $("schedule-milp").checked };
  }
  let scheduleAsked = 0;
  // No plan for the market shown (no prices, or the optimiser refused): the previous one,
  // perhaps another market's, must not stay on screen as if it were this one's.
  function clearSchedule(reason) {
    state.schedule = null;
    scheduleAsked++; // an answer still on its way is for the plan being cleared
    // ticker() with no value also stops a count-up still running from the last plan.
    for (const id of ["sched-revenue", "sched-cycles"]) ticker($(id), null);
    for (const id of ["sched-energy", "sched-orders"]) $(id).textContent = "–";
    $("schedule-meta").textContent = reason;
    const exec = $("schedule-execute");
    if (exec) exec.disabled = true;
    if (scheduleChart) {
      scheduleChart.destroy(); // drawn afresh with the next plan
      scheduleChart = null;
    }
    // The chart's place says it too, instead of standing empty.
    $("schedule-chart").replaceChildren(el("p", { class: "chart-empty", text: reason }));
  }
  async function loadSchedule() {
    const ask = ++scheduleAsked;
    if (!state.indicators.length) {
      clearSchedule(t("no_prices")); // nothing to optimise against yet
      return;
    }
    try {
      const sch = await api("/api/schedule/optimize", { method: "POST", json: scheduleBody() });
      if (ask === scheduleAsked) renderSchedule(sch); // an older answer never replaces a newer one
    } catch (err) {
      if (ask === scheduleAsked) clearSchedule(err.message + " (" + err.code + ")");
    }
  }
  const refreshSchedule = debounce(loadSchedule, 1500);
  $("schedule-optimize").addEventListener("click", loadSchedule);
  $("schedule-milp").addEventListener("change", loadSchedule);
  if ($("schedule-execute")) {
    $("schedule-execute").addEventListener("click", async (ev) => {
      const button = ev.currentTarget;
      button.disabled = true;
      const out = $("schedule-result");
      out.className = "text-sm text-muted";
      out.textContent = t("sending");
      try {
        // The plan shown is the plan placed: its own market and orders.
        const sch = state.schedule;
        const r = await api("/api/schedule/execute", {
          method: "POST",
          json: Object.assign(scheduleBody(), { market: sch.market, orders: sch.orders }),
        });
        const codes = {};
        for (const x of r.results) if (x.outcome === "refused") codes[x.error.code] = (codes[x.error.code] || 0) + 1;
        const why = Object.keys(codes).length ? " (" + Object.entries(codes).map(([c, n]) => n + "× " + c).join(", ") + ")" : "";
        let msg = t("schedule_placed", { placed: r.placed, refused: r.refused, why });
        // Refused for the battery's room: they wait for earlier orders of the plan to fill.
        if (codes.ENERGY_LIMIT) msg += " " + t("schedule_held_back");
        const replaced = (r.cancelled_order_ids || []).length;
        if (replaced) msg += " " + t("schedule_replaced", { n: fmt.num(replaced, 0) });
        out.className = "text-sm " + (r.refused ? "text-gold" : "text-buy");
        out.textContent = msg;
        toast(r.placed ? "success" : "error", msg);
        loadOrders().catch(() => {});
      } catch (err) {
        out.className = "text-sm text-sell";
        out.textContent = err.message + " (" + err.code + ")";
      } finally {
        button.disabled = !state.schedule || !state.schedule.orders.length; // a plan may have gone meanwhile
      }
    });
  }

  // ---- loading -----------------------------------------------------------------------------
  const q = (params) => "?" + new URLSearchParams(params).toString();
  async function loadBattery() {
    renderBattery(await api("/api/bess/status" + q({ battery_id: state.battery })));
    loadDispatch().catch(() => {});
  }
  // What the battery's trades ask it to do now, or next (GET /api/bess/dispatch).
  function renderDispatch(plan) {
    if (!plan || plan.battery_id !== state.battery) return;
    const words = (mw) => ({ direction: t(mw < 0 ? "dispatch_charge" : "dispatch_discharge"), mw: fmt.num(Math.abs(mw), 2) });
    const now = plan.intervals.find((i) => i.power_mw !== 0 && Date.parse(i.start) <= Date.parse(plan.generated_at));
    const next = plan.intervals.find((i) => i.power_mw !== 0);
    let text = t("dispatch_none");
    if (now) text = t("dispatch_now", Object.assign(words(now.power_mw), { until: fmt.time(now.end) }));
    else if (next) text = t("dispatch_next", Object.assign(words(next.power_mw), { at: fmt.time(next.start) }));
    $("bess-dispatch-text").textContent = text;
  }
  async function loadDispatch() {
    renderDispatch(await api("/api/bess/dispatch" + q({ battery_id: state.battery })));
  }
  // Deliveries start and end with time, not with events: look again now and then.
  setInterval(() => loadDispatch().catch(() => {}), 15000);
  async function loadMarket() {
    const market = state.market;
    const [data, indicators, vwap] = await Promise.all([
      api("/api/market-data" + q({ market })),
      api("/api/market/indicators" + q({ market })),
      api("/api/market/vwap" + q({ market })),
    ]);
    if (market !== state.market) return; // the operator switched markets meanwhile
    state.indicators = indicators;
    state.vwap = vwap;
    renderMarketData(data);
    chartsReady.then(() => {
      drawMarketChart();
      drawVwapChart();
    });
  }
  // The exchange account the web app trades as, asked once (again after a failure).
  let deskAsked = null;
  function desk() {
    if (!deskAsked) {
      deskAsked = api("/api/accounts/me").then(
        (a) => (state.deskId = a.id),
        (err) => {
          deskAsked = null;
          throw err;
        }
      );
    }
    return deskAsked;
  }
  async function loadOrders() {
    await desk();
    const asked = performance.now();
    const list = (await api("/api/orders")).filter(isOurs);
    const orders = new Map(list.map((o) => [o.id, o]));
    // Events that arrived while the list was on its way are newer than the list.
    for (const [id, e] of orderEvents) {
      if (e.at < asked) continue;
      if (ACTIVE.has(e.order.status)) orders.set(id, e.order);
      else orders.delete(id);
    }
    state.orders = orders;
    renderOrders();
  }
  async function loadTrades() {
    const list = await api("/api/trades" + q({ limit: 50 }));
    const newest = list.length ? list[0].id : 0;
    // Keep live trades newer than the fetched page (they came while it was on its way).
    state.trades = state.trades.filter((tr) => tr.id > newest).concat(list);
    renderTrades();
  }
  async function loadPositions() {
    // An admin sees every account's position; the panel is the desk's own exposure.
    const [list] = await Promise.all([api("/api/positions"), desk()]);
    renderPositions(list.filter(isOurs));
  }
  async function loadAll() {
    const results = await Promise.allSettled([loadBattery(), loadMarket(), loadOrders(), loadTrades(), loadPositions()]);
    if (!state.schedule) loadSchedule(); // after loadMarket: it needs the prices
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }
  // Bursts of events (a sweep fills many orders) refresh the derived views once.
  function debounce(fn, ms) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(() => fn().catch(() => {}), ms);
    };
  }
  const refreshPositions = debounce(loadPositions, 300);
  const refreshMarket = debounce(loadMarket, 300);

  // ---- live ----------------------------------------------------------------------------------
  function setLive(live) {
    state.live = live;
    setConnection(live ? "live" : state.pollOk === false ? "offline" : "polling");
    if (live) {
      if (state.pollTimer) clearInterval(state.pollTimer);
      state.pollTimer = null;
      loadAll().catch(() => {}); // catch up on what happened while away
    } else if (!state.pollTimer) {
      state.pollTimer = setInterval(poll, POLL_MS);
    }
  }
  async function poll() {
    try {
      await loadAll();
      state.pollOk = true;
    } catch (err) {
      state.pollOk = false;
    }
    if (!state.live) setConnection(state.pollOk ? "polling" : "offline");
  }
  setConnection("connecting");
  // A socket that neither opens nor fails (a proxy that swallows WebSocket upgrades) must not
  // leave the page waiting: without a live path after 5 s, poll.
  setTimeout(() => {
    if (!state.live && !state.pollTimer) setLive(false);
  }, 5000);
  connectLive(
    {
      telemetry: renderBattery,
      market: (d) => {
        renderMarketData(d);
        if (marketChart && d.market === state.market) marketChart.updateOptions({ annotations: nowAnnotation() }, false, false);
      },
      "market.prices": (d) => {
        if (!d || !d.market || d.market === state.market) {
          refreshMarket();
          refreshSchedule();
        }
      },
      order: applyOrder,
      trade: (tr) => {
        tr.side = sideOf(tr);
        state.trades.unshift(tr);
        state.trades.length = Math.min(state.trades.length, 200);
        renderTrades(new Set([tr.id]));
        refreshPositions();
        loadDispatch().catch(() => {});
        if (tr.market === state.market) refreshMarket();
      },
    },
    setLive
  );
  loadAll()
    .then(() => (state.pollOk = true))
    .catch((err) => {
      state.pollOk = false;
      toast("error", err.message);
    });

  $("market-select").addEventListener("change", (ev) => {
    state.market = ev.target.value;
    const orderMarket = $("order-market");
    if (orderMarket) orderMarket.value = state.market;
    state.indicators = [];
    clearSchedule(t("sending")); // the other market's plan goes at once; this one's follows
    loadMarket()
      .then(loadSchedule)
      .catch((err) => {
        clearSchedule(err.message + " (" + err.code + ")");
        toast("error", err.message);
      });
  });

  // ---- order entry ---------------------------------------------------------------------------
  const form = $("order-form");
  function deliveryOptions() {
    const select = $("order-delivery");
    if (!select) return;
    const keep = select.value;
    const first = Math.ceil((Date.now() + GATE_CLOSURE_MS) / QH_MS) * QH_MS;
    const options = [select.options[0]];
    for (let i = 0; i < 32; i++) {
      const s = new Date(first + i * QH_MS);
      options.push(el("option", { value: s.toISOString(), text: fmt.delivery(s.toISOString()) }));
    }
    select.replaceChildren(...options);
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }
  function readNumber(name) {
    const raw = (form.elements[name].value || "").trim().replace(",", ".");
    return raw === "" ? NaN : Number(raw);
  }
  // The decimals a number was typed with ("50.005" → 3), so the summary shows it as entered.
  function typedDecimals(name) {
    const raw = (form.elements[name].value || "").trim().replace(",", ".");
    const m = /\.(\d*)$/.exec(raw.split(/[eE]/)[0]);
    return m ? m[1].length : 0;
  }
  // On the grid (price tick 0.01 EUR/MWh, lot 0.1 MWh), allowing for binary fractions.
  const onStep = (value, step) => Math.abs(value / step - Math.round(value / step)) < 1e-6;
  const PRICE_TICK = 0.01;
  const QTY_LOT = 0.1;
  // The inputs the last refusal named (its "fields"): marked invalid until they are edited.
  const refused = new Set();
  function markInvalid(name, invalid) {
    const input = form.elements[name];
    if (!input || input instanceof RadioNodeList) return;
    input.setAttribute("aria-invalid", invalid ? "true" : "false");
    // The refusal's sentence describes the input while it stands.
    if (invalid && refused.has(name)) input.setAttribute("aria-describedby", "order-result");
    else input.removeAttribute("aria-describedby");
  }
  function updateOrderSummary() {
    if (!form) return;
    const qty = readNumber("quantity");
    const price = readNumber("price");
    const side = form.elements.side.value;
    const out = $("order-summary");
    const priceOff = Number.isFinite(price) && !onStep(price, PRICE_TICK);
    const qtyOff = Number.isFinite(qty) && !onStep(qty, QTY_LOT);
    markInvalid("price", priceOff || refused.has("price"));
    markInvalid("quantity", qtyOff || refused.has("quantity"));
    if (Number.isFinite(qty) && Number.isFinite(price)) {
      const verb = side === "BUY" ? t("buy") : t("sell");
      const dq = Math.min(6, Math.max(1, typedDecimals("quantity")));
      const dp = Math.min(6, Math.max(2, typedDecimals("price")));
      // The total is the product of the figures shown, with the decimals it needs (at least 2;
      // 0.5 × 50.005 = 25.0025, not 25.00).
      const total = qty * price;
      let dt = 2;
      while (dt < 6 && Math.abs(Number(total.toFixed(dt)) - total) > 1e-9) dt++;
      const totalText = fmt.num(total, dt);
      const warnings = [];
      if (priceOff) warnings.push(t("off_tick", { tick: fmt.num(PRICE_TICK, 2) }));
      if (qtyOff) warnings.push(t("off_lot", { lot: fmt.num(QTY_LOT, 1) }));
      out.className = "text-xs " + (warnings.length ? "text-sell" : "text-muted");
      out.textContent = `${verb} ${fmt.num(qty, dq)} MWh × ${fmt.num(price, dp)} EUR/MWh = ${totalText} EUR` + (warnings.length ? " · " + warnings.join(" ") : "");
    } else {
      out.className = "text-xs text-muted";
      out.textContent = state.marketData && state.marketData.mark !== null ? `${t("mark")}: ${fmt.num(state.marketData.mark, 2)} EUR/MWh` : "\u00a0";
    }
  }
  if (form) {
    // The 32 delivery quarter-hours are formatted once the page is up (date formatting is
    // slow the first time in a fresh browser process).
    setTimeout(deliveryOptions, 0);
    setInterval(deliveryOptions, 30000);
    form.addEventListener("input", (ev) => {
      if (ev.target && refused.delete(ev.target.name)) markInvalid(ev.target.name, false);
      updateOrderSummary();
    });
    form.addEventListener("change", (ev) => {
      if (ev.target && refused.delete(ev.target.name)) markInvalid(ev.target.name, false);
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const button = form.querySelector("button[type=submit]");
      const result = $("order-result");
      button.disabled = true;
      result.className = "min-h-5 text-sm text-muted";
      result.textContent = t("sending");
      try {
        const response = await fetch(form.action, {
          method: "POST",
          body: new FormData(form),
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!(response.headers.get("content-type") || "").includes("json")) {
          throw new Error(t("session_expired") + " (" + response.status + ")");
        }
        const body = await response.json();
        // The web app words the refusal in the page's language and names the inputs concerned.
        for (const name of refused) markInvalid(name, false);
        refused.clear();
        for (const name of body.fields || []) refused.add(name);
        for (const name of refused) markInvalid(name, true);
        updateOrderSummary();
        result.className = "min-h-5 text-sm " + (body.category === "success" ? "text-buy" : "text-sell");
        result.textContent = body.message;
        toast(body.category, body.message);
        if (body.order) {
          applyOrder(body.order);
          refreshPositions();
        }
      } catch (err) {
        result.className = "min-h-5 text-sm text-sell";
        // fetch's own TypeError ("Failed to fetch") is the browser's English: say it in ours.
        result.textContent = t("request_failed") + ": " + (err instanceof TypeError ? t("webapp_unreachable") : err.message);
      } finally {
        button.disabled = false;
      }
    });
  }
})();
