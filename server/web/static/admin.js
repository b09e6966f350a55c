// The town-centre office's console: the service desk (find a card, its history, block, void),
// issuing and printing cards, merchants and offers, and the month's finance (report, downloads,
// statements, closing). It signs in with the admin token and calls /api/v1. Its texts come
// from the page's JSON data block (server/i18n/admin.<lang>.json), in the language the user
// picks. The network admin also has a town switcher (every call then names the town in the
// Citycard-Town header), the towns with their office tokens, and the network's month with the
// clearing between towns; an office token sees its own town only.
(function () {
  "use strict";
  var KEY = "citycard.admin.token", LANG_KEY = "citycard.admin.lang", TOWN_KEY = "citycard.admin.town";
  var $ = function (id) { return document.getElementById(id); };
  var LANGS = ["sl", "it", "en", "de"];
  // Number and date formats per language: Slovenes and Italians read "1.234,56 €".
  var LOCALES = { sl: "sl-SI", it: "it-IT", en: "en-GB", de: "de-DE" };
  var CATEGORIES = ["shop", "restaurant", "bar", "museum", "attraction", "tour", "transport", "accommodation", "service"];
  var I18N = JSON.parse($("i18n").textContent || "{}");
  // The town the page shows until the console knows whom it acts for: its host's, or the only town.
  var PAGE_TOWN = JSON.parse($("page-town").textContent || "null");
  // TZ is the zone of the town the console acts in: the server's default until the town is known.
  var TZ_DEFAULT = document.body.dataset.tz || "Europe/Ljubljana", TZ = TZ_DEFAULT;
  var state = { token: sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || "", lang: chooseLang(), products: [],
    merchant: null, offers: [], offer: null, cards: [], cardsCursor: "", report: null, reportClosed: "", closes: {},
    card: null, voiding: null, batches: [], batchesCursor: "", batch: null, batchCardsCursor: "", batchNames: {},
    merchantsById: null, offersById: null, conflicts: [], conflictOthers: [], issued: [], issuedBatch: null, openCard: "",
    role: "", town: "", towns: [], editTown: null, tokensTown: null, net: null };

  // --- language ---

  // chooseLang: the one picked before, else the browser's first of ours, else Slovene, the
  // town's first language.
  function chooseLang() {
    var saved = localStorage.getItem(LANG_KEY);
    if (LANGS.indexOf(saved) >= 0) return saved;
    var prefs = navigator.languages || [navigator.language || ""];
    for (var i = 0; i < prefs.length; i++) {
      var l = String(prefs[i]).slice(0, 2).toLowerCase();
      if (LANGS.indexOf(l) >= 0) return l;
    }
    return "sl";
  }
  function t(key, vars) {
    var s = (I18N[state.lang] || {})[key];
    if (s == null) s = (I18N.en || {})[key];
    if (s == null) s = key;
    return s.replace(/\{(\w+)\}/g, function (m, k) {
      if (vars && vars[k] != null) return vars[k];
      return k === "card" ? cardName() : m;
    });
  }
  // The console is in the colours and the card name of the town it acts in.
  function faceTown() { return currentTown() || PAGE_TOWN; }
  function cardName() {
    var tw = faceTown();
    return tw && tw.card_name ? tw.card_name[state.lang] || name(tw.card_name) : "";
  }
  function applyFace() {
    var tw = faceTown();
    if (tw) document.documentElement.setAttribute("data-town", tw.code);
    else document.documentElement.removeAttribute("data-town");
    var meta = document.querySelector('meta[name="theme-color"]');
    if (meta && tw && tw.color) meta.setAttribute("content", tw.color);
    $("card-name").textContent = cardName();
    document.title = (cardName() ? cardName() + " · " : "") + t("brand");
  }
  function applyTexts() {
    document.documentElement.lang = state.lang;
    applyFace();
    $("lang").value = state.lang;
    document.querySelectorAll("[data-i18n]").forEach(function (e) { e.textContent = t(e.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (e) { e.placeholder = t(e.dataset.i18nPlaceholder); });
    document.querySelectorAll("[data-i18n-aria-label]").forEach(function (e) { e.setAttribute("aria-label", t(e.dataset.i18nAriaLabel)); });
    var cat = $("m-category"), keep = cat.value;
    cat.textContent = "";
    CATEGORIES.forEach(function (c) { cat.appendChild(el("option", { value: c, text: t("cat." + c) })); });
    cat.value = keep || "shop";
    $("key-title").textContent = state.keyFor ? t("key.title", { name: state.keyFor }) : "";
    // Texts set by code, not by the page: redone in the new language.
    if (!state.merchant) { $("merchant-title").textContent = t("merchants.new"); $("merchant-save").textContent = t("m.create"); }
    $("offer-title").textContent = t(state.offer ? "o.edit" : "offers.new");
    kindChanged();
    if (state.issued.length) issuedTitle();
    selectionChanged();
    townTexts();
  }
  $("lang").addEventListener("change", function () {
    state.lang = $("lang").value;
    localStorage.setItem(LANG_KEY, state.lang);
    applyTexts();
    if (state.token && !$("tabs").hidden) { fillTowns(); fillProducts(); route(); }
  });

  // --- formats ---

  function locale() { return LOCALES[state.lang]; }
  function money(s) {
    if (s == null || s === "") return "";
    return new Intl.NumberFormat(locale(), { style: "currency", currency: "EUR" }).format(Number(s));
  }
  function count(n) { return new Intl.NumberFormat(locale()).format(n || 0); }
  function date(iso) { return iso ? new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeZone: TZ }).format(new Date(iso)) : ""; }
  function dateTime(iso) { return iso ? new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeStyle: "short", timeZone: TZ }).format(new Date(iso)) : ""; }
  function monthName(m) { // "2026-11" → "November 2026" in the chosen language
    var p = m.split("-");
    return new Intl.DateTimeFormat(locale(), { month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(Date.UTC(+p[0], +p[1] - 1, 1)));
  }
  function formatNumber(n) { return String(n || "").replace(/(\d{4})(?=\d)/g, "$1 "); }
  function name(m, lang) { m = m || {}; return m[lang || state.lang] || m.en || m.sl || m.it || m.de || ""; }
  function productName(code) {
    for (var i = 0; i < state.products.length; i++) if (state.products[i].code === code) return name(state.products[i].name);
    return code;
  }
  function decimalInput(v) { // "12,5" → "12.5" for the API, null for empty
    v = v.trim().replace(",", ".");
    return v === "" ? null : v;
  }
  // thisMonth is the current month in the town's zone, "2026-11".
  function thisMonth() {
    var p = {};
    new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit" }).formatToParts(new Date())
      .forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month;
  }
  // lastFullMonth is the month before thisMonth: the one the accountants sign.
  function lastFullMonth() {
    var p = thisMonth().split("-"), y = +p[0], m = +p[1] - 1;
    if (m === 0) { y--; m = 12; }
    return y + "-" + (m < 10 ? "0" : "") + m;
  }

  // --- API ---

  // api calls the API as the signed-in user; the network admin's calls name the chosen town,
  // except the network's own (towns, tokens, the network report: noTown).
  function api(method, path, body, noTown) {
    // Accept-Language: the server writes error messages in the console's language.
    var h = { "Authorization": "Bearer " + state.token, "Accept-Language": state.lang };
    if (state.role === "network" && state.town && !noTown) h["Citycard-Town"] = state.town;
    if (body !== undefined) h["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" })
      .then(function (r) {
        var type = r.headers.get("Content-Type") || "";
        var read = type.indexOf("application/json") === 0 ? r.json().catch(function () { return null; }) : r.blob();
        return read.then(function (data) {
          if (r.status === 401) signOut(t("signin.rejected"));
          return { status: r.status, body: data, ok: r.ok, headers: r.headers };
        });
      }, function () { return { status: 0, body: null, ok: false, headers: new Headers() }; });
  }
  function message(res) {
    if (res.status === 0) return t("err.offline");
    return res.body && res.body.error ? res.body.error.message : t("err.unexpected", { status: res.status });
  }
  // --- answers to the latest question only ---

  // A view that loads data (a month, a town, a card, a search) may ask again before its first
  // answer is back: the tab's first load of the default month, then the month the user picks.
  // ask(view) starts a new question of that view and returns current(), true while that
  // question is still the view's latest. A view drops an answer that is not (counted in the
  // page's data-dropped, which the browser tests read), so it never shows an old answer, nor
  // parts of two. Switching the town or signing out makes every question asked before old.
  var asked = {}, epoch = 0;
  function ask(view) {
    var n = asked[view] = (asked[view] || 0) + 1, e = epoch, counted = false;
    return function () {
      if (asked[view] === n && epoch === e) return true;
      if (!counted) {
        counted = true;
        document.body.dataset.dropped = String(Number(document.body.dataset.dropped || 0) + 1);
      }
      return false;
    };
  }

  // all pages through a list endpoint.
  function all(path) {
    var items = [];
    function page(cursor) {
      var sep = path.indexOf("?") < 0 ? "?" : "&";
      return api("GET", path + sep + "limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(function (res) {
        if (!res.ok) throw res;
        items = items.concat(res.body.items);
        return res.body.next_cursor ? page(res.body.next_cursor) : items;
      });
    }
    return page("");
  }

  // download fetches a file with the token (a plain link cannot send it) and hands it to the
  // browser as a download under the server's file name. errBox shows what went wrong.
  function download(path, fallback, errBox, button, noTown) {
    errBox.textContent = "";
    if (button) { button.disabled = true; button.classList.add("busy"); }
    return api("GET", path, undefined, noTown).then(function (res) {
      if (button) { button.disabled = false; button.classList.remove("busy"); }
      if (!res.ok) { errBox.textContent = message(res); return; }
      var cd = res.headers.get("Content-Disposition") || "", m = /filename="?([^";]+)"?/.exec(cd);
      var url = URL.createObjectURL(res.body);
      var a = el("a", { href: url, download: m ? m[1] : fallback });
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
    });
  }

  // --- small helpers ---

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else if (k.indexOf("on") === 0) e.addEventListener(k.slice(2), attrs[k]);
      else e.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }
  function show(id, on) { $(id).hidden = !on; }
  function badge(cls, text) { return el("span", { class: "badge " + cls, text: text }); }

  // labelCells gives each cell of a "stack" table its column's name, shown on a phone where
  // the table's head is hidden.
  function labelCells(tbody) {
    var heads = tbody.parentNode.querySelectorAll("thead th");
    tbody.querySelectorAll("tr").forEach(function (tr) {
      Array.prototype.forEach.call(tr.children, function (td, i) {
        var h = heads[i] ? heads[i].textContent.trim() : "";
        if (h && !td.classList.contains("main") && !td.hasAttribute("colspan")) td.dataset.label = h;
      });
    });
  }
  // facts fills a definition list from [label, value] pairs; a value may be an element.
  function facts(dl, rows) {
    dl.textContent = "";
    rows.forEach(function (r) {
      if (r[1] == null || r[1] === "") return;
      dl.appendChild(el("div", {}, [el("dt", { text: r[0] }), el("dd", { class: r[2] || "" }, [typeof r[1] === "string" ? r[1] : r[1]])]));
    });
  }

  // --- sign in, tabs ---

  function signOut(msg) {
    sessionStorage.removeItem(KEY); localStorage.removeItem(KEY);
    epoch++;
    state.token = ""; state.role = ""; state.towns = [];
    document.body.classList.remove("network", "office");
    document.querySelectorAll(".tab").forEach(function (tb) { tb.hidden = true; });
    show("town", false); $("who").textContent = "";
    show("tabs", false); show("signout", false); show("signin", true);
    document.body.classList.remove("signed-in");
    $("signin-error").textContent = msg || "";
    $("token").value = "";
    $("token").focus();
  }
  function signIn(token, remember) {
    state.token = token;
    return whoAmI().then(function (ok) {
      if (!ok) return null;
      return api("GET", "/api/v1/products?limit=500");
    }).then(function (res) {
      if (!res) return;
      if (!res.ok) {
        if (res.status !== 401) signOut(res.status === 403 ? t("signin.shop_key") : message(res));
        return;
      }
      (remember ? localStorage : sessionStorage).setItem(KEY, token);
      state.products = res.body.items;
      show("signin", false); show("tabs", true); show("signout", true);
      document.body.classList.add("signed-in");
      fillTowns();
      fillProducts();
      route();
    });
  }

  // --- who signed in, and the town it acts in ---

  // whoAmI asks the server who the token is: the network admin (towns tab, network report,
  // town switcher) or a town's office (its town only). It picks the town the console acts in:
  // the office's own; for the network admin the one chosen before, else the first.
  function whoAmI() {
    return api("GET", "/api/v1/me", undefined, true).then(function (res) {
      if (res.status === 401) return false;
      if (res.status === 403) { signOut(t("signin.shop_key")); return false; }
      if (!res.ok) { signOut(message(res)); return false; }
      setMe(res.body);
      return true;
    });
  }
  function setMe(me) {
    state.role = me.role;
    state.towns = me.towns || [];
    var codes = state.towns.map(function (tw) { return tw.code; });
    var want = me.role === "office" ? me.town : localStorage.getItem(TOWN_KEY);
    state.town = codes.indexOf(want) >= 0 ? want : (me.town || codes[0] || "");
    var tw = currentTown();
    TZ = tw && tw.timezone || TZ_DEFAULT;
    document.body.classList.toggle("network", me.role === "network");
    // A wallet certificate that expires within 30 days (docs/wallet.md).
    var certs = me.wallet_certificates || [];
    $("wallet-cert").textContent = certs.map(function (c) { return t("wallet.cert_expires", { which: c.certificate, date: date(c.expires_at) }); }).join(" ");
    $("wallet-cert").hidden = certs.length === 0;
    document.body.classList.toggle("office", me.role === "office");
  }
  function currentTown() {
    for (var i = 0; i < state.towns.length; i++) if (state.towns[i].code === state.town) return state.towns[i];
    return null;
  }
  function townName(code) {
    for (var i = 0; i < state.towns.length; i++) if (state.towns[i].code === code) return name(state.towns[i].name) || code;
    return code;
  }
  // fillTowns shows the switcher to a network admin with more than one town, and the town's
  // name to everyone else; the network's tabs to the network admin only.
  function fillTowns() {
    var sel = $("town"), net = state.role === "network";
    // Other scripts of the page (the till's pairing) name the same town in their calls.
    document.body.dataset.town = net ? state.town : "";
    sel.textContent = "";
    state.towns.forEach(function (tw) { sel.appendChild(el("option", { value: tw.code, text: name(tw.name) || tw.code })); });
    sel.value = state.town;
    show("town", net && state.towns.length > 1);
    var tw = currentTown();
    $("who").textContent = tw && !(net && state.towns.length > 1) ? name(tw.name) || tw.code : "";
    document.querySelectorAll("#tabs a.net").forEach(function (a) { a.hidden = !net; });
    applyFace();
  }
  $("town").addEventListener("change", function () {
    state.town = $("town").value;
    localStorage.setItem(TOWN_KEY, state.town);
    epoch++; // what is on its way belongs to the other town
    var tw = currentTown();
    TZ = tw && tw.timezone || TZ_DEFAULT;
    // Everything shown so far belongs to the other town.
    state.merchant = null; state.offer = null; state.card = null; state.batch = null; state.report = null;
    state.merchantsById = null; state.offersById = null; state.issued = []; state.issuedBatch = null; state.batchNames = {};
    ["card-panel", "batch-panel", "issued-panel", "merchant-panel", "key-panel", "report", "close-result"].forEach(function (id) { show(id, false); });
    $("report-month").value = lastFullMonth();
    fillTowns();
    var current = ask("products");
    api("GET", "/api/v1/products?limit=500").then(function (res) {
      if (!current()) return;
      if (res.ok) state.products = res.body.items;
      fillProducts();
      route();
    });
  });
  $("signin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var tok = $("token").value.trim();
    if (tok) signIn(tok, $("remember").checked);
  });
  $("signout").addEventListener("click", function () { signOut(""); });

  function route() {
    if (!state.token) return;
    var tab = (location.hash || "#desk").slice(1);
    var tabs = ["desk", "cards", "merchants", "report"];
    if (state.role === "network") tabs.push("towns", "network");
    if (tabs.indexOf(tab) < 0) tab = "desk";
    document.querySelectorAll(".tab").forEach(function (tb) { tb.hidden = tb.id !== "tab-" + tab; });
    document.querySelectorAll("#tabs a").forEach(function (a) {
      if (a.dataset.tab === tab) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    if (tab === "desk") loadDesk();
    if (tab === "cards") loadCards(true);
    if (tab === "merchants") loadMerchants();
    if (tab === "report") loadReport();
    if (tab === "towns") loadTowns();
    if (tab === "network") loadNetwork();
  }
  window.addEventListener("hashchange", route);

  // --- service desk ---

  function loadDesk() {
    loadBatches(true);
    if (state.openCard) { var id = state.openCard; state.openCard = ""; showCard(id, true); }
    else if (state.card) showCard(state.card.id, false);
    if (state.batch) openBatch(state.batch, false);
  }
  // openCard shows a card at the desk, from any tab.
  function openCard(id) {
    if ((location.hash || "#desk") !== "#desk") { state.openCard = id; location.hash = "#desk"; } else showCard(id, true);
  }

  $("find-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var digits = $("find-number").value.replace(/[\s-]+/g, "");
    $("find-error").textContent = "";
    if (!/^\d{4,20}$/.test(digits)) { $("find-error").textContent = t("desk.bad_number"); return; }
    var current = ask("card");
    api("GET", "/api/v1/cards?limit=10&number=" + digits).then(function (res) {
      if (!current()) return;
      if (res.status === 400) { $("find-error").textContent = t("desk.not_a_number", { number: formatNumber(digits) }); return; }
      if (!res.ok) { $("find-error").textContent = message(res); return; }
      // Only an exact match: a server that ignored the filter must not show another card.
      var found = res.body.items.filter(function (c) { return c.number === digits; });
      if (!found.length) {
        var other = res.body.issued_by; // another town's card: whose office can help
        $("find-error").textContent = other ? t("desk.other_town", { number: formatNumber(digits), town: name(other.name) || other.code })
          : t("desk.not_found", { number: formatNumber(digits) });
        show("card-panel", false); state.card = null; return;
      }
      showCard(found[0].id, true);
    });
  });

  // lookups loads the merchants and offers once, to name them in a card's history.
  function lookups() {
    if (state.merchantsById && state.offersById) return Promise.resolve();
    var e = epoch;
    return Promise.all([all("/api/v1/merchants"), all("/api/v1/offers")]).then(function (r) {
      if (e !== epoch) return; // another town's
      state.merchantsById = {}; state.offersById = {};
      r[0].forEach(function (m) { state.merchantsById[m.id] = m; });
      r[1].forEach(function (o) { state.offersById[o.id] = o; });
    });
  }
  function batchName(id) {
    if (!id) return Promise.resolve(null);
    if (state.batchNames[id]) return Promise.resolve(state.batchNames[id]);
    return api("GET", "/api/v1/batches/" + encodeURIComponent(id)).then(function (res) {
      if (!res.ok) return null;
      var b = res.body.batch || res.body;
      state.batchNames[id] = b;
      return b;
    });
  }

  function showCard(id, scroll) {
    $("card-error").textContent = "";
    var current = ask("card");
    return api("GET", "/api/v1/cards/" + encodeURIComponent(id)).then(function (res) {
      if (!current()) return;
      if (!res.ok) { $("find-error").textContent = message(res); return; }
      var c = res.body;
      return Promise.all([lookups().catch(function () {}), batchName(c.batch_id)]).then(function (r) {
        if (!current()) return;
        state.card = c;
        renderCard(c, r[1]);
        if (scroll) $("card-panel").scrollIntoView({ block: "start" });
      });
    });
  }

  function renderCard(c, batch) {
    $("cd-number").textContent = formatNumber(c.number);
    var st = $("cd-status");
    st.className = "badge " + c.status; st.textContent = t("status." + c.status);
    var batchLink = batch ? el("button", { type: "button", class: "link", text: batch.name || t("batches.unnamed"),
      onclick: function () { openBatch(batch, true); } }) : null;
    facts($("cd-facts"), [
      [t("col.product"), productName(c.product)],
      [t("col.issued"), dateTime(c.issued_at)],
      [t("col.activated"), c.activated_at ? dateTime(c.activated_at) : t("desk.not_activated")],
      c.expires_at ? [t("col.expires"), dateTime(c.expires_at)] : [t("desk.activate_by"), dateTime(c.activate_by)],
      [t("col.batch"), batchLink],
      [t("col.holder"), c.holder || ""],
      [t("col.lang"), c.lang ? c.lang.toUpperCase() : ""],
      c.blocked_at ? [t("desk.blocked_since"), dateTime(c.blocked_at) + (c.block_reason ? " · " + c.block_reason : "")] : [],
      [t("desk.page"), el("a", { href: "/c/" + c.token, target: "_blank", rel: "noopener", text: t("cards.open") })]
    ]);
    var blocked = c.status === "blocked";
    $("block-label").textContent = t(blocked ? "desk.unblock_reason" : "desk.block_reason");
    $("block-submit").textContent = t(blocked ? "desk.unblock" : "desk.block");
    $("block-submit").className = (blocked ? "primary" : "danger") + " auto";
    $("block-reason").value = "";
    var tb = $("cd-redemptions");
    tb.textContent = "";
    (c.redemptions || []).forEach(function (r) {
      var m = state.merchantsById && state.merchantsById[r.merchant_id], o = state.offersById && state.offersById[r.offer_id];
      var voided = r.status === "voided";
      tb.appendChild(el("tr", { class: voided ? "voided" : "" }, [
        el("td", { class: "nowrap keep", text: dateTime(r.created_at) }),
        el("td", { class: "main", text: m ? m.name : r.merchant_id }),
        el("td", { text: o ? name(o.title) : r.offer_id }),
        el("td", { class: "r num", text: money(r.amount) }),
        el("td", { class: "r num", text: money(r.discount) }),
        el("td", { class: "keep" }, [badge(r.status, t("red." + r.status)), voided && r.void_reason ? el("span", { class: "small muted why", text: " " + r.void_reason }) : null]),
        el("td", { class: "end keep" }, [voided || r.status === "conflict" ? null : el("button", { type: "button", class: "danger void", text: t("desk.void"),
          onclick: function () { startVoid(r, m); } })])]));
    });
    if (!(c.redemptions || []).length) tb.appendChild(el("tr", {}, [el("td", { colspan: "7", class: "muted", text: t("desk.no_redemptions") })]));
    labelCells(tb);
    show("void-form", false);
    renderPrivacy(c);
    show("card-panel", true);
  }

  // The holder's personal data (docs/privacy.md): a download of everything stored, and an
  // erasure with a reason and a confirmation. An erased card shows when, and offers no erasure.
  function renderPrivacy(c) {
    $("privacy-error").textContent = ""; $("privacy-ok").textContent = "";
    $("erase-reason").value = ""; $("erase-confirm").checked = false;
    $("privacy-state").textContent = c.erased_at ? t("desk.erased_since", { when: dateTime(c.erased_at) }) : t("desk.privacy_hint");
    show("erase-box", !c.erased_at);
  }
  $("privacy-download").addEventListener("click", function () {
    var c = state.card;
    $("privacy-error").textContent = ""; $("privacy-ok").textContent = "";
    api("GET", "/api/v1/cards/" + encodeURIComponent(c.id) + "/personal-data").then(function (res) {
      if (!res.ok) { $("privacy-error").textContent = message(res); return; }
      var url = URL.createObjectURL(new Blob([JSON.stringify(res.body, null, 2)], { type: "application/json" }));
      var a = el("a", { href: url, download: "personal-data-" + c.number + ".json" });
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      $("privacy-ok").textContent = t("desk.privacy_downloaded");
    });
  });
  $("privacy-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var c = state.card, reason = $("erase-reason").value.trim();
    $("privacy-error").textContent = ""; $("privacy-ok").textContent = "";
    if (!reason) { $("privacy-error").textContent = t("desk.reason_needed"); $("erase-reason").focus(); return; }
    if (!$("erase-confirm").checked) { $("privacy-error").textContent = t("desk.erase_confirm_needed"); $("erase-confirm").focus(); return; }
    api("POST", "/api/v1/cards/" + encodeURIComponent(c.id) + "/erase", { reason: reason }).then(function (res) {
      if (!res.ok) { $("privacy-error").textContent = message(res); return; }
      showCard(c.id, false).then(function () { $("privacy-ok").textContent = t("desk.erased_ok"); });
    });
  });

  $("block-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var c = state.card, blocked = c.status === "blocked", reason = $("block-reason").value.trim();
    $("card-error").textContent = ""; $("card-ok").textContent = "";
    if (!blocked && !reason) { $("card-error").textContent = t("desk.reason_needed"); $("block-reason").focus(); return; }
    api("POST", "/api/v1/cards/" + encodeURIComponent(c.id) + (blocked ? "/unblock" : "/block"), { reason: reason }).then(function (res) {
      if (!res.ok) { $("card-error").textContent = message(res); return; }
      showCard(c.id, false).then(function () { $("card-ok").textContent = t(blocked ? "desk.unblocked_ok" : "desk.blocked_ok"); });
    });
  });

  function startVoid(r, m) {
    state.voiding = r;
    $("void-title").textContent = t("desk.void_title", { amount: money(r.discount), merchant: m ? m.name : r.merchant_id, when: dateTime(r.created_at) });
    $("void-reason").value = ""; $("void-error").textContent = "";
    show("void-form", true);
    $("void-form").scrollIntoView({ block: "nearest" });
    $("void-reason").focus({ preventScroll: true });
  }
  $("void-cancel").addEventListener("click", function () { state.voiding = null; show("void-form", false); });
  $("void-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var r = state.voiding, reason = $("void-reason").value.trim();
    if (!r) return;
    if (!reason) { $("void-error").textContent = t("desk.reason_needed"); return; }
    $("void-submit").disabled = true;
    api("POST", "/api/v1/redemptions/" + encodeURIComponent(r.id) + "/void", { reason: reason }).then(function (res) {
      $("void-submit").disabled = false;
      if (!res.ok) { $("void-error").textContent = message(res); return; }
      state.voiding = null;
      showCard(state.card.id, false).then(function () { $("card-ok").textContent = t("desk.voided_ok"); });
    });
  });

  // --- batches ---

  function loadBatches(fresh) {
    var q = $("batch-q").value.trim(), cursor = fresh ? "" : state.batchesCursor;
    $("batch-error").textContent = "";
    var current = ask("batches");
    return api("GET", "/api/v1/batches?limit=20" + (q ? "&q=" + encodeURIComponent(q) : "") + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(function (res) {
      if (!current()) return;
      if (!res.ok) { $("batch-error").textContent = message(res); return; }
      if (fresh) { state.batches = []; $("batches").textContent = ""; }
      state.batches = state.batches.concat(res.body.items);
      state.batchesCursor = res.body.next_cursor || "";
      show("batches-more", !!state.batchesCursor);
      var tb = $("batches");
      res.body.items.forEach(function (b) {
        state.batchNames[b.id] = b;
        tb.appendChild(el("tr", {}, [
          el("td", { class: "main" }, [el("button", { type: "button", class: "link", text: b.name || t("batches.unnamed"), onclick: function () { openBatch(b, true); } })]),
          el("td", { text: productName(b.product) }), el("td", { class: "r num", text: count(b.count) }),
          el("td", { class: "nowrap", text: date(b.created_at) }),
          el("td", { class: "end" }, [el("button", { type: "button", class: "reprint", text: t("batches.pdf"),
            onclick: function (e) { reprint(b, e.currentTarget, $("batch-error")); } })])]));
      });
      if (fresh && !res.body.items.length) tb.appendChild(el("tr", {}, [el("td", { colspan: "5", class: "muted", text: t(q ? "batches.none_found" : "batches.none") })]));
      labelCells(tb);
    });
  }
  $("batch-search").addEventListener("submit", function (e) { e.preventDefault(); loadBatches(true); });
  $("batches-more").addEventListener("click", function () { loadBatches(false); });

  function reprint(b, button, errBox) {
    return download("/api/v1/batches/" + encodeURIComponent(b.id) + "/sheet.pdf?lang=" + state.lang, "citycard-batch-" + b.id + ".pdf", errBox, button);
  }
  $("batch-reprint").addEventListener("click", function (e) { reprint(state.batch, e.currentTarget, $("batch-error")); });

  function openBatch(b, scroll) {
    state.batch = b;
    $("batch-title").textContent = b.name || t("batches.unnamed");
    $("batch-meta").textContent = [productName(b.product), t("batches.count", { n: count(b.count) }), date(b.created_at)].join(" · ");
    show("batch-panel", true);
    loadBatchCards(true);
    if (scroll) $("batch-panel").scrollIntoView({ block: "start" });
  }
  function loadBatchCards(fresh) {
    var b = state.batch, cursor = fresh ? "" : state.batchCardsCursor, current = ask("batch-cards");
    return api("GET", "/api/v1/cards?limit=100&batch=" + encodeURIComponent(b.id) + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(function (res) {
      if (!current()) return;
      if (!res.ok) { $("batch-error").textContent = message(res); return; }
      var tb = $("batch-cards");
      if (fresh) tb.textContent = "";
      state.batchCardsCursor = res.body.next_cursor || "";
      show("batch-cards-more", !!state.batchCardsCursor);
      res.body.items.forEach(function (c) {
        tb.appendChild(el("tr", {}, [
          el("td", { class: "main" }, [el("button", { type: "button", class: "link num", text: formatNumber(c.number), onclick: function () { showCard(c.id, true); } })]),
          el("td", {}, [badge(c.status, t("status." + c.status))]),
          el("td", { class: "nowrap", text: c.activated_at ? dateTime(c.activated_at) : "" }),
          el("td", { class: "nowrap", text: c.expires_at ? dateTime(c.expires_at) : "" })]));
      });
      labelCells(tb);
    });
  }
  $("batch-cards-more").addEventListener("click", function () { loadBatchCards(false); });

  // --- cards: issue and print ---

  function fillProducts() {
    var sel = $("issue-product"), keep = sel.value;
    sel.textContent = "";
    state.products.forEach(function (p) {
      var v = p.validity_hours ? t("issue.hours", { n: p.validity_hours }) : t("issue.days", { n: p.validity_days });
      sel.appendChild(el("option", { value: p.code, text: name(p.name) + " (" + v + ", " + money(p.price) + ")" }));
    });
    if (keep) sel.value = keep;
    var box = $("o-products");
    box.textContent = "";
    state.products.forEach(function (p) {
      box.appendChild(el("label", { class: "check" }, [el("input", { type: "checkbox", value: p.code }), name(p.name)]));
    });
  }

  function countChanged() {
    var many = Number($("issue-count").value) > 1;
    show("holder-field", !many); show("batch-name-field", many);
  }
  $("issue-count").addEventListener("input", countChanged);

  $("issue-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var n = Number($("issue-count").value), product = $("issue-product").value, lang = $("issue-lang").value;
    $("issue-error").textContent = "";
    if (!(n >= 1 && n <= 1000 && Math.floor(n) === n)) { $("issue-error").textContent = t("issue.range"); return; }
    $("issue-submit").disabled = true;
    var batch = { product: product, count: n, lang: lang }, bname = $("issue-name").value.trim();
    if (bname) batch.name = bname; // a batch without a name is left unnamed, not named ""
    var req = n === 1
      ? api("POST", "/api/v1/cards", { product: product, holder: $("issue-holder").value.trim(), lang: lang })
      : api("POST", "/api/v1/cards/batch", batch);
    req.then(function (res) {
      $("issue-submit").disabled = false;
      if (!res.ok) { $("issue-error").textContent = message(res); return; }
      var cards = n === 1 ? [res.body] : res.body.cards;
      state.issued = cards;
      state.issuedBatch = n === 1 ? null : res.body.batch || null;
      if (state.issuedBatch) state.batchNames[state.issuedBatch.id] = state.issuedBatch;
      issuedTitle();
      var ul = $("issued");
      ul.textContent = "";
      cards.slice(0, 20).forEach(function (c) {
        ul.appendChild(el("li", {}, [el("button", { type: "button", class: "link num", text: formatNumber(c.number), onclick: function () { openCard(c.id); } }),
          productName(c.product), c.holder ? el("span", { text: c.holder }) : null,
          el("a", { href: "/c/" + c.token, target: "_blank", rel: "noopener", class: "open-card", text: t("cards.open") })]));
      });
      if (cards.length > 20) ul.appendChild(el("li", { class: "muted", text: t("issue.more", { n: count(cards.length - 20) }) }));
      $("print-error").textContent = "";
      show("issued-panel", true);
      $("issue-holder").value = ""; $("issue-name").value = "";
      loadCards(true);
    });
  });
  function issuedTitle() {
    var n = count(state.issued.length), b = state.issuedBatch;
    $("issued-title").textContent = b && b.name ? t("issue.done_batch", { name: b.name, n: n }) : t("issue.done", { n: n });
  }
  $("print-issued").addEventListener("click", function (e) {
    if (state.issuedBatch) reprint(state.issuedBatch, e.currentTarget, $("print-error"));
    else printCards(state.issued, e.currentTarget, $("print-error"));
  });

  // printCards downloads the server's A4 sheet PDF of the cards: QR codes drawn by the server,
  // so a thousand cards print complete (no image fetched per card).
  function printCards(cards, button, errBox) {
    if (!cards.length) return;
    var ids = cards.map(function (c) { return c.id; }).join(",");
    return download("/api/v1/cards/sheet.pdf?lang=" + state.lang + "&ids=" + encodeURIComponent(ids), "citycard-cards.pdf", errBox, button);
  }

  function loadCards(fresh) {
    var cursor = fresh ? "" : state.cardsCursor, current = ask("cards");
    return api("GET", "/api/v1/cards?limit=50" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(function (res) {
      if (!current()) return;
      if (!res.ok) { $("cards-error").textContent = message(res); return; }
      if (fresh) { state.cards = []; $("cards").textContent = ""; $("select-all").checked = false; }
      state.cards = state.cards.concat(res.body.items);
      state.cardsCursor = res.body.next_cursor || "";
      show("cards-more", !!state.cardsCursor);
      res.body.items.forEach(function (c) {
        var box = el("input", { type: "checkbox", "aria-label": t("cards.select", { number: formatNumber(c.number) }) });
        box.dataset.id = c.id;
        box.addEventListener("change", selectionChanged);
        $("cards").appendChild(el("tr", {}, [el("td", { class: "pick" }, [box]),
          el("td", { class: "main" }, [el("button", { type: "button", class: "link num", text: formatNumber(c.number), onclick: function () { openCard(c.id); } })]),
          el("td", { text: productName(c.product) }), el("td", {}, [badge(c.status, t("status." + c.status))]),
          el("td", { text: c.holder || "" }), el("td", { class: "nowrap", text: date(c.issued_at) }),
          el("td", { class: "end" }, [el("a", { href: "/c/" + c.token, target: "_blank", rel: "noopener", text: t("cards.open") })])]));
      });
      labelCells($("cards"));
      selectionChanged();
    });
  }
  $("cards-more").addEventListener("click", function () { loadCards(false); });
  $("select-all").addEventListener("change", function () {
    document.querySelectorAll("#cards input[type=checkbox]").forEach(function (b) { b.checked = $("select-all").checked; });
    selectionChanged();
  });
  function selected() {
    var ids = {};
    document.querySelectorAll("#cards input[type=checkbox]:checked").forEach(function (b) { ids[b.dataset.id] = true; });
    return state.cards.filter(function (c) { return ids[c.id]; });
  }
  function selectionChanged() {
    var n = selected().length;
    $("print-selected").disabled = n === 0;
    $("print-selected").textContent = n ? t("cards.print_selected_n", { n: count(n) }) : t("cards.print_selected");
  }
  $("print-selected").addEventListener("click", function (e) { printCards(selected(), e.currentTarget, $("cards-error")); });

  // --- merchants ---

  $("pos-url").textContent = location.origin + "/pos";

  function loadMerchants() {
    var current = ask("merchants");
    return all("/api/v1/merchants").then(function (items) {
      if (!current()) return;
      state.merchantsById = null; // names may have changed: the desk reloads them
      var tb = $("merchants");
      tb.textContent = "";
      items.forEach(function (m) {
        var tr = el("tr", { class: state.merchant && state.merchant.id === m.id ? "selected" : "" }, [
          el("td", { class: "main", text: m.name }), el("td", { text: t("cat." + m.category) }),
          el("td", { text: m.address || "" }),
          el("td", {}, [badge(m.status, t("mstatus." + m.status))]),
          el("td", { class: "end" }, [el("button", { type: "button", class: "edit", text: t("edit"), onclick: function () { editMerchant(m); } })])]);
        tr.dataset.id = m.id;
        tb.appendChild(tr);
      });
      labelCells(tb);
      if (state.merchant) {
        var cur = items.filter(function (m) { return m.id === state.merchant.id; })[0];
        if (cur) editMerchant(cur, true);
      }
    }, function (res) { if (current()) $("merchant-error").textContent = message(res); });
  }

  $("merchant-new").addEventListener("click", function () { editMerchant(null); });
  $("merchant-close").addEventListener("click", function () { state.merchant = null; show("merchant-panel", false); loadMerchants(); });

  function editMerchant(m, quiet) {
    state.merchant = m;
    $("merchant-panel").dataset.merchant = m ? m.id : ""; // for admin-pair.js
    $("merchant-title").textContent = m ? m.name : t("merchants.new");
    $("m-name").value = m ? m.name : "";
    $("m-category").value = m ? m.category : "shop";
    $("m-address").value = m ? m.address : "";
    $("m-tax").value = m && m.tax_number || "";
    $("m-iban").value = m && m.iban || "";
    $("m-lat").value = m && m.lat != null ? m.lat : "";
    $("m-lon").value = m && m.lon != null ? m.lon : "";
    checkTax(); checkIBAN();
    if (!quiet) { $("merchant-error").textContent = ""; $("merchant-ok").textContent = ""; }
    $("merchant-save").textContent = t(m ? "m.save" : "m.create");
    show("merchant-suspend", !!m); show("merchant-key", !!m); show("offers-block", !!m);
    if (!quiet) show("offer-form", false);
    rotateArmed = false;
    $("merchant-key").textContent = t("m.rotate"); $("merchant-key").className = "";
    if (m) {
      $("merchant-suspend").textContent = t(m.status === "active" ? "m.suspend" : "m.reactivate");
      $("merchant-suspend").className = m.status === "active" ? "danger" : "";
      loadOffers();
    }
    show("merchant-panel", true);
    document.querySelectorAll("#merchants tr").forEach(function (tr) { tr.className = m && tr.dataset.id === m.id ? "selected" : ""; });
    if (!quiet) {
      $("merchant-panel").scrollIntoView({ block: "start" });
      $("m-name").focus({ preventScroll: true });
    }
  }

  // A hint while typing; the server decides (and its message is shown on 400).
  function ibanOK(v) {
    v = v.replace(/\s+/g, "").toUpperCase();
    if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(v)) return false;
    var s = (v.slice(4) + v.slice(0, 4)).replace(/[A-Z]/g, function (ch) { return String(ch.charCodeAt(0) - 55); }), r = 0;
    for (var i = 0; i < s.length; i++) r = (r * 10 + Number(s[i])) % 97;
    return r === 1;
  }
  function checkIBAN() {
    var v = $("m-iban").value.trim(), bad = v !== "" && !ibanOK(v);
    $("m-iban-hint").textContent = t(bad ? "m.iban_bad" : "m.iban_hint");
    $("m-iban-hint").classList.toggle("warn", bad);
  }
  function checkTax() {
    var v = $("m-tax").value.replace(/\s+/g, "").toUpperCase(), bad = v !== "" && !/^[A-Z]{0,2}\d{8,13}$/.test(v);
    $("m-tax-hint").textContent = t(bad ? "m.tax_bad" : "m.tax_hint");
    $("m-tax-hint").classList.toggle("warn", bad);
  }
  $("m-iban").addEventListener("input", checkIBAN);
  $("m-tax").addEventListener("input", checkTax);

  $("merchant-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("merchant-error").textContent = ""; $("merchant-ok").textContent = "";
    var lat = $("m-lat").value.trim().replace(",", "."), lon = $("m-lon").value.trim().replace(",", ".");
    if ((lat === "") !== (lon === "")) { $("merchant-error").textContent = t("m.both_coords"); return; }
    if (lat !== "" && (isNaN(Number(lat)) || isNaN(Number(lon)))) { $("merchant-error").textContent = t("m.coords_numbers"); return; }
    var body = { name: $("m-name").value.trim(), category: $("m-category").value, address: $("m-address").value.trim(),
      tax_number: $("m-tax").value.trim(), iban: $("m-iban").value.trim(),
      lat: lat === "" ? null : Number(lat), lon: lon === "" ? null : Number(lon) };
    var m = state.merchant;
    api(m ? "PATCH" : "POST", m ? "/api/v1/merchants/" + encodeURIComponent(m.id) : "/api/v1/merchants", body).then(function (res) {
      if (!res.ok) { $("merchant-error").textContent = message(res); return; }
      if (m) {
        editMerchant(res.body, true);
        $("merchant-ok").textContent = t("m.saved");
      } else {
        editMerchant(res.body.merchant, true);
        showKey(res.body.merchant.name, res.body.api_key);
      }
      loadMerchants();
    });
  });

  $("merchant-suspend").addEventListener("click", function () {
    var m = state.merchant;
    var to = m.status === "active" ? "suspended" : "active";
    api("PATCH", "/api/v1/merchants/" + encodeURIComponent(m.id), { status: to }).then(function (res) {
      if (!res.ok) { $("merchant-error").textContent = message(res); return; }
      editMerchant(res.body, true);
      $("merchant-ok").textContent = t(to === "suspended" ? "m.suspended" : "m.reactivated");
      loadMerchants();
    });
  });

  var rotateArmed = false, rotateTimer = 0;
  $("merchant-key").addEventListener("click", function () {
    // Ask once more: the shop's till stops working until it gets the new key.
    if (!rotateArmed) {
      rotateArmed = true;
      $("merchant-key").textContent = t("m.rotate_again");
      $("merchant-key").className = "danger";
      clearTimeout(rotateTimer);
      rotateTimer = setTimeout(function () { rotateArmed = false; $("merchant-key").textContent = t("m.rotate"); $("merchant-key").className = ""; }, 5000);
      return;
    }
    rotateArmed = false;
    $("merchant-key").textContent = t("m.rotate"); $("merchant-key").className = "";
    var m = state.merchant;
    api("POST", "/api/v1/merchants/" + encodeURIComponent(m.id) + "/key").then(function (res) {
      if (!res.ok) { $("merchant-error").textContent = message(res); return; }
      showKey(m.name, res.body.api_key);
    });
  });

  function showKey(who, key) {
    state.keyFor = who;
    $("key-title").textContent = t("key.title", { name: who });
    $("key-value").textContent = key;
    show("key-panel", true);
    $("key-panel").scrollIntoView({ block: "start" });
  }
  $("key-copy").addEventListener("click", function () {
    var k = $("key-value").textContent;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(k).then(function () { $("key-copy").textContent = t("key.copied"); }, selectKey);
    } else selectKey();
  });
  function selectKey() {
    var r = document.createRange(); r.selectNodeContents($("key-value"));
    var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
  }
  $("key-done").addEventListener("click", function () {
    $("key-value").textContent = ""; $("key-copy").textContent = t("key.copy");
    state.keyFor = "";
    show("key-panel", false);
  });

  // --- offers ---

  function terms(o) {
    var x = [];
    if (o.kind === "percent") x.push(t("terms.percent", { v: o.value }));
    else if (o.kind === "amount") x.push(t("terms.amount", { v: money(o.value) }));
    else if (o.kind === "price") x.push(t("terms.price", { v: money(o.value) }));
    else x.push(t("terms.free"));
    if (o.max_discount) x.push(t("terms.max", { v: money(o.max_discount) }));
    if (o.min_amount) x.push(t("terms.min", { v: money(o.min_amount) }));
    x.push(t("o.limit." + o.limit));
    if (o.products && o.products.length) x.push(t("terms.only", { v: o.products.map(productName).join(", ") }));
    if (o.valid_from || o.valid_until) x.push((o.valid_from || "…") + " – " + (o.valid_until || "…"));
    if (o.municipal_share !== "0") x.push(t("terms.share", { v: o.municipal_share }));
    return x.join(" · ");
  }

  function loadOffers() {
    var m = state.merchant, current = ask("offers");
    return all("/api/v1/offers?merchant=" + encodeURIComponent(m.id)).then(function (items) {
      if (!current()) return;
      state.offers = items;
      state.offersById = null;
      var tb = $("offers");
      tb.textContent = "";
      items.forEach(function (o) {
        tb.appendChild(el("tr", {}, [el("td", { class: "main", text: name(o.title) }), el("td", { class: "small", text: terms(o) }),
          el("td", {}, [badge(o.active ? "ok" : "off", t(o.active ? "offer.active" : "offer.inactive"))]),
          el("td", { class: "end" }, [el("div", { class: "actions" }, [
            el("button", { type: "button", text: t("edit"), onclick: function () { editOffer(o); } }),
            el("button", { type: "button", class: o.active ? "danger deactivate" : "activate", text: t(o.active ? "offer.deactivate" : "offer.activate"),
              onclick: function () { setOfferActive(o, !o.active); } })])])]));
      });
      if (!items.length) tb.appendChild(el("tr", {}, [el("td", { colspan: "4", class: "muted", text: t("offers.none") })]));
      labelCells(tb);
    });
  }

  function setOfferActive(o, active) {
    api("PATCH", "/api/v1/offers/" + encodeURIComponent(o.id), { active: active }).then(function (res) {
      if (!res.ok) { $("offer-error").textContent = message(res); return; }
      loadOffers();
    });
  }

  $("offer-new").addEventListener("click", function () { editOffer(null); });
  $("offer-cancel").addEventListener("click", function () { show("offer-form", false); });
  $("o-kind").addEventListener("change", kindChanged);
  function kindChanged() {
    var k = $("o-kind").value;
    show("o-value-field", k !== "free");
    $("o-value-label").textContent = k === "free" ? "" : t("o.value." + k);
  }

  function editOffer(o) {
    state.offer = o;
    $("offer-title").textContent = t(o ? "o.edit" : "offers.new");
    LANGS.forEach(function (l) { $("o-" + l).value = o && o.title[l] || ""; });
    $("o-kind").value = o ? o.kind : "percent";
    $("o-value").value = o && o.value || "";
    $("o-max").value = o && o.max_discount || "";
    $("o-min").value = o && o.min_amount || "";
    $("o-limit").value = o ? o.limit : "once";
    $("o-share").value = o ? o.municipal_share : "0";
    $("o-from").value = o && o.valid_from || "";
    $("o-until").value = o && o.valid_until || "";
    $("o-active").checked = o ? o.active : true;
    document.querySelectorAll("#o-products input").forEach(function (b) { b.checked = !!(o && o.products && o.products.indexOf(b.value) >= 0); });
    $("offer-error").textContent = "";
    kindChanged();
    show("offer-form", true);
    $("offer-form").scrollIntoView({ block: "start" });
    $("o-sl").focus({ preventScroll: true });
  }

  $("offer-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var title = {};
    LANGS.forEach(function (l) { var v = $("o-" + l).value.trim(); if (v) title[l] = v; });
    if (!Object.keys(title).length) { $("offer-error").textContent = t("o.title_needed"); return; }
    var kind = $("o-kind").value;
    var products = [];
    document.querySelectorAll("#o-products input:checked").forEach(function (b) { products.push(b.value); });
    var body = { title: title, kind: kind, value: kind === "free" ? null : decimalInput($("o-value").value),
      max_discount: decimalInput($("o-max").value), min_amount: decimalInput($("o-min").value), limit: $("o-limit").value,
      products: products.length ? products : null, valid_from: $("o-from").value || null, valid_until: $("o-until").value || null,
      municipal_share: decimalInput($("o-share").value) || "0", active: $("o-active").checked };
    var o = state.offer;
    api(o ? "PATCH" : "POST", o ? "/api/v1/offers/" + encodeURIComponent(o.id) : "/api/v1/merchants/" + encodeURIComponent(state.merchant.id) + "/offers", body)
      .then(function (res) {
        if (!res.ok) { $("offer-error").textContent = message(res); return; }
        show("offer-form", false);
        loadOffers();
      });
  });

  // --- finance: the month's report, downloads, statements, closing ---

  // The report opens on the last full month, the one to sign, in the town's zone.
  $("report-month").value = lastFullMonth();
  $("report-form").addEventListener("submit", function (e) { e.preventDefault(); loadReport(); });

  function reportMonth() { return $("report-month").value; }

  // loadReport shows the month's report; keepConflicts (after a decision, which reloads the
  // conflicts itself) leaves the conflict list as it is.
  function loadReport(keepConflicts) {
    var month = reportMonth();
    $("report-error").textContent = "";
    var cf = keepConflicts ? Promise.resolve() : loadConflicts();
    if (!month) return;
    var current = ask("report");
    return api("GET", "/api/v1/reports/monthly?month=" + encodeURIComponent(month)).then(function (res) {
      if (!current()) return;
      if (!res.ok) {
        $("report-error").textContent = message(res); show("report", false); $("report-state").textContent = ""; show("close-open", false);
        state.report = null; show("report-conflicts", false); return;
      }
      state.report = res.body;
      state.reportClosed = res.headers.get("X-Report-SHA256") || "";
      renderReport();
      loadStatements();
      cf.then(renderConflictCount);
    });
  }

  function renderReport() {
    var r = state.report, tot = r.totals, month = r.month;
    $("report").dataset.month = month; // the month shown, for the tests
    var over = month < thisMonth();
    $("report-state").textContent = state.reportClosed ? t("report.closed", { month: monthName(month), sha: state.reportClosed })
      : t(over ? "report.open" : "report.running", { month: monthName(month) });
    $("report-state").className = state.reportClosed ? "good" : "notice";
    show("close-open", over && !state.reportClosed);
    renderClose(month);
    var tiles = $("tiles");
    tiles.textContent = "";
    [["tile.redemptions", count(tot.redemptions)], ["tile.cards_used", count(tot.cards_used)], ["tile.amount", money(tot.amount)],
      ["tile.discount", money(tot.discount)], ["tile.municipality", money(tot.municipal_share)], ["tile.issued", count(tot.cards_issued)],
      ["tile.activated", count(tot.cards_activated)], ["tile.voided", count(tot.voided)]]
      .forEach(function (x) { tiles.appendChild(el("div", { class: "tile" }, [el("div", { class: "label", text: t(x[0]) }), el("div", { class: "value", text: x[1] })])); });
    var tb = $("report-merchants");
    tb.textContent = "";
    r.merchants.forEach(function (m) {
      tb.appendChild(el("tr", {}, [el("td", { class: "main", text: m.name }), el("td", { text: t("cat." + m.category) }),
        el("td", { class: "r num", text: count(m.redemptions) }), el("td", { class: "r num", text: count(m.cards_used) }),
        el("td", { class: "r num", text: money(m.amount) }), el("td", { class: "r num", text: money(m.discount) }),
        el("td", { class: "r num", text: money(m.municipal_share) })]));
    });
    if (!r.merchants.length) tb.appendChild(el("tr", {}, [el("td", { colspan: "7", class: "muted", text: t("report.empty") })]));
    labelCells(tb);
    show("report", true);
    drawReportCharts(); // once visible: a chart is drawn at its box's width
  }

  function loadStatements() {
    var month = reportMonth();
    $("st-error").textContent = "";
    var current = ask("statements");
    return api("GET", "/api/v1/reports/statements?month=" + encodeURIComponent(month)).then(function (res) {
      if (!current()) return;
      var tb = $("statements");
      tb.textContent = "";
      if (!res.ok) { $("st-error").textContent = message(res); $("st-total").textContent = ""; return; }
      $("st-total").textContent = t("st.total", { amount: money(res.body.municipal_share) });
      res.body.statements.forEach(function (s) {
        tb.appendChild(el("tr", { class: Number(s.municipal_share) > 0 ? "" : "zero" }, [
          el("td", { class: "main", text: s.name }), el("td", { class: "r num", text: count(s.redemptions) }),
          el("td", { class: "r num", text: money(s.discount) }), el("td", { class: "r num strong", text: money(s.municipal_share) }),
          el("td", { class: "end" }, [el("button", { type: "button", class: "st-pdf", text: t("st.pdf"), onclick: function (e) {
            download("/api/v1/reports/statements?month=" + month + "&merchant=" + encodeURIComponent(s.merchant_id) + "&format=pdf&lang=" + state.lang,
              "citycard-statements-" + month + "-" + s.merchant_id + ".pdf", $("st-error"), e.currentTarget);
          } })])]));
      });
      if (!res.body.statements.length) tb.appendChild(el("tr", {}, [el("td", { colspan: "5", class: "muted", text: t("report.empty") })]));
      labelCells(tb);
    });
  }
  $("st-all").addEventListener("click", function (e) {
    var month = reportMonth();
    download("/api/v1/reports/statements?month=" + month + "&format=pdf&lang=" + state.lang + ($("st-include-zero").checked ? "&all=true" : ""),
      "citycard-statements-" + month + ".pdf", $("st-error"), e.currentTarget);
  });

  $("report-pdf").addEventListener("click", function (e) {
    var month = reportMonth();
    download("/api/v1/reports/monthly?month=" + month + "&format=pdf&lang=" + state.lang, "citycard-" + month + ".pdf", $("report-error"), e.currentTarget);
  });
  // CSV: plain for programs; "for Excel" with a byte-order mark, semicolons and local numbers.
  function csv(excel, button) {
    var month = reportMonth(), table = $("csv-table").value;
    download("/api/v1/reports/monthly?month=" + month + "&format=csv&table=" + table + (excel ? "&bom=true&sep=semicolon&lang=" + state.lang : ""),
      "citycard-" + month + "-" + table + ".csv", $("report-error"), button);
  }
  $("report-csv").addEventListener("click", function (e) { csv(false, e.currentTarget); });
  $("report-excel").addEventListener("click", function (e) { csv(true, e.currentTarget); });

  // --- conflicts: offline sales that broke a rule, for the office to decide ---

  // monthOf is the town-zone month of an instant, "2026-11": a sale counts in the month it
  // happened in.
  function monthOf(iso) {
    var p = {};
    new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit" }).formatToParts(new Date(iso))
      .forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month;
  }
  function dayOf(iso) {
    return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(new Date(iso));
  }
  function isOpenConflict(r) { return r.status === "conflict" && !r.decision; }

  // loadConflicts lists the town's conflicts, open ones first, each with the completed sale it
  // collided with, looked up among the card's redemptions.
  function loadConflicts() {
    $("cf-error").textContent = "";
    cardIds = {};
    var current = ask("conflicts");
    var looked = lookups().catch(function () {});
    looked.then(function () { if (current()) loadConflictGroups(); });
    return Promise.all([all("/api/v1/redemptions?status=conflict"), looked]).then(function (r) {
      if (!current()) return;
      var items = r[0].filter(function (x) { return x.status === "conflict" || x.conflict_reason; });
      items.sort(function (a, b) {
        var oa = isOpenConflict(a) ? 0 : 1, ob = isOpenConflict(b) ? 0 : 1;
        return (oa - ob) || ((a.occurred_at || a.created_at) < (b.occurred_at || b.created_at) ? -1 : 1);
      });
      state.conflicts = items;
      return Promise.all(items.map(collidedWith)).then(function (others) {
        if (!current()) return;
        state.conflictOthers = others;
        renderConflicts();
        renderConflictCount();
      });
    }, function (res) { if (current()) $("cf-error").textContent = message(res); });
  }

  // cardIds caches card number → id for the card lookups of one listing.
  var cardIds = {};
  // collidedWith finds the completed redemption a conflict collided with: the same card and
  // offer, not voided, not a conflict, and for a daily limit the same local day. Only a
  // reached limit involves another sale; an expired or blocked card does not.
  function collidedWith(r) {
    if (r.conflict_reason !== "limit_reached") return Promise.resolve(null);
    var id = cardIds[r.card_number];
    var find = id ? Promise.resolve(id) : api("GET", "/api/v1/cards?limit=10&number=" + encodeURIComponent(r.card_number)).then(function (res) {
      var c = res.ok ? res.body.items.filter(function (x) { return x.number === r.card_number; })[0] : null;
      return c ? (cardIds[r.card_number] = c.id) : null;
    });
    return find.then(function (cid) {
      if (!cid) return null;
      return api("GET", "/api/v1/cards/" + encodeURIComponent(cid)).then(function (res) {
        if (!res.ok) return null;
        var o = state.offersById && state.offersById[r.offer_id];
        var daily = o && o.limit === "daily", when = r.occurred_at || r.created_at;
        return (res.body.redemptions || []).filter(function (x) {
          return x.id !== r.id && x.offer_id === r.offer_id && x.status === "completed" &&
            (!daily || dayOf(x.occurred_at || x.created_at) === dayOf(when));
        })[0] || null;
      });
    }).catch(function () { return null; });
  }

  // reasonText names a conflict's reason; a code this console does not know is shown as is.
  function reasonText(code) {
    var k = "cf.reason." + code, s = t(k);
    return s === k ? String(code || "") : s;
  }

  function renderConflicts() {
    var tb = $("conflicts"), items = state.conflicts || [];
    tb.textContent = "";
    items.forEach(function (r, i) {
      var m = state.merchantsById && state.merchantsById[r.merchant_id], o = state.offersById && state.offersById[r.offer_id];
      var other = state.conflictOthers && state.conflictOthers[i];
      var sales = el("div", { class: "sales" }, [
        el("div", { class: "this-sale", text: t("cf.this_sale", { amount: money(r.amount), discount: money(r.discount), terminal: r.terminal || "—", recorded: dateTime(r.recorded_at) }) }),
        el("div", { class: "other-sale" + (other ? "" : " muted"), text: other ? t("cf.other_sale", { when: dateTime(other.occurred_at || other.created_at),
          amount: money(other.amount), discount: money(other.discount), terminal: other.terminal || "—" }) : t("cf.no_other") })]);
      var decision;
      if (r.decision) {
        decision = el("div", {}, [badge(r.decision === "accepted" ? "completed" : "voided", t("cf." + r.decision)),
          el("span", { class: "small muted why", text: " " + dateTime(r.decided_at) + (r.decision_note ? " · " + r.decision_note : "") })]);
      } else {
        var note = el("input", { type: "text", class: "cf-note", maxlength: "500", "aria-label": t("cf.note"), placeholder: t("cf.note") });
        decision = el("div", { class: "decide" }, [note,
          el("button", { type: "button", class: "primary cf-accept", text: t("cf.accept"), onclick: function (e) { decide(r, "accept", note, e.currentTarget); } }),
          el("button", { type: "button", class: "danger cf-reject", text: t("cf.reject"), onclick: function (e) { decide(r, "reject", note, e.currentTarget); } })]);
      }
      tb.appendChild(el("tr", { class: isOpenConflict(r) ? "open" : "decided", "data-id": r.id }, [
        el("td", { class: "nowrap keep", text: dateTime(r.occurred_at || r.created_at) }),
        el("td", { class: "main num", text: formatNumber(r.card_number) }),
        el("td", { text: m ? m.name : r.merchant_id }),
        el("td", { text: o ? name(o.title) : r.offer_id }),
        el("td", {}, [badge("conflict", reasonText(r.conflict_reason))]),
        el("td", {}, [sales]),
        el("td", { class: "keep" }, [decision])]));
    });
    if (!items.length) tb.appendChild(el("tr", {}, [el("td", { colspan: "7", class: "muted", text: t("cf.none") })]));
    labelCells(tb);
    var open = items.filter(isOpenConflict).length;
    $("cf-open").textContent = t("cf.open_count", { n: count(open) });
    show("cf-open", open > 0);
  }

  // decide accepts or rejects a conflict with the office's note, then refreshes the list and
  // the month's figures, which change when a sale is accepted.
  function decide(r, what, note, button) {
    $("cf-error").textContent = ""; $("cf-ok").textContent = "";
    var text = note.value.trim();
    if (!text) { $("cf-error").textContent = t("cf.note_required"); note.focus(); return; }
    button.disabled = true;
    api("POST", "/api/v1/redemptions/" + encodeURIComponent(r.id) + "/" + what, { note: text }).then(function (res) {
      button.disabled = false;
      if (!res.ok) { $("cf-error").textContent = message(res); return; }
      $("cf-ok").textContent = t(what === "accept" ? "cf.accepted_ok" : "cf.rejected_ok");
      loadConflicts();
      if (state.report) loadReport(true);
    });
  }

  // --- conflicts in bulk: the open ones by till and reason, a group decided at once ---

  function loadConflictGroups() {
    var current = ask("conflict-groups");
    return api("GET", "/api/v1/redemptions/conflicts/groups").then(function (res) {
      if (!current()) return;
      if (!res.ok) { $("cf-error").textContent = message(res); return; }
      state.conflictGroups = res.body.items || [];
      renderConflictGroups();
    });
  }
  function tillName(g) { return g.terminal || t("cf.no_till"); }
  function groupMerchant(g) {
    var m = state.merchantsById && state.merchantsById[g.merchant_id];
    return m ? m.name : g.merchant_id;
  }
  function renderConflictGroups() {
    var tb = $("cf-groups"), gs = state.conflictGroups || [];
    tb.textContent = "";
    gs.forEach(function (g) {
      tb.appendChild(el("tr", { "data-merchant": g.merchant_id, "data-terminal": g.terminal, "data-reason": g.reason }, [
        el("td", { class: "main", text: groupMerchant(g) }),
        el("td", { class: "cf-till", text: tillName(g) }),
        el("td", {}, [badge("conflict", reasonText(g.reason))]),
        el("td", { class: "num cf-count", text: count(g.open) }),
        el("td", { class: "keep" }, [el("div", { class: "decide" }, [
          el("button", { type: "button", class: "primary cf-accept-all", text: t("cf.accept_all"), onclick: function () { openBulk(g, "accepted"); } }),
          el("button", { type: "button", class: "danger cf-reject-all", text: t("cf.reject_all"), onclick: function () { openBulk(g, "rejected"); } })])])]));
    });
    labelCells(tb);
    show("cf-groups-box", gs.length > 0);
  }

  // The confirmation of a group's decision names what is decided and asks for the note.
  var bulkDialog = $("cf-bulk-dialog"), bulk = null;
  function openBulk(g, decision) {
    var acc = decision === "accepted";
    bulk = { group: g, decision: decision };
    $("cf-bulk-title").textContent = t(acc ? "cf.accept_all_title" : "cf.reject_all_title", { n: count(g.open) });
    $("cf-bulk-what").textContent = t(acc ? "cf.accept_all_what" : "cf.reject_all_what",
      { n: count(g.open), merchant: groupMerchant(g), till: tillName(g), reason: reasonText(g.reason) });
    $("cf-bulk-note").value = "";
    $("cf-bulk-error").textContent = "";
    $("cf-bulk-confirm").textContent = t(acc ? "cf.accept_all" : "cf.reject_all");
    $("cf-bulk-confirm").className = acc ? "primary" : "danger";
    $("cf-bulk-confirm").disabled = false;
    bulkDialog.showModal();
    $("cf-bulk-note").focus();
  }
  $("cf-bulk-cancel").addEventListener("click", function () { bulkDialog.close(); });
  $("cf-bulk-form").addEventListener("submit", function (e) { e.preventDefault(); $("cf-bulk-confirm").click(); });
  // Deciding a group asks the server for up to 500 at a time, until none of the group is left
  // open (or a round decides none: someone else decided the rest meanwhile).
  $("cf-bulk-confirm").addEventListener("click", function () {
    var button = $("cf-bulk-confirm");
    if (!bulk || button.disabled) return;
    var note = $("cf-bulk-note").value.trim();
    if (!note) { $("cf-bulk-error").textContent = t("cf.note_required"); $("cf-bulk-note").focus(); return; }
    var g = bulk.group, decision = bulk.decision, decided = 0, skipped = 0;
    var body = { decision: decision, note: note, filter: { merchant_id: g.merchant_id, terminal: g.terminal, reason: g.reason } };
    button.disabled = true;
    (function round() {
      return api("POST", "/api/v1/redemptions/conflicts/decide", body).then(function (res) {
        if (!res.ok) { $("cf-bulk-error").textContent = message(res); button.disabled = false; return; }
        decided += res.body.decided;
        skipped += res.body.items.length - res.body.decided;
        if (res.body.remaining > 0 && res.body.decided > 0) return round();
        bulkDialog.close();
        $("cf-error").textContent = "";
        $("cf-ok").textContent = t(decision === "accepted" ? "cf.accepted_all_ok" : "cf.rejected_all_ok", { n: count(decided) }) +
          (skipped ? " " + t("cf.bulk_skipped", { n: count(skipped) }) : "");
        loadConflicts();
        if (state.report) loadReport(true);
      });
    })();
  });

  // openConflicts is the number of undecided conflicts of the shown month: the report's
  // open_conflicts, or counted from the list where the report does not give it.
  function openConflicts() {
    var r = state.report;
    if (!r) return 0;
    if (r.open_conflicts != null) return r.open_conflicts;
    if (r.totals && r.totals.open_conflicts != null) return r.totals.open_conflicts;
    return (state.conflicts || []).filter(function (x) { return isOpenConflict(x) && monthOf(x.occurred_at || x.created_at) === r.month; }).length;
  }
  function renderConflictCount() {
    if (!state.report) { show("report-conflicts", false); return; }
    var n = openConflicts(), month = monthName(state.report.month);
    $("report-conflicts-text").textContent = t(n ? "cf.month_open" : "cf.month_none", { n: count(n), month: month });
    $("report-conflicts").className = n ? "error" : "muted";
    show("report-conflicts", true);
  }

  // Closing: a dialog that says what closing means, and the month typed to confirm.
  var dialog = $("close-dialog");
  $("close-open").addEventListener("click", function () {
    var month = reportMonth();
    $("close-title").textContent = t("close.title", { month: monthName(month) });
    $("close-confirm-label").textContent = t("close.type", { month: month });
    $("close-confirm-month").value = ""; $("close-confirm-month").placeholder = month;
    $("close-error").textContent = "";
    $("close-confirm").disabled = true;
    var open = openConflicts();
    $("close-conflicts").textContent = open ? t("close.conflicts", { n: count(open) }) : "";
    show("close-conflicts", open > 0);
    dialog.showModal();
    $("close-confirm-month").focus();
  });
  $("close-confirm-month").addEventListener("input", function () {
    $("close-confirm").disabled = $("close-confirm-month").value.trim() !== reportMonth();
  });
  $("close-cancel").addEventListener("click", function () { dialog.close(); });
  $("close-form").addEventListener("submit", function (e) { e.preventDefault(); if (!$("close-confirm").disabled) $("close-confirm").click(); });
  $("close-confirm").addEventListener("click", function () {
    var month = reportMonth();
    if ($("close-confirm-month").value.trim() !== month) return;
    $("close-confirm").disabled = true;
    api("POST", "/api/v1/reports/monthly/" + encodeURIComponent(month) + "/close").then(function (res) {
      if (!res.ok) { $("close-error").textContent = message(res); $("close-confirm").disabled = false; return; }
      state.closes[month] = res.body;
      dialog.close();
      loadReport();
    });
  });

  // renderClose shows what closing the month gave: its checksum and, where the ledger is
  // signed, the signed checkpoint.
  function renderClose(month) {
    var c = state.closes[month];
    show("close-result", !!c);
    if (!c) return;
    $("close-result-title").textContent = t("close.done", { month: monthName(month) });
    var cp = c.checkpoint;
    facts($("close-facts"), [
      [t("close.closed_at"), dateTime(c.closed_at)],
      [t("close.sha"), c.sha256, "hash"],
      [t("close.ledger_head"), c.ledger_head, "hash"],
      cp ? [t("close.cp_entries"), count(cp.entries)] : [],
      cp ? [t("close.cp_head"), cp.head, "hash"] : [],
      cp ? [t("close.cp_signed_at"), dateTime(cp.signed_at)] : [],
      cp ? [t("close.cp_kid"), cp.kid, "hash"] : [],
      cp ? [t("close.cp_signature"), cp.signature, "hash"] : [],
      cp && cp.reason ? [t("close.cp_reason"), cp.reason] : []
    ]);
  }

  function drawReportCharts() {
    var r = state.report;
    if (!r || $("report").hidden) return;
    columnChart($("chart-days"), r.days.map(function (d) {
      return { label: String(Number(d.date.slice(8))), value: d.redemptions, title: date(d.date + "T12:00:00Z") + ": " + t("chart.day", { n: count(d.redemptions), discount: money(d.discount) }) };
    }));
    var cats = r.categories.slice().sort(function (a, b) { return parseFloat(b.discount) - parseFloat(a.discount); });
    barChart($("chart-categories"), cats.map(function (c) { return { label: t("cat." + c.category), value: parseFloat(c.discount), text: money(c.discount) }; }));
    var top = r.merchants.slice().sort(function (a, b) { return parseFloat(b.discount) - parseFloat(a.discount); }).slice(0, 10);
    barChart($("chart-merchants"), top.map(function (m) { return { label: m.name, value: parseFloat(m.discount), text: money(m.discount) }; }));
  }
  var resizeTimer = 0, lastWidth = window.innerWidth;
  window.addEventListener("resize", function () {
    if (window.innerWidth === lastWidth) return;
    lastWidth = window.innerWidth;
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawReportCharts, 150);
  });

  // --- charts: plain SVG drawn at the width of their box, so text keeps its size ---

  var SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text != null) e.textContent = text;
    return e;
  }
  function niceMax(v) {
    if (v <= 0) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), n = v / p;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 5 ? 5 : 10) * p;
  }

  // columnChart: one column per item (days of the month), value axis on the left.
  function columnChart(box, items) {
    box.textContent = "";
    var W = Math.max(box.clientWidth, 200), H = 200, left = 30, right = 8, bottom = 22, top = 8;
    var max = Math.max(niceMax(Math.max.apply(null, items.map(function (i) { return i.value; }).concat([0]))), 2);
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": t("report.per_day") });
    var plotH = H - bottom - top, step = (W - left - right) / Math.max(items.length, 1);
    // Counts are whole numbers: grid lines at 0, the top, and the middle when it is whole.
    (max % 2 === 0 ? [0, max / 2, max] : [0, max]).forEach(function (v) {
      var y = top + plotH * (1 - v / max);
      s.appendChild(svg("line", { x1: left, x2: W - right, y1: y, y2: y, class: "grid-line" }));
      s.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, count(v)));
    });
    var every = step < 14 ? 5 : step < 22 ? 2 : 1; // label fewer days on a narrow screen
    items.forEach(function (it, i) {
      var h = plotH * it.value / max, x = left + i * step;
      var bar = svg("rect", { x: x + step * 0.15, y: top + plotH - h, width: Math.max(step * 0.7, 1), height: Math.max(h, 0), class: "bar" });
      bar.appendChild(svg("title", {}, it.title));
      s.appendChild(bar);
      if (it.value > 0 && step >= 16) s.appendChild(svg("text", { x: x + step / 2, y: top + plotH - h - 3, "text-anchor": "middle", class: "value" }, count(it.value)));
      if (i === 0 || (i + 1) % every === 0) s.appendChild(svg("text", { x: x + step / 2, y: H - 6, "text-anchor": "middle" }, it.label));
    });
    box.appendChild(s);
  }

  // barChart: one horizontal bar per item, the name above and the value at its right end.
  function barChart(box, items) {
    box.textContent = "";
    if (!items.length) { box.appendChild(el("p", { class: "empty", text: t("report.nothing") })); return; }
    var W = Math.max(box.clientWidth, 200), row = 40, H = items.length * row;
    var max = Math.max.apply(null, items.map(function (i) { return i.value; })) || 1;
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" });
    items.forEach(function (it, i) {
      var y = i * row, w = Math.max((W - 90) * it.value / max, 2);
      var room = Math.floor(W / 7.5), label = it.label.length > room ? it.label.slice(0, room - 1) + "…" : it.label;
      s.appendChild(svg("text", { x: 0, y: y + 13, class: "name" }, label));
      s.appendChild(svg("rect", { x: 0, y: y + 18, width: w, height: 14, rx: 3, class: it.value > 0 ? "bar" : "bar zero" }));
      s.appendChild(svg("text", { x: w + 6, y: y + 30, class: "value" }, it.text));
    });
    box.appendChild(s);
  }

  // --- towns (network admin) ---

  // townTexts redoes the texts of the towns' panels that code sets, after a language switch.
  function townTexts() {
    $("town-title").textContent = state.editTown ? t("towns.edit", { name: name(state.editTown.name) || state.editTown.code }) : t("towns.new");
    privacyNote();
    $("town-save").textContent = t(state.editTown ? "towns.save" : "towns.create");
    if (state.tokensTown) $("tokens-title").textContent = t("tokens.title", { name: name(state.tokensTown.name) || state.tokensTown.code });
    if (state.newToken) $("token-new-title").textContent = t("tokens.new_title", { label: state.newToken });
  }

  function loadTowns() {
    $("towns-error").textContent = "";
    var current = ask("towns");
    return api("GET", "/api/v1/towns?limit=500", undefined, true).then(function (res) {
      if (!current()) return;
      if (!res.ok) { $("towns-error").textContent = message(res); return; }
      state.towns = res.body.items || res.body;
      fillTowns();
      var tb = $("towns");
      tb.textContent = "";
      state.towns.forEach(function (tw) {
        var tr = el("tr", { class: state.editTown && state.editTown.code === tw.code ? "selected" : "" }, [
          el("td", { class: "main", text: name(tw.name) || tw.code }), el("td", { class: "num", text: tw.code }),
          el("td", { text: tw.timezone }), el("td", { class: "nowrap", text: (tw.languages || []).join(", ").toUpperCase() }),
          el("td", { class: "url", text: tw.public_url || "" }),
          el("td", { class: "end" }, [el("div", { class: "actions" }, [
            el("button", { type: "button", class: "edit", text: t("edit"), onclick: function () { editTown(tw); } }),
            el("button", { type: "button", class: "tokens", text: t("towns.tokens"), onclick: function () { openTokens(tw, true); } })])])]);
        tr.dataset.code = tw.code;
        tb.appendChild(tr);
      });
      labelCells(tb);
      if (state.tokensTown) openTokens(state.tokensTown, false);
    });
  }

  $("town-new").addEventListener("click", function () { editTown(null); });
  $("town-cancel").addEventListener("click", function () { state.editTown = null; show("town-panel", false); });

  // The own language cannot also be ticked as another: its box is disabled.
  function ownChanged() {
    var own = $("t-own").value;
    document.querySelectorAll("#t-also input").forEach(function (b) { b.disabled = b.value === own; if (b.disabled) b.checked = false; });
  }
  $("t-own").addEventListener("change", ownChanged);

  // privacyNote says, in the town's settings, when its privacy notice is not filled in (it
  // then names the municipality as the controller and gives no contact), and links to it.
  function privacyNote() {
    var tw = state.editTown, p = tw && tw.privacy || {};
    var unset = !!tw && !p.controller && !p.contact;
    $("t-privacy-unset").textContent = unset ? t("towns.privacy_unset", { name: name(tw.name) || tw.code }) : "";
    show("t-privacy-unset", unset);
    show("t-privacy-view", !!tw);
    if (tw) $("t-privacy-view").href = "/t/" + encodeURIComponent(tw.code) + "/privacy?lang=" + state.lang;
  }

  function editTown(tw) {
    state.editTown = tw;
    townTexts();
    $("t-code").value = tw ? tw.code : "";
    $("t-code").disabled = !!tw;
    $("t-zone").value = tw ? tw.timezone : "Europe/Ljubljana";
    $("t-url").value = tw && tw.public_url || "";
    LANGS.forEach(function (l) { $("t-" + l).value = tw && tw.name && tw.name[l] || ""; });
    var pr = tw && tw.privacy || {};
    $("t-controller").value = pr.controller || ""; $("t-address").value = pr.address || ""; $("t-contact").value = pr.contact || "";
    var langs = tw && tw.languages && tw.languages.length ? tw.languages : ["sl"];
    $("t-own").value = langs[0];
    ownChanged();
    document.querySelectorAll("#t-also input").forEach(function (b) { b.checked = !b.disabled && langs.indexOf(b.value) > 0; });
    $("town-error").textContent = ""; $("town-ok").textContent = "";
    show("town-panel", true);
    document.querySelectorAll("#towns tr").forEach(function (tr) { tr.className = tw && tr.dataset.code === tw.code ? "selected" : ""; });
    $("town-panel").scrollIntoView({ block: "start" });
    (tw ? $("t-sl") : $("t-code")).focus({ preventScroll: true });
  }

  $("town-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("town-error").textContent = ""; $("town-ok").textContent = "";
    var names = {};
    LANGS.forEach(function (l) { var v = $("t-" + l).value.trim(); if (v) names[l] = v; });
    if (!Object.keys(names).length) { $("town-error").textContent = t("towns.name_needed"); return; }
    var langs = [$("t-own").value];
    document.querySelectorAll("#t-also input:checked").forEach(function (b) { if (langs.indexOf(b.value) < 0) langs.push(b.value); });
    var body = { name: names, timezone: $("t-zone").value.trim(), languages: langs, public_url: $("t-url").value.trim(),
      privacy: { controller: $("t-controller").value.trim(), address: $("t-address").value.trim(), contact: $("t-contact").value.trim() } };
    var tw = state.editTown;
    if (!tw) body.code = $("t-code").value.trim();
    api(tw ? "PATCH" : "POST", tw ? "/api/v1/towns/" + encodeURIComponent(tw.code) : "/api/v1/towns", body, true).then(function (res) {
      if (!res.ok) { $("town-error").textContent = message(res); return; }
      state.editTown = res.body;
      townTexts();
      $("t-code").disabled = true;
      $("town-ok").textContent = t(tw ? "towns.saved" : "towns.created", { name: name(res.body.name) || res.body.code });
      loadTowns().then(function () { if (!tw) openTokens(res.body, false); });
    });
  });

  // --- office tokens of a town ---

  function openTokens(tw, scroll) {
    state.tokensTown = tw;
    townTexts();
    show("tokens-panel", true);
    loadTokens();
    if (scroll) $("tokens-panel").scrollIntoView({ block: "start" });
  }
  function loadTokens() {
    var tw = state.tokensTown;
    $("tokens-error").textContent = "";
    var current = ask("tokens");
    return api("GET", "/api/v1/towns/" + encodeURIComponent(tw.code) + "/tokens?limit=500", undefined, true).then(function (res) {
      if (!current()) return;
      if (!res.ok) { $("tokens-error").textContent = message(res); return; }
      var items = res.body.items || res.body, tb = $("tokens");
      tb.textContent = "";
      items.forEach(function (k) {
        var revoked = !!k.revoked_at;
        tb.appendChild(el("tr", { class: revoked ? "zero" : "" }, [
          el("td", { class: "main", text: k.label || k.id }),
          el("td", { class: "nowrap", text: dateTime(k.created_at) }),
          el("td", { class: "nowrap", text: revoked ? t("tokens.revoked_at", { when: dateTime(k.revoked_at) }) : k.last_used_at ? dateTime(k.last_used_at) : t("tokens.never") }),
          el("td", { class: "end" }, [revoked ? null : el("button", { type: "button", class: "danger revoke", text: t("tokens.revoke"),
            onclick: function (e) { revokeToken(k, e.currentTarget); } })])]));
      });
      if (!items.length) tb.appendChild(el("tr", {}, [el("td", { colspan: "4", class: "muted", text: t("tokens.none") })]));
      labelCells(tb);
    });
  }

  $("token-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var tw = state.tokensTown, label = $("token-label").value.trim();
    $("tokens-error").textContent = ""; $("tokens-ok").textContent = "";
    if (!label) return;
    $("token-create").disabled = true;
    api("POST", "/api/v1/towns/" + encodeURIComponent(tw.code) + "/tokens", { label: label }, true).then(function (res) {
      $("token-create").disabled = false;
      if (!res.ok) { $("tokens-error").textContent = message(res); return; }
      state.newToken = res.body.label || label;
      townTexts();
      $("token-value").textContent = res.body.token;
      $("token-copy").textContent = t("key.copy");
      show("token-new-box", true);
      $("token-label").value = "";
      loadTokens();
    });
  });
  $("token-copy").addEventListener("click", function () {
    var k = $("token-value").textContent;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(k).then(function () { $("token-copy").textContent = t("key.copied"); }, selectToken);
    } else selectToken();
  });
  function selectToken() {
    var r = document.createRange(); r.selectNodeContents($("token-value"));
    var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
  }
  $("token-done").addEventListener("click", function () {
    $("token-value").textContent = ""; state.newToken = "";
    show("token-new-box", false);
  });

  // revokeToken asks once more (the office is signed out at once), then revokes.
  function revokeToken(k, button) {
    if (!button.dataset.armed) {
      button.dataset.armed = "1";
      button.textContent = t("tokens.revoke_again");
      setTimeout(function () { if (button.isConnected) { delete button.dataset.armed; button.textContent = t("tokens.revoke"); } }, 5000);
      return;
    }
    var tw = state.tokensTown;
    button.disabled = true;
    api("DELETE", "/api/v1/towns/" + encodeURIComponent(tw.code) + "/tokens/" + encodeURIComponent(k.id), undefined, true).then(function (res) {
      if (!res.ok) { button.disabled = false; $("tokens-error").textContent = message(res); return; }
      $("tokens-ok").textContent = t("tokens.revoked", { label: k.label || k.id });
      loadTokens();
    });
  }

  // --- the network's month: every town's totals and the clearing matrix ---

  $("net-month").value = lastFullMonth();
  $("net-form").addEventListener("submit", function (e) { e.preventDefault(); loadNetwork(); });
  $("net-figure").addEventListener("change", function () { if (state.net) renderMatrix(); });

  function loadNetwork() {
    var month = $("net-month").value;
    $("net-error").textContent = "";
    if (!month) return;
    var current = ask("network");
    return api("GET", "/api/v1/reports/network?month=" + encodeURIComponent(month), undefined, true).then(function (res) {
      if (!current()) return;
      if (!res.ok) { $("net-error").textContent = message(res); show("net-report", false); return; }
      state.net = res.body;
      renderNetwork();
    });
  }

  // cents reads a decimal string of the API ("12.30", "-0.50") as whole cents, exactly: the
  // matrix's sums are added in cents, never in floating point.
  function cents(s) {
    var m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(s == null ? "0" : s));
    if (!m) return 0;
    var v = Number(m[2]) * 100 + Number(((m[3] || "") + "00").slice(0, 2));
    return m[1] ? -v : v;
  }
  function euros(c) { return money((c / 100).toFixed(2)); }

  function renderNetwork() {
    var r = state.net, tot = r.totals || {};
    $("net-report").dataset.month = r.month; // the month shown, for the tests
    var tiles = $("net-tiles");
    tiles.textContent = "";
    [["tile.redemptions", count(tot.redemptions)], ["tile.cards_used", count(tot.cards_used)], ["tile.amount", money(tot.amount)],
      ["tile.discount", money(tot.discount)], ["tile.municipality", money(tot.municipal_share)], ["tile.issued", count(tot.cards_issued)]]
      .forEach(function (x) { tiles.appendChild(el("div", { class: "tile" }, [el("div", { class: "label", text: t(x[0]) }), el("div", { class: "value", text: x[1] })])); });
    var tb = $("net-towns");
    tb.textContent = "";
    (r.towns || []).forEach(function (x) {
      var s = x.totals || {};
      tb.appendChild(el("tr", {}, [el("td", { class: "main", text: townName(x.town) }),
        el("td", { class: "r num", text: count(s.redemptions) }), el("td", { class: "r num", text: count(s.cards_used) }),
        el("td", { class: "r num", text: money(s.amount) }), el("td", { class: "r num", text: money(s.discount) }),
        el("td", { class: "r num", text: money(s.municipal_share) }), el("td", { class: "r num", text: count(s.cards_issued) })]));
    });
    labelCells(tb);
    show("net-report", true);
    renderMatrix();
  }

  // renderMatrix draws the clearing matrix: a row per issuing town, a column per town where
  // the cards were used, the chosen figure in each cell, and the totals of rows and columns
  // added from the cells.
  function renderMatrix() {
    var r = state.net, fig = $("net-figure").value, isCount = fig === "redemptions";
    var codes = (r.towns || []).map(function (x) { return x.town; });
    var cell = {};
    (r.clearing || []).forEach(function (c) {
      [c.issuer, c.acceptor].forEach(function (code) { if (codes.indexOf(code) < 0) codes.push(code); });
      cell[c.issuer + "\n" + c.acceptor] = c;
    });
    function val(c) { return c ? (isCount ? c.redemptions || 0 : cents(c[fig])) : 0; }
    function fmt(v) { return isCount ? count(v) : euros(v); }
    var table = $("net-matrix");
    table.textContent = "";
    var head = el("tr", {}, [el("th", { class: "corner", text: t("net.issuer_acceptor") })]);
    codes.forEach(function (a) { head.appendChild(el("th", { class: "r", scope: "col", text: townName(a) })); });
    head.appendChild(el("th", { class: "r total", scope: "col", text: t("net.total") }));
    table.appendChild(el("thead", {}, [head]));
    var body = el("tbody"), colSum = codes.map(function () { return 0; }), all = 0;
    codes.forEach(function (i) {
      var row = el("tr", {}, [el("th", { scope: "row", text: townName(i) })]), sum = 0;
      codes.forEach(function (a, k) {
        var c = cell[i + "\n" + a], v = val(c);
        sum += v; colSum[k] += v;
        var td = el("td", { class: "r num" + (c ? "" : " empty") + (i === a ? " own" : ""), text: c ? fmt(v) : "–" });
        if (c) td.title = townName(i) + " → " + townName(a) + ": " + t("net.cell", { n: count(c.redemptions), cards: count(c.cards_used),
          amount: money(c.amount), discount: money(c.discount), share: money(c.municipal_share) });
        row.appendChild(td);
      });
      all += sum;
      row.appendChild(el("td", { class: "r num total", text: fmt(sum) }));
      body.appendChild(row);
    });
    var foot = el("tr", { class: "total" }, [el("th", { scope: "row", text: t("net.total") })]);
    colSum.forEach(function (v) { foot.appendChild(el("td", { class: "r num total", text: fmt(v) })); });
    foot.appendChild(el("td", { class: "r num total grand", text: fmt(all) }));
    table.appendChild(body);
    table.appendChild(el("tfoot", {}, [foot]));
  }

  $("net-pdf").addEventListener("click", function (e) {
    var month = $("net-month").value;
    download("/api/v1/reports/network?month=" + month + "&format=pdf&lang=" + state.lang, "citycard-network-" + month + ".pdf", $("net-error"), e.currentTarget, true);
  });
  $("net-csv").addEventListener("click", function (e) {
    var month = $("net-month").value;
    download("/api/v1/reports/network?month=" + month + "&format=csv", "citycard-network-" + month + ".csv", $("net-error"), e.currentTarget, true);
  });

  // --- start ---

  applyTexts();
  countChanged();
  if (state.token) signIn(state.token, !!localStorage.getItem(KEY)); else signOut("");
})();
