// The telemetry configuration page: tabs, presets that fill the register map, the map and topic
// editors, live connection tests, save/load, and the REST API keys.
(function () {
  "use strict";
  const { api, t, known, toast, fmt, el, connectLive, setConnection } = window.phoenyra;
  const root = document.getElementById("config-page");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const battery = root.dataset.battery;

  const MAP_FIELDS = ["soc_percent", "power_mw", "temperature_c", "status", "capacity_mwh", "setpoint_mw"];
  const REQUIRED = new Set(["soc_percent", "power_mw", "temperature_c"]);
  const LABELS = {
    soc_percent: t("f_soc"),
    power_mw: t("f_power"),
    temperature_c: t("f_temp"),
    status: t("f_status"),
    capacity_mwh: t("f_capacity"),
    setpoint_mw: t("f_setpoint"),
  };
  const TYPES = ["u16", "s16", "u32", "s32", "f32"];
  const CUSTOM = "__custom__";
  let config = null; // the TelemetryConfig being edited (as loaded, then changed by the form)
  let presets = [];
  const presetWords = JSON.parse(document.getElementById("preset-words").textContent || "{}");

  // ---- tabs (WAI-ARIA tabs pattern: arrows move between tabs) -----------------------------
  const tabs = [...document.querySelectorAll('[role="tab"]')];
  function select(tab) {
    for (const x of tabs) {
      const on = x === tab;
      x.setAttribute("aria-selected", on ? "true" : "false");
      x.tabIndex = on ? 0 : -1;
      $(x.getAttribute("aria-controls")).hidden = !on;
    }
    history.replaceState(null, "", "#" + tab.id.replace("tab-", ""));
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (ev) => {
      const d = ev.key === "ArrowRight" ? 1 : ev.key === "ArrowLeft" ? -1 : 0;
      if (!d) return;
      const next = tabs[(i + d + tabs.length) % tabs.length];
      select(next);
      next.focus();
    });
  });
  const wanted = tabs.find((x) => "#" + x.id.replace("tab-", "") === location.hash);
  if (wanted) select(wanted);

  // ---- form ↔ config ------------------------------------------------------------------------
  const numOrNull = (v) => (v === "" || v === null || v === undefined ? null : Number(v));
  function setVal(id, v) {
    const node = $(id);
    if (node.type === "checkbox") node.checked = !!v;
    else node.value = v === null || v === undefined ? "" : v;
  }
  // A preset's title and notes come from the exchange in English; the catalogue has them in
  // the page's language (the documents they cite stay as they are).
  const inPageLanguage = (text) => (presetWords[text] !== undefined ? presetWords[text] : text);
  const presetTitle = (p) => inPageLanguage(p.title);
  function presetByName(name) {
    return presets.find((p) => p.name === name);
  }
  function currentMap() {
    const m = config.modbus;
    if (m.preset && presetByName(m.preset)) return presetByName(m.preset).map;
    return m.map;
  }

  function renderPresetInfo() {
    const name = $("mb-preset").value;
    const info = $("mb-preset-info");
    const p = presetByName(name);
    info.replaceChildren();
    if (!p) {
      info.append(el("p", { text: t("custom_map_info") }));
    } else {
      info.append(el("p", { class: "font-semibold text-white", text: presetTitle(p) }));
      info.append(el("p", { class: "mt-1", text: t("map_source") + ": " + p.source }));
      if (p.notes) info.append(el("p", { class: "mt-1", text: inPageLanguage(p.notes) }));
      if (p.limits && p.limits.length) info.append(el("ul", { class: "mt-1 list-disc pl-4" }, p.limits.map((l) => el("li", { text: inPageLanguage(l) }))));
    }
    const https = p && p.transport === "https";
    $("https-box").hidden = !https;
    $("map-box").hidden = https;
    $("mb-dispatch-box").hidden = https; // the Powerwall's API is read-only here
  }

  function mapRow(name, f) {
    const input = (attrs) => el("input", Object.assign({ class: "field px-2 py-1 text-xs" }, attrs));
    const selectOf = (attrs, values, current) => {
      const s = el("select", Object.assign({ class: "field px-2 py-1 text-xs" }, attrs), values.map((v) => el("option", { value: v, text: v })));
      s.value = current;
      return s;
    };
    const off = !f;
    f = f || { address: "", table: "holding", type: "u16", word_order: "big", scale: 1, scale_factor: null, unit: "" };
    const label = LABELS[name] + (REQUIRED.has(name) ? "" : " (" + t("optional") + ")");
    return el("tr", { "data-field": name, class: off ? "opacity-70" : "" }, [
      el("th", { scope: "row", class: "text-left text-xs font-medium normal-case tracking-normal text-white", text: label }),
      el("td", {}, [input({ type: "number", min: "0", max: "65535", "data-k": "address", value: f.address, "aria-label": label + " – " + t("address"), class: "field w-24 px-2 py-1 text-xs" })]),
      el("td", {}, [selectOf({ "data-k": "table", "aria-label": label + " – " + t("table") }, ["holding", "input"], f.table)]),
      el("td", {}, [selectOf({ "data-k": "type", "aria-label": label + " – " + t("type") }, TYPES, f.type)]),
      el("td", {}, [selectOf({ "data-k": "word_order", "aria-label": label + " – " + t("word_order") }, ["big", "little"], f.word_order)]),
      el("td", {}, [input({ type: "text", inputmode: "decimal", "data-k": "scale", value: f.scale, "aria-label": label + " – " + t("scale"), class: "field w-24 px-2 py-1 text-xs" })]),
      el("td", {}, [input({ type: "number", min: "0", max: "65535", "data-k": "scale_factor", value: f.scale_factor ?? "", "aria-label": label + " – " + t("scale_factor"), class: "field w-24 px-2 py-1 text-xs" })]),
      el("td", {}, [input({ type: "text", "data-k": "unit", value: f.unit || "", "aria-label": label + " – " + t("unit"), class: "field w-20 px-2 py-1 text-xs" })]),
    ]);
  }
  function renderMap() {
    const map = currentMap();
    const body = $("map-body");
    if (!map) {
      body.replaceChildren();
      return;
    }
    body.replaceChildren(...MAP_FIELDS.map((f) => mapRow(f, map[f])));
    setVal("map-unit", map.unit_id ?? 1);
    setVal("map-gap", map.max_gap ?? 16);
    setVal("map-max", map.max_registers ?? 125);
    $("mb-map-note").textContent = map.sunspec ? t("sunspec_note") : "";
  }
  // Editing the map of a preset makes it a custom map that starts from the preset's.
  function readMap() {
    const base = JSON.parse(JSON.stringify(currentMap() || {}));
    for (const row of $("map-body").querySelectorAll("tr[data-field]")) {
      const name = row.dataset.field;
      const get = (k) => row.querySelector(`[data-k="${k}"]`).value.trim();
      if (get("address") === "") {
        if (REQUIRED.has(name)) throw new Error(t("address_required", { field: LABELS[name] }));
        delete base[name];
        continue;
      }
      const f = Object.assign({}, base[name] || {});
      f.address = Number(get("address"));
      f.table = get("table");
      f.type = get("type");
      f.word_order = get("word_order");
      f.scale = get("scale") === "" ? 1 : Number(get("scale").replace(",", ".")); // empty: unscaled
      f.scale_factor = numOrNull(get("scale_factor"));
      f.unit = get("unit");
      if (f.scale_factor === null) delete f.scale_factor;
      base[name] = f;
    }
    base.unit_id = Number($("map-unit").value || 1);
    base.max_gap = Number($("map-gap").value || 0);
    base.max_registers = Number($("map-max").value || 125);
    return base;
  }
  $("map-body").addEventListener("change", () => {
    if ($("mb-preset").value !== CUSTOM) {
      config.modbus.map = readMap();
      config.modbus.preset = null;
      $("mb-preset").value = CUSTOM;
      renderPresetInfo();
      toast("info", t("now_custom"));
    }
  });

  function renderTopics() {
    const body = $("topic-body");
    const fields = ["soc_percent", "power_mw", "temperature_c", "status", "setpoint_mw"];
    body.replaceChildren(
      ...fields.map((name) => {
        const m = config.mqtt[name] || { topic: "", json_path: null, scale: 1 };
        const label = LABELS[name] + (REQUIRED.has(name) ? "" : " (" + t(name === "setpoint_mw" ? "for_dispatch" : "optional") + ")");
        return el("tr", { "data-field": name }, [
          el("th", { scope: "row", class: "text-left text-xs font-medium normal-case tracking-normal text-white", text: label }),
          el("td", {}, [el("input", { class: "field px-2 py-1 text-xs", "data-k": "topic", value: m.topic || "", "aria-label": label + " – " + t("topic") })]),
          el("td", {}, [el("input", { class: "field w-32 px-2 py-1 text-xs", "data-k": "json_path", value: m.json_path || "", placeholder: t("plain_number"), "aria-label": label + " – " + t("json_path") })]),
          el("td", {}, [el("input", { class: "field w-28 px-2 py-1 text-xs", "data-k": "scale", inputmode: "decimal", value: m.scale ?? 1, "aria-label": label + " – " + t("scale") })]),
        ]);
      })
    );
  }

  function render() {
    const c = config;
    setVal("mb-enabled", c.modbus.enabled);
    setVal("mb-dispatch", !!c.modbus.dispatch);
    setVal("mb-host", c.modbus.host);
    setVal("mb-port", c.modbus.port);
    setVal("mb-unit", c.modbus.unit_id);
    setVal("mb-timeout", c.modbus.timeout_s);
    setVal("cfg-interval", c.interval_s);
    setVal("cfg-rated", c.rated_power_mw);
    const presetSelect = $("mb-preset");
    presetSelect.value = c.https ? "tesla-powerwall" : c.modbus.preset && presetByName(c.modbus.preset) ? c.modbus.preset : CUSTOM;
    const h = c.https || { host: "", port: 443, password: null, email: "", verify_tls: false };
    setVal("https-host", h.host);
    setVal("https-port", h.port);
    setVal("https-password", h.password);
    setVal("https-email", h.email);
    setVal("https-verify", h.verify_tls);
    renderPresetInfo();
    renderMap();
    const m = c.mqtt;
    setVal("mq-enabled", m.enabled);
    setVal("mq-broker", m.broker);
    setVal("mq-port", m.port);
    setVal("mq-client", m.client_id);
    setVal("mq-qos", String(m.qos));
    setVal("mq-user", m.username);
    setVal("mq-password", m.password);
    setVal("mq-keepalive", m.keepalive);
    setVal("mq-tls", m.tls.enabled);
    setVal("mq-ca", m.tls.ca_file);
    setVal("mq-insecure", m.tls.insecure);
    setVal("mq-dispatch", !!m.dispatch);
    renderTopics();
    setVal("rest-enabled", c.rest.enabled);
  }

  // The configuration as the form shows it (what Test and Save send).
  function collect() {
    const c = JSON.parse(JSON.stringify(config));
    // An empty number field is missing, not 0 (which the exchange would refuse as too small).
    for (const [id, label] of [["cfg-interval", "f_interval"], ["cfg-rated", "f_rated"]]) {
      if (!$(id).value.trim()) throw new Error(t("value_required", { field: t(label) }));
    }
    c.interval_s = Number($("cfg-interval").value);
    c.rated_power_mw = Number($("cfg-rated").value);
    const preset = $("mb-preset").value;
    const p = presetByName(preset);
    c.modbus.host = $("mb-host").value.trim();
    c.modbus.port = Number($("mb-port").value);
    c.modbus.unit_id = numOrNull($("mb-unit").value);
    c.modbus.timeout_s = Number($("mb-timeout").value);
    if (p && p.transport === "https") {
      c.modbus.enabled = false;
      c.modbus.dispatch = false;
      const pw = $("https-password").value;
      c.https = {
        host: $("https-host").value.trim(),
        port: Number($("https-port").value || 443),
        password: pw === "" ? null : pw,
        email: $("https-email").value.trim(),
        verify_tls: $("https-verify").checked,
      };
    } else {
      c.modbus.enabled = $("mb-enabled").checked;
      c.modbus.dispatch = $("mb-dispatch").checked;
      c.https = null;
      if (p) {
        c.modbus.preset = preset;
        c.modbus.map = null;
      } else {
        c.modbus.preset = null;
        c.modbus.map = readMap();
      }
    }
    const m = c.mqtt;
    m.enabled = $("mq-enabled").checked;
    m.broker = $("mq-broker").value.trim();
    m.port = Number($("mq-port").value);
    m.client_id = $("mq-client").value.trim() || null;
    m.qos = Number($("mq-qos").value);
    m.username = $("mq-user").value.trim() || null;
    m.password = $("mq-password").value === "" ? null : $("mq-password").value;
    m.keepalive = Number($("mq-keepalive").value);
    m.tls = Object.assign({}, m.tls, { enabled: $("mq-tls").checked, ca_file: $("mq-ca").value.trim() || null, insecure: $("mq-insecure").checked });
    for (const row of $("topic-body").querySelectorAll("tr[data-field]")) {
      const get = (k) => row.querySelector(`[data-k="${k}"]`).value.trim();
      const name = row.dataset.field;
      if (!get("topic")) {
        if (REQUIRED.has(name)) throw new Error(t("topic_required", { field: LABELS[name] }));
        m[name] = null;
        continue;
      }
      const mapping = { topic: get("topic"), json_path: get("json_path") || null, scale: Number(get("scale").replace(",", ".") || 1) };
      // The setpoint's retain flag has no column: kept as loaded (set through the API).
      if (name === "setpoint_mw") mapping.retain = !!(m.setpoint_mw && m.setpoint_mw.retain);
      m[name] = mapping;
    }
    m.dispatch = $("mq-dispatch").checked;
    if (m.enabled && m.dispatch && !m.setpoint_mw) throw new Error(t("setpoint_topic_required"));
    c.rest.enabled = $("rest-enabled").checked;
    return c;
  }

  $("mb-preset").addEventListener("change", () => {
    const name = $("mb-preset").value;
    if (name === CUSTOM) {
      config.modbus.map = JSON.parse(JSON.stringify(currentMap() || presetByName("generic").map));
      config.modbus.preset = null;
    } else if (presetByName(name).transport === "modbus") {
      config.modbus.preset = name;
      config.modbus.map = null;
      if (presetByName(name).map.unit_id !== undefined) setVal("mb-unit", "");
    }
    renderPresetInfo();
    renderMap();
  });

  // ---- load, save, test ----------------------------------------------------------------------
  // Version 0: nothing saved; the form then shows what the telemetry service runs from its
  // environment (origin "environment"), or defaults when no service has reported (origin "default").
  function showMeta(saved) {
    const origin = saved.version ? "saved" : saved.origin || "default";
    $("cfg-env-note").classList.toggle("hidden", origin !== "environment");
    $("cfg-default-note").classList.toggle("hidden", origin !== "default");
    const version = $("cfg-version");
    version.dataset.origin = origin;
    if (origin === "saved") version.textContent = String(saved.version) + " · " + fmt.dateTime(saved.updated_at);
    else version.textContent = origin === "environment" ? t("from_environment") : t("not_saved");
    $("cfg-battery").textContent = saved.battery_id;
  }
  async function load(announce) {
    const [p, saved] = await Promise.all([
      presets.length ? Promise.resolve(presets) : api("/api/telemetry/presets"),
      api("/api/config/load?" + new URLSearchParams({ battery_id: battery })),
    ]);
    presets = p;
    const select = $("mb-preset");
    select.replaceChildren(...presets.map((x) => el("option", { value: x.name, text: presetTitle(x) })), el("option", { value: CUSTOM, text: t("custom_map") }));
    config = saved.config;
    showMeta(saved);
    render();
    if (announce) toast("success", t("loaded", { version: saved.version }));
  }
  const SOURCE_NAMES = { modbus: "Modbus TCP", mqtt: "MQTT", https: "Tesla Powerwall (HTTPS)" };
  const readsOver = (c, source) => (source === "https" ? !!c.https : !!(c[source] && c[source].enabled));
  // The exchange's VALIDATION_ERROR in the page's language: each field by its label on this
  // page and its limit, instead of pydantic's "interval_s: Input should be greater than…".
  const FIELD_LABELS = {
    interval_s: "f_interval",
    rated_power_mw: "f_rated",
    "modbus.port": "f_port",
    "modbus.timeout_s": "f_timeout",
    "modbus.host": "f_host",
    "mqtt.port": "f_port",
    "mqtt.broker": "f_broker",
  };
  const figure = (v) => fmt.num(v, (String(v).split(".")[1] || "").length);
  function validationWords(err) {
    const list = err.details && err.details.details;
    if (err.code !== "VALIDATION_ERROR" || !Array.isArray(list) || !list.length) return null;
    return list
      .map((d) => {
        const field = FIELD_LABELS[d.field] ? t(FIELD_LABELS[d.field]) : d.field;
        if (d.type === "missing") return t("value_required", { field });
        if (d.ge !== undefined) return t("at_least", { field, limit: figure(d.ge) });
        if (d.gt !== undefined) return t("more_than", { field, limit: figure(d.gt) });
        if (d.le !== undefined) return t("at_most", { field, limit: figure(d.le) });
        if (d.lt !== undefined) return t("less_than", { field, limit: figure(d.lt) });
        return field + ": " + d.problem;
      })
      .join(" ");
  }
  async function save() {
    let body;
    try {
      body = collect();
    } catch (err) {
      toast("error", err.message);
      return;
    }
    // Switching off the interface the battery is being read over now takes it offline unless
    // another one delivers: say so before it happens. (Saving with no interface at all is
    // refused by the exchange, with the reason.)
    let confirmed = false;
    if (live && live.online && SOURCE_NAMES[live.source] && !readsOver(body, live.source)) {
      if (!window.confirm(t("confirm_stop_source", { source: SOURCE_NAMES[live.source] }))) return;
      confirmed = true; // the exchange refuses it otherwise (SOURCE_IN_USE)
    }
    try {
      const url = "/api/config/save" + (confirmed ? "?confirm_offline=true" : "");
      const saved = await api(url, { method: "POST", json: body });
      config = saved.config;
      showMeta(saved);
      render();
      toast("success", t("saved_version", { version: saved.version }));
    } catch (err) {
      toast("error", t("not_saved_because") + " " + (validationWords(err) || err.message) + " (" + err.code + ")");
    }
  }
  const testRuns = {}; // per interface: the latest test started; a settings change counts too
  function showResult(iface, ok, node) {
    const box = document.querySelector(`[data-result="${iface}"]`);
    box.className = "test-result mt-3 rounded-xl border p-3 text-sm " + (ok ? "border-buy/50 bg-buy/5" : "border-sell/60 bg-sell/5");
    box.replaceChildren(node);
  }
  async function test(iface, button) {
    let body;
    try {
      body = { interface: iface, config: collect() };
    } catch (err) {
      showResult(iface, false, el("p", { text: err.message }));
      return;
    }
    if (iface === "mqtt") body.wait_s = Number($("mq-wait").value || 5);
    if (iface === "modbus") body.config.modbus.enabled = true;
    if (iface === "mqtt") body.config.mqtt.enabled = true;
    button.disabled = true;
    const run = (testRuns[iface] = (testRuns[iface] || 0) + 1);
    // An answer about settings changed (or tested again) meanwhile is not shown.
    const current = () => testRuns[iface] === run;
    showResult(iface, true, el("p", { class: "text-muted", text: t("testing") }));
    // What the failure means in the page's language, then the device's own details.
    const failed = (code, message) => {
      const meaning = known("test_kind_" + code);
      showResult(
        iface,
        false,
        el("div", { "data-outcome": "error", "data-code": code }, [
          el("p", { class: "font-semibold text-sell" }, [el("i", { class: "fa-solid fa-circle-xmark", "aria-hidden": "true" }), " " + t("test_failed") + " (" + code + ")"]),
          meaning ? el("p", { class: "mt-1", "data-meaning": "", text: meaning }) : null,
          el("p", { class: meaning ? "mt-1 text-xs text-muted" : "mt-1", text: (meaning ? t("details") + ": " : "") + message }),
        ].filter(Boolean))
      );
    };
    try {
      const r = await api("/api/config/test", { method: "POST", json: body });
      if (!current()) return;
      if (!r.ok) {
        // The test ran and the device did not answer as configured: say how (refused,
        // timeout, illegal_address, wrong_unit_id, bad_payload, out_of_range, ...).
        failed(r.error.kind, r.error.message);
        return;
      }
      const v = r.values || {};
      const fields = [
        [t("f_soc"), v.soc_percent, "%", 1],
        [t("f_power"), v.power_mw, "MW", 3],
        [t("f_temp"), v.temperature_c, "°C", 1],
      ];
      const grid = el(
        "dl",
        { class: "mt-2 grid grid-cols-3 gap-2" },
        fields.map(([k, val, unit, d]) => el("div", { class: "rounded-lg bg-black/30 p-2" }, [el("dt", { class: "kpi-label", text: k }), el("dd", { class: "ticker text-lg font-semibold", text: val === null || val === undefined ? "–" : fmt.num(val, d) + " " + unit })]))
      );
      const head = el("p", { class: "font-semibold text-buy" }, [el("i", { class: "fa-solid fa-circle-check", "aria-hidden": "true" }), " " + t("test_ok") + (r.latency_ms !== null && r.latency_ms !== undefined ? " · " + fmt.num(r.latency_ms, 1) + " ms" : "")]);
      showResult(iface, true, el("div", { "data-outcome": "ok" }, [head, grid]));
    } catch (err) {
      if (current()) failed(err.code, err.message); // the request itself was refused (e.g. an invalid configuration)
    } finally {
      button.disabled = false;
    }
  }
  // A result is about the settings it was tested with: once they change it no longer says
  // anything (a "timeout" stayed under a new preset and host).
  for (const box of document.querySelectorAll("[data-result]")) {
    const panel = box.closest('[role="tabpanel"]');
    const stale = (ev) => {
      if (ev.target.closest("[data-result], #key-create")) return;
      const iface = box.dataset.result;
      testRuns[iface] = (testRuns[iface] || 0) + 1; // a test still running answers for nothing
      box.classList.add("hidden");
      box.replaceChildren();
    };
    panel.addEventListener("input", stale);
    panel.addEventListener("change", stale);
  }
  root.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    if (b.dataset.test) test(b.dataset.test, b);
    else if (b.hasAttribute("data-save")) save();
    else if (b.hasAttribute("data-reload")) load(true).catch((err) => toast("error", err.message));
  });

  // ---- REST: endpoint, example, keys ---------------------------------------------------------
  // Devices push to the exchange (its address as the web app knows it), never to this web app:
  // its /api is for signed-in users (session and CSRF token), not for telemetry keys.
  const endpoint = root.dataset.exchangeUrl + "/api/bess/telemetry";
  $("rest-example").textContent =
    `curl -X POST ${endpoint} \\\n  -H "X-API-Key: <${t("telemetry_key")}>" -H "Content-Type: application/json" \\\n` +
    `  -d '{"battery_id": "${battery}", "soc_percent": 55.2, "power_mw": -0.4, "temperature_c": 24.1}'`;
  $("rest-endpoint").textContent = "POST " + endpoint;
  async function loadKeys() {
    const accounts = (await api("/api/accounts")).filter((a) => a.role === "telemetry");
    $("keys-body").replaceChildren(
      ...accounts.map((a) =>
        el("tr", {}, [
          el("td", { text: String(a.id) }),
          el("td", { text: a.name }),
          el("td", { text: a.battery_id || "–" }),
          el("td", { class: "text-right" }, [el("button", { type: "button", class: "btn-ghost px-2 py-1 text-xs", "data-rotate": String(a.id), "data-name": a.name }, [el("i", { class: "fa-solid fa-arrows-rotate", "aria-hidden": "true" }), t("rotate")])]),
        ])
      )
    );
  }
  function showKey(key, note) {
    $("key-value").textContent = key;
    $("key-note").textContent = note || "";
    $("key-shown").classList.remove("hidden");
  }
  $("keys-body").addEventListener("click", async (ev) => {
    const b = ev.target.closest("[data-rotate]");
    if (!b) return;
    // The device's key changes: until it is given the new one, its readings stop after the
    // overlap. Asked, as unticking the interface in use is.
    if (!window.confirm(t("confirm_rotate", { name: b.dataset.name || "#" + b.dataset.rotate }))) return;
    try {
      const r = await api(`/api/accounts/${b.dataset.rotate}/rotate-key`, { method: "POST" });
      showKey(r.api_key, t("old_valid_until", { at: fmt.dateTime(r.previous_keys_valid_until) }));
    } catch (err) {
      toast("error", err.message);
    }
  });
  $("key-create").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("/api/accounts", { method: "POST", json: { name: $("key-name").value.trim(), role: "telemetry", battery_id: battery } });
      showKey(r.api_key, t("key_for", { name: r.name }));
      $("key-name").value = "";
      loadKeys();
    } catch (err) {
      toast("error", err.message + " (" + err.code + ")");
    }
  });
  $("key-copy").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($("key-value").textContent);
      toast("success", t("copied"));
    } catch (_) {
      const range = document.createRange();
      range.selectNodeContents($("key-value"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
    }
  });

  let live = null; // the battery's latest status (online, source)
  async function liveBadge() {
    try {
      const s = await api("/api/bess/status?" + new URLSearchParams({ battery_id: battery }));
      live = s;
      const b = $("cfg-live");
      b.className = s.online ? "badge-ok" : "badge-bad";
      b.textContent = (s.online ? t("online") : t("offline_battery")) + " · " + (s.source || "–") + " · " + fmt.ago(s.updated_at);
    } catch (_) {
      /* the badge keeps its last state */
    }
  }

  load(false).catch((err) => toast("error", err.message));
  loadKeys().catch((err) => toast("error", err.message));
  liveBadge();
  setInterval(liveBadge, 5000);
  connectLive({}, (live) => setConnection(live ? "live" : "offline"));
})();
