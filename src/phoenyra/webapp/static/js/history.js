// Trade history: the exchange's /trades pages under the form's filters, "load more" by cursor.
(function () {
  "use strict";
  const { api, t, tn, toast, fmt, el, connectLive, setConnection, tradeCells } = window.phoenyra;
  const form = document.getElementById("history-filters");
  if (!form) return;
  const body = document.getElementById("history-body");
  const more = document.getElementById("history-more");
  let next = null;
  let shown = 0;

  function params() {
    const p = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) p.set(k, v);
    // The side is ours: only our trades have one.
    p.set("mine", p.get("mine") !== "false" || p.has("side") ? "true" : "false");
    for (const k of ["since", "until"]) if (p.has(k)) p.set(k, p.get(k) + "T00:00:00Z");
    p.set("limit", "100");
    return p;
  }
  function row(tr) {
    return el("tr", {}, [
      el("td", { text: String(tr.id) }),
      // UTC, as the page, its date filters and the CSV export say.
      el("td", { text: fmt.dateTimeUtc(tr.executed_at) }),
      ...tradeCells(tr, true),
      el("td", { class: "side-" + tr.aggressor_side, text: tr.aggressor_side === "BUY" ? t("buy") : t("sell") }),
    ]);
  }
  async function load(reset) {
    const p = params();
    if (!reset && next) p.set("cursor", next);
    try {
      const page = await api("/trades?" + p.toString());
      if (reset) {
        body.replaceChildren();
        shown = 0;
      }
      body.append(...page.items.map(row));
      shown += page.items.length;
      if (!shown) {
        const filtered = ["market", "side", "since", "until"].some((k) => form.elements[k].value);
        body.replaceChildren(el("tr", { class: "empty-row" }, [el("td", { colspan: "9", text: t(filtered ? "no_trades_match" : "no_trades") })]));
      }
      next = page.next;
      more.classList.toggle("hidden", !next);
      document.getElementById("history-count").textContent = tn("rows_shown", shown);
    } catch (err) {
      toast("error", err.message + " (" + err.code + ")");
    }
  }
  // The CSV link carries the same filters as the table.
  function syncExport() {
    const p = params();
    p.delete("limit");
    document.getElementById("csv-export").href = "/history.csv?" + p.toString();
  }
  // "Our side" picks among our trades: the whole market's trades have no side of ours.
  const side = form.elements.side;
  const mine = form.elements.mine;
  function sideNeedsOurs() {
    if (side.value) mine.value = "true";
    mine.disabled = !!side.value;
    mine.title = side.value ? t("side_means_ours") : "";
  }
  side.addEventListener("change", sideNeedsOurs);
  sideNeedsOurs();
  // A range that ends before it starts finds nothing: say so rather than show "no trades".
  const since = form.elements.since;
  const until = form.elements.until;
  function checkRange() {
    until.setCustomValidity(since.value && until.value && until.value <= since.value ? t("range_reversed") : "");
  }
  since.addEventListener("input", checkRange);
  until.addEventListener("input", checkRange);
  checkRange();
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    checkRange();
    if (!form.reportValidity()) return;
    history.replaceState(null, "", "?" + new URLSearchParams(new FormData(form)).toString());
    syncExport();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  syncExport();
  if (until.validity.valid) load(true);
  else form.reportValidity();
  connectLive({}, (live) => setConnection(live ? "live" : "offline"));
})();
