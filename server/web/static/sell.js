// The sales point's counter page (/sell). A hotel's reception signs in with the sales point's
// secret (kept in this browser), chooses a product, optionally types the guest's name and
// language, and issues the card: its QR code is shown large for the guest's phone camera (it
// opens the card's page), and one card prints on the receipt printer (80 mm) or on A4.
// Today's cards are listed, each withdrawable within 30 minutes of its issue and before its
// first use. Answers of a question asked again are dropped (ask/current, as the till).
(function () {
  "use strict";
  var KEY = "citycard.sell.key", LANG = "citycard.sell.lang";
  var $ = function (id) { return document.getElementById(id); };
  var PAGE = window.citycardPage, LOCALES = PAGE.LOCALES;
  var MSG = JSON.parse($("sell-messages").textContent);
  var PAGE_TOWN = JSON.parse($("sell-town").textContent || "null");
  var state = { key: localStorage.getItem(KEY) || "", me: null, tz: undefined, last: null, rows: [] };
  var town = PAGE_TOWN;
  var lang = PAGE.pickLang(localStorage.getItem(LANG));

  function cardName() {
    if (!town || !town.card_name) return "";
    return town.card_name[lang] || town.card_name[Object.keys(town.card_name)[0]] || "";
  }
  function applyTown(tw) {
    town = tw || PAGE_TOWN;
    if (town) document.documentElement.setAttribute("data-town", town.code);
    var meta = document.querySelector('meta[name="theme-color"]');
    if (meta && town && town.color) meta.setAttribute("content", town.color);
  }
  function t(key, vars) {
    var s = (MSG[lang] && MSG[lang][key]) || (MSG.en && MSG.en[key]) || key;
    return s.replace(/\{(\w+)\}/g, function (m, k) {
      if (vars && vars[k] !== undefined) return vars[k];
      return k === "card" ? cardName() : m;
    });
  }
  function applyLang() {
    document.documentElement.lang = lang;
    document.title = (cardName() ? cardName() + " · " : "") + t("brand");
    $("card-name").textContent = cardName();
    $("lang").value = lang;
    PAGE.applyTexts(t);
    // The privacy notice of the sales point's town, in the language chosen here.
    var q = new URLSearchParams({ lang: lang });
    if (town && town.code) q.set("town", town.code);
    $("link-privacy").setAttribute("href", "/privacy?" + q.toString());
  }
  $("lang").addEventListener("change", function () {
    lang = $("lang").value;
    localStorage.setItem(LANG, lang);
    applyLang();
    if (state.me) { renderProducts(); renderToday(); }
    if (state.last) renderIssued(state.last);
  });
  applyTown(PAGE_TOWN);
  applyLang();

  // api calls the sales API: {status, body} for any HTTP answer; a 401 signs out.
  function api(method, path, body) {
    var h = { "Authorization": "Bearer " + state.key, "Accept-Language": lang };
    if (body !== undefined) h["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" })
      .then(function (r) {
        return r.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          if (r.status === 401) signOut(t("signin.key_rejected"));
          return { status: r.status, body: data };
        });
      });
  }
  // ask(view)/current(): an answer a newer question of the view made old is dropped.
  var ask = PAGE.makeAsk();
  function message(res) {
    var code = res.body && res.body.error ? res.body.error.code : "http_" + res.status;
    var k = "reason." + code;
    if (MSG.en && MSG.en[k]) return t(k);
    return (res.body && res.body.error && res.body.error.message) || t("reason.unknown", { code: code });
  }
  function euro(s) {
    var n = Number(s);
    if (s === null || s === undefined || s === "" || isNaN(n)) return "";
    return new Intl.NumberFormat(LOCALES[lang], { style: "currency", currency: "EUR" }).format(n);
  }
  function formatNumber(n) { return String(n || "").replace(/(\d{4})(?=\d)/g, "$1 "); }
  function productName(code) {
    var ps = (state.me && state.me.products) || [];
    for (var i = 0; i < ps.length; i++) {
      if (ps[i].code === code) {
        var n = ps[i].name || {};
        return n[lang] || n.sl || n.it || n.en || n.de || code;
      }
    }
    return code;
  }
  function cityDate(d) {
    var p = new Intl.DateTimeFormat("en-CA", { timeZone: state.tz, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d);
    var get = function (k) { return p.filter(function (x) { return x.type === k; })[0].value; };
    return get("year") + "-" + get("month") + "-" + get("day");
  }
  function clock(s) {
    return new Intl.DateTimeFormat(LOCALES[lang], { timeZone: state.tz, hour: "2-digit", minute: "2-digit" }).format(new Date(s));
  }

  // --- signing in ---

  function signOut(why) {
    state.key = ""; state.me = null; state.last = null;
    localStorage.removeItem(KEY);
    $("desk").hidden = true; $("signin").hidden = false; $("signout").hidden = true;
    $("who").textContent = "";
    $("signin-error").textContent = why || "";
  }
  $("signout").addEventListener("click", function () { signOut(""); });
  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    state.key = $("key").value.trim();
    signIn();
  });
  function signIn() {
    var current = ask("me");
    return api("GET", "/api/v1/sales/me").then(function (res) {
      if (!current()) return;
      if (res.status !== 200) { if (res.status !== 401) signOut(message(res)); return; }
      localStorage.setItem(KEY, state.key);
      state.me = res.body; state.tz = res.body.timezone;
      applyTown(res.body.town); applyLang();
      $("who").textContent = res.body.sales_point.name;
      $("signin").hidden = true; $("desk").hidden = false; $("signout").hidden = false;
      $("key").value = "";
      renderProducts();
      loadToday();
    }, function () { $("signin-error").textContent = t("no_connection"); });
  }

  // --- issuing ---

  function renderProducts() {
    var box = $("products"), chosen = (box.querySelector("input:checked") || {}).value;
    Array.prototype.slice.call(box.querySelectorAll("label")).forEach(function (e) { e.remove(); });
    var ps = state.me.products || [];
    ps.forEach(function (p, i) {
      var l = document.createElement("label"), input = document.createElement("input"), name = document.createElement("span"), price = document.createElement("span");
      l.className = "product";
      input.type = "radio"; input.name = "product"; input.value = p.code;
      input.checked = chosen ? chosen === p.code : i === 0;
      name.className = "name"; name.textContent = productName(p.code);
      price.className = "price"; price.textContent = euro(p.price);
      l.append(input, name, price);
      box.appendChild(l);
    });
    $("issue").disabled = ps.length === 0;
    if (ps.length === 0) $("issue-error").textContent = t("issue.no_products");
  }
  $("issue-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var chosen = $("products").querySelector("input:checked");
    if (!chosen) { $("issue-error").textContent = t("issue.choose"); return; }
    var body = { product: chosen.value };
    var holder = $("holder").value.trim(), gl = $("guest-lang").value;
    if (holder) body.holder = holder;
    if (gl) body.lang = gl;
    $("issue").disabled = true; $("issue-error").textContent = "";
    var current = ask("issue");
    api("POST", "/api/v1/sales/cards", body).then(function (res) {
      if (!current()) return;
      if (res.status !== 201) { $("issue-error").textContent = message(res); return; }
      state.last = res.body;
      $("holder").value = ""; $("guest-lang").value = "";
      renderIssued(res.body);
      loadToday();
    }, function () { if (current()) $("issue-error").textContent = t("no_connection"); })
      .finally(function () { $("issue").disabled = false; });
  });
  function renderIssued(c) {
    $("issued").hidden = false;
    $("issued-title").textContent = t("issued.title", { card: cardName() || t("brand") });
    $("issued-qr").src = "/c/" + encodeURIComponent(c.token) + "/qr.png";
    $("issued-qr").alt = t("issued.qr_alt");
    $("issued-number").textContent = formatNumber(c.number);
    $("issued-product").textContent = productName(c.product) + (c.holder ? " · " + c.holder : "");
    $("issued").scrollIntoView({ block: "start" });
  }
  $("issued-done").addEventListener("click", function () { state.last = null; $("issued").hidden = true; $("issue-form").scrollIntoView(); });
  function print(paper) {
    if (!state.last) return;
    var w = window.open("", "_blank");
    fetch("/api/v1/sales/cards/" + encodeURIComponent(state.last.id) + "/receipt.pdf?paper=" + paper + "&lang=" + lang,
      { headers: { "Authorization": "Bearer " + state.key }, cache: "no-store" })
      .then(function (r) { if (!r.ok) throw new Error("http " + r.status); return r.blob(); })
      .then(function (b) { var u = URL.createObjectURL(b); if (w) w.location = u; else window.location = u; })
      .catch(function () { if (w) w.close(); $("today-error").textContent = t("issued.print_failed"); });
  }
  $("print-receipt").addEventListener("click", function () { print("80mm"); });
  $("print-a4").addEventListener("click", function () { print("a4"); });

  // --- today's cards ---

  function loadToday() {
    var current = ask("today");
    return api("GET", "/api/v1/sales/cards?limit=500").then(function (res) {
      if (!current()) return;
      if (res.status !== 200) { $("today-error").textContent = message(res); return; }
      $("today-error").textContent = "";
      var today = cityDate(new Date());
      state.rows = (res.body.items || []).filter(function (c) { return cityDate(new Date(c.issued_at)) === today; });
      renderToday();
    }, function () { if (current()) $("today-error").textContent = t("no_connection"); });
  }
  function withdrawable(c) {
    return c.status === "issued" && Date.now() - new Date(c.issued_at).getTime() < 30 * 60000;
  }
  function renderToday() {
    var ul = $("today");
    ul.textContent = "";
    $("today-empty").hidden = state.rows.length > 0;
    state.rows.forEach(function (c) {
      var li = document.createElement("li"), num = document.createElement("span"), what = document.createElement("span");
      li.dataset.card = c.id;
      if (c.status === "blocked") li.className = "blocked";
      num.className = "num"; num.textContent = formatNumber(c.number);
      what.className = "what";
      what.textContent = clock(c.issued_at) + " · " + productName(c.product) + (c.status === "blocked" ? " · " + t("today.withdrawn") : "");
      li.append(num, what);
      if (withdrawable(c)) {
        var b = document.createElement("button");
        b.type = "button"; b.className = "withdraw"; b.textContent = t("today.withdraw");
        b.addEventListener("click", function () { withdraw(c, b); });
        li.appendChild(b);
      }
      ul.appendChild(li);
    });
  }
  function withdraw(c, b) {
    if (!window.confirm(t("today.withdraw_confirm", { number: formatNumber(c.number) }))) return;
    b.disabled = true;
    var current = ask("withdraw");
    api("POST", "/api/v1/sales/cards/" + encodeURIComponent(c.id) + "/cancel", { reason: t("today.withdraw_reason") }).then(function (res) {
      if (!current()) return;
      if (res.status !== 200) $("today-error").textContent = message(res);
      if (state.last && state.last.id === c.id) { state.last = null; $("issued").hidden = true; }
      loadToday();
    }, function () { if (current()) $("today-error").textContent = t("no_connection"); b.disabled = false; });
  }

  if (state.key) signIn(); else $("signin").hidden = false;
})();
