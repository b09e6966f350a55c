// The web till. A shop pairs it from the console's QR code (or signs in with its API key, kept
// in this browser), reads a card (camera, keyboard-wedge scanner or the typed number), picks an
// offer, types the amount and presses Enter: the discount is quoted and confirmed in one key
// stroke. It can void the last redemption. Everything goes through /api/v1/pos. The clerk's
// language (sl, it, en, de) is remembered in this browser; the texts are in the page.
// When the server cannot be reached, or is slower than NET_WAIT, the till goes offline by
// itself: it verifies scanned tokens against its offline pack, quotes with discount.js, queues
// each sale in IndexedDB (pos-offline.js) and uploads the queue once a probe gets through
// (docs/offline.md).
(function () {
  "use strict";
  var KEY = "citycard.pos.key", TERMINAL = "citycard.pos.terminal", LANG = "citycard.pos.lang";
  var $ = function (id) { return document.getElementById(id); };
  var OFF = window.citycardOffline;
  var NET_WAIT = 4000, PROBE_EVERY = 5000, PACK_EVERY = 5 * 60000;

  var state = {
    key: localStorage.getItem(KEY) || "",
    merchant: null, offers: {}, tz: undefined,
    card: "",        // the scanned text or typed number, sent as "card"
    check: null,     // the answer of /pos/check
    offerId: "",
    quoted: null,    // {body, quote} of the last good quote
    pending: null,   // {key, body}: a confirmation whose answer never came, to retry as is
    confirming: false, // a confirmation (quote and redemption) is on its way: Enter does nothing
    last: null,      // the last redemption this till made
    offline: false,  // the server is out of reach: sales go to the queue
    pack: null,      // the offline pack: {etag, body, fetched}
    queue: [],       // this merchant's offline sales not yet answered by the server, oldest first
    rows: [],        // today's redemptions as the server last listed them
    syncing: false,
    held: 0 // queued sales the last upload was told to keep (too_many_conflicts)
  };

  // --- words ---

  var LANGS = ["sl", "it", "en", "de"];
  var LOCALES = { sl: "sl-SI", it: "it-IT", en: "en-GB", de: "de-DE" };
  var MSG = JSON.parse($("pos-messages").textContent);
  // The clerk's choice, else the browser's first language the till speaks, else Slovene (the
  // town's language).
  var lang = (function () {
    var saved = localStorage.getItem(LANG);
    if (LANGS.indexOf(saved) >= 0) return saved;
    var prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
    for (var i = 0; i < prefs.length; i++) {
      var l = String(prefs[i]).slice(0, 2).toLowerCase();
      if (LANGS.indexOf(l) >= 0) return l;
    }
    return "sl";
  })();
  // The town whose till this is: the page's (its host's, or the only town) until the
  // merchant's /pos/me names it. Its card's name and colour are the till's.
  var PAGE_TOWN = JSON.parse($("pos-town").textContent || "null");
  var town = PAGE_TOWN;
  function cardName() {
    if (!town || !town.card_name) return "";
    return town.card_name[lang] || (town.name && town.card_name[Object.keys(town.name)[0]]) || town.card_name[Object.keys(town.card_name)[0]] || "";
  }
  // applyTown marks the page with the town's code, which /towns.css colours.
  function applyTown(tw) {
    town = tw || PAGE_TOWN;
    if (town) document.documentElement.setAttribute("data-town", town.code);
    else document.documentElement.removeAttribute("data-town");
    var meta = document.querySelector('meta[name="theme-color"]');
    if (meta && town && town.color) meta.setAttribute("content", town.color);
  }
  // t is the text of key in the chosen language, with {name} replaced from vars ({card}: the
  // town's card's name).
  function t(key, vars) {
    var s = (MSG[lang] && MSG[lang][key]) || (MSG.en && MSG.en[key]) || key;
    return s.replace(/\{(\w+)\}/g, function (m, k) {
      if (vars && vars[k] !== undefined) return vars[k];
      return k === "card" ? cardName() : m;
    }).replace(/ {2,}/g, " ");
  }
  // applyLang writes the static texts of the page in the chosen language.
  function applyLang() {
    document.documentElement.lang = lang;
    document.title = (cardName() ? cardName() + " · " : "") + t("brand");
    $("card-name").textContent = cardName();
    $("lang").value = lang;
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (e) { e.textContent = t(e.dataset.i18n); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (e) { e.placeholder = t(e.dataset.i18nPlaceholder); });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-aria-label]"), function (e) { e.setAttribute("aria-label", t(e.dataset.i18nAriaLabel)); });
    // The privacy notice opens in the till's language, which is the clerk's choice here.
    var notice = $("link-privacy");
    if (notice) {
      var u = new URL(notice.getAttribute("href"), location.href);
      u.searchParams.set("lang", lang);
      notice.setAttribute("href", u.pathname + u.search);
    }
  }
  $("lang").addEventListener("change", function () {
    lang = $("lang").value;
    localStorage.setItem(LANG, lang);
    applyLang();
    // Redraw what is on screen in the new language.
    if (state.check) renderCard(true);
    if (state.merchant) loadToday();
  });
  applyTown(PAGE_TOWN);
  applyLang();

  // The till's name in redemptions: one per browser, so the shop sees which device did what.
  function terminal() {
    var t = localStorage.getItem(TERMINAL);
    if (!t) { t = "web-" + randomHex(3); localStorage.setItem(TERMINAL, t); }
    return t;
  }
  function randomHex(n) {
    var b = new Uint8Array(n);
    crypto.getRandomValues(b); // works on plain http too, unlike crypto.randomUUID
    return Array.prototype.map.call(b, function (x) { return (x < 16 ? "0" : "") + x.toString(16); }).join("");
  }

  // --- talking to the API ---

  // api calls the till API. It resolves with {status, body} for any HTTP answer and rejects
  // only when no answer came (network down, timeout).
  function api(method, path, body, headers) {
    var ctl = new AbortController();
    var timer = setTimeout(function () { ctl.abort(); }, NET_WAIT);
    var h = { "Authorization": "Bearer " + state.key, "Accept-Language": lang };
    if (body !== undefined) h["Content-Type"] = "application/json";
    for (var k in headers || {}) h[k] = headers[k];
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal: ctl.signal, cache: "no-store" })
      .then(function (r) {
        return r.text().then(function (text) { // not "t": that is the translation function
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          if (r.status === 401 || (r.status === 403 && data && data.error && data.error.code === "merchant_suspended")) {
            signOut(t(r.status === 401 ? "signin.key_rejected" : "signin.suspended"));
          }
          return { status: r.status, body: data, headers: r.headers };
        });
      }, function (err) {
        goOffline();
        throw err;
      })
      .finally(function () { clearTimeout(timer); });
  }
  // ask(view) starts a new question of a view (the checked card, today's list) and returns
  // current(), true while it is still that view's latest: a card scanned after another, or a
  // new sale begun, makes the answer about the first card old, and an old answer is dropped
  // (counted in the page's data-dropped, for the tests), never shown for the card at hand.
  var asked = {};
  function ask(view) {
    var n = asked[view] = (asked[view] || 0) + 1, counted = false;
    return function () {
      if (asked[view] === n) return true;
      if (!counted) {
        counted = true;
        document.body.dataset.dropped = String(Number(document.body.dataset.dropped || 0) + 1);
      }
      return false;
    };
  }

  function errCode(res) { return res.body && res.body.error ? res.body.error.code : "http_" + res.status; }
  function errMessage(res) { return resReason(res); }
  // resReason is an error answer as a sentence for the clerk: the till's own sentence for its
  // code, else the server's message (in the till's language: api sends Accept-Language).
  function resReason(res, o) {
    var code = errCode(res), msg = res.body && res.body.error && res.body.error.message;
    if ((MSG.en && MSG.en["reason." + code]) || !msg) return reason(code, o);
    return String(msg).replace(/\.$/, "");
  }

  // title is an offer's title in the clerk's language, else in the town's languages first.
  function title(o) {
    var tt = (o && o.title) || {};
    return tt[lang] || tt.sl || tt.it || tt.en || tt.de || t("offer.fallback");
  }
  // townName is a town's name in the clerk's language, else in any, else its code.
  function townName(tw) {
    var n = tw.name || {};
    return n[lang] || n.sl || n.it || n.en || n.de || tw.code;
  }
  // euro formats a decimal string of the API as the clerk's locale writes euros: "23,50 €".
  function euro(s) {
    var n = Number(s);
    if (s === null || s === undefined || s === "" || isNaN(n)) return "";
    return new Intl.NumberFormat(LOCALES[lang], { style: "currency", currency: "EUR" }).format(n);
  }
  function formatNumber(n) { return String(n || "").replace(/(\d{4})(?=\d)/g, "$1 "); }
  // reason is an error code as a sentence for the clerk; o is the offer concerned, if any.
  function reason(code, o) {
    if (code === "limit_reached" && o && o.limit === "daily") return t("reason.limit_reached_daily");
    if (code === "amount_too_low" && o && o.min_amount) return t("reason.amount_too_low_min", { min: euro(o.min_amount) });
    var k = "reason." + code;
    return MSG.en && MSG.en[k] ? t(k) : t("reason.unknown", { code: code });
  }
  function terms(o) {
    var out = [];
    if (o.kind === "percent") out.push(t("terms.percent", { value: Number(o.value).toLocaleString(LOCALES[lang]) }));
    else if (o.kind === "amount") out.push(t("terms.amount", { value: euro(o.value) }));
    else if (o.kind === "price") out.push(t("terms.price", { value: euro(o.value) }));
    else if (o.kind === "free") out.push(t("terms.free"));
    if (o.max_discount) out.push(t("terms.max", { value: euro(o.max_discount) }));
    if (o.min_amount) out.push(t("terms.min", { value: euro(o.min_amount) }));
    out.push(t("limit." + o.limit));
    return out.join(" · ");
  }
  function cityDate(d) { // YYYY-MM-DD in the city's zone
    var p = new Intl.DateTimeFormat("en-CA", { timeZone: state.tz, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d);
    var get = function (k) { return p.filter(function (x) { return x.type === k; })[0].value; };
    return get("year") + "-" + get("month") + "-" + get("day");
  }
  function cityTime(iso, withDate) {
    var o = { timeZone: state.tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (withDate) { o.day = "numeric"; o.month = "numeric"; o.year = "numeric"; }
    return new Date(iso).toLocaleString(LOCALES[lang], o);
  }

  // --- sign in and pairing ---

  function show(id, on) { $(id).hidden = !on; }

  function signOut(message) {
    localStorage.removeItem(KEY);
    state.key = ""; state.merchant = null; state.check = null; state.pack = null; state.rows = [];
    // The pack and the merchant's details go; unsent sales stay, to be uploaded when this
    // merchant signs in again (they carry its id, so no other shop uploads them).
    OFF.put("pack", null).catch(function () {});
    OFF.put("me", null).catch(function () {});
    showBanner();
    show("till", false); show("signout", false); show("result", false); show("void", false);
    stopCamera();
    $("who").textContent = "";
    applyTown(null); applyLang();
    show("signin", true);
    $("signin-error").textContent = message || "";
    $("key").value = "";
    $("pair-code").focus();
  }

  function signIn(key) {
    state.key = key;
    return api("GET", "/api/v1/pos/me").then(function (res) {
      if (res.status !== 200) {
        if (res.status !== 401 && res.status !== 403) signOut(t("signin.failed", { message: errMessage(res) }));
        return;
      }
      localStorage.setItem(KEY, key);
      OFF.put("me", res.body).catch(function () {});
      // The kept pack and queue are loaded first: the upload and the pack's revalidation
      // (If-None-Match) start from them.
      enterTill(res.body).then(goOnline);
    }, function () {
      // No answer: a till signed in before keeps selling offline with what it kept.
      OFF.get("me").then(function (me) {
        if (me && localStorage.getItem(KEY) === key) { enterTill(me); goOffline(); return; }
        $("signin-error").textContent = t("signin.no_connection");
        show("signin", true);
      }).catch(function () {
        $("signin-error").textContent = t("signin.no_connection");
        show("signin", true);
      });
    });
  }
  // enterTill shows the till for the merchant of a /pos/me answer (fresh or kept), with the
  // queue and pack kept on this device. It resolves once they are loaded.
  function enterTill(me) {
    state.merchant = me.merchant;
    state.tz = me.timezone || undefined;
    state.offers = {};
    me.offers.forEach(function (o) { state.offers[o.id] = o; });
    if (me.town) { applyTown(me.town); applyLang(); }
    $("who").textContent = state.merchant.name;
    show("signin", false); show("signout", true); show("till", true);
    resetSale();
    return loadQueue().then(function () {
      return OFF.get("pack");
    }).then(function (p) {
      if (p && p.merchant_id === state.merchant.id) state.pack = p;
      showBanner();
      loadToday();
    }).catch(function () { loadToday(); });
  }

  // pair exchanges a one-time pairing code for this till's own key, then signs in with it.
  function pair(code) {
    code = String(code || "").trim();
    if (!code) return;
    $("pair-error").textContent = "";
    fetch("/api/v1/pos/pair", { method: "POST", headers: { "Content-Type": "application/json", "Accept-Language": lang }, body: JSON.stringify({ code: code }), cache: "no-store" })
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) {
          if (r.status === 201 && body && body.api_key) {
            $("pair-code").value = "";
            signIn(body.api_key);
            return;
          }
          var c = body && body.error ? body.error.code : "http_" + r.status;
          $("pair-error").textContent = c === "pairing_invalid" ? t("pair.invalid")
            : c === "rate_limited" ? t("pair.wait", { seconds: r.headers.get("Retry-After") || "6" }) : reason(c) + ".";
          show("signin", true);
        });
      }, function () {
        $("pair-error").textContent = t("signin.no_connection");
        show("signin", true);
      });
  }
  // pairingCode finds the code in a scanned or pasted till URL (…/pos#pair=CODE), or takes the
  // text as the code itself.
  function pairingCode(text) {
    var m = /[#&]pair=([^&\s]+)/.exec(text || "");
    return m ? decodeURIComponent(m[1]) : "";
  }

  $("signin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var k = $("key").value.trim();
    if (k) signIn(k);
  });
  $("pair-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var v = $("pair-code").value;
    pair(pairingCode(v) || v);
  });
  $("pair-scan").addEventListener("click", function () {
    startCamera("pair", function (text) {
      var code = pairingCode(text);
      if (code) pair(code); else $("pair-error").textContent = t("camera.not_pairing");
    });
  });
  $("signout").addEventListener("click", function () { signOut(""); });

  // --- reading a card ---

  function resetSale() {
    ask("check"); // an answer still on its way is about the customer before
    state.card = ""; state.check = null; state.offerId = ""; state.quoted = null; state.pending = null; state.confirming = false;
    $("scan").value = "";
    $("scan-error").textContent = "";
    $("amount").value = ""; // the next customer's amount is typed afresh
    $("sale-error").textContent = "";
    show("quote", false);
    show("card-panel", false);
    stopCamera();
    $("scan").focus();
  }

  function checkCard(text) {
    text = text.trim();
    if (!text) return;
    $("scan-error").textContent = "";
    var current = ask("check");
    if (state.offline) { checkOffline(text, current); return; }
    api("POST", "/api/v1/pos/check", { card: text }).then(function (res) {
      if (!current()) return;
      if (res.status !== 200) {
        show("card-panel", false);
        if (res.status !== 401) $("scan-error").textContent = resReason(res) + ".";
        $("scan").select();
        return;
      }
      state.card = text; state.check = res.body; state.offerId = ""; state.quoted = null; state.pending = null;
      $("scan").value = "";
      renderCard(false);
    }, function () {
      if (current()) checkOffline(text, current); // the till has just gone offline: decide with the pack
    });
  }

  // checkOffline decides on a scanned card with the pack: a genuine token (Ed25519 against the
  // pack's keys), not blocked, and the offers this card may still use (the pack's uses and
  // the queue's). A typed number cannot be verified offline, so it is refused.
  function checkOffline(text, current) {
    var why = OFF.stop(state.pack && state.pack.body, state.queue.length, Date.now());
    if (why) { $("scan-error").textContent = reason(why) + "."; return; }
    var token = OFF.tokenOf(text);
    if (!token) { $("scan-error").textContent = t("offline.typed"); $("scan").select(); return; }
    var pack = state.pack.body;
    OFF.verify(token, pack.keys).then(function (number) {
      if (!current()) return;
      if (!number) { show("card-panel", false); $("scan-error").textContent = reason("card_invalid") + "."; $("scan").select(); return; }
      var blocked = (pack.blocked || []).indexOf(number) >= 0;
      state.card = text; state.offerId = ""; state.quoted = null; state.pending = null;
      state.check = { card: { number: number, status: blocked ? "blocked" : "offline" },
        offers: OFF.offersFor(pack, state.queue, number, cityDate(new Date())), offline: true };
      $("scan").value = "";
      renderCard(false);
    });
  }

  // renderCard shows the checked card and its offers. redraw keeps the chosen offer and the
  // amount (a change of language).
  function renderCard(redraw) {
    var c = state.check.card;
    $("card-number").textContent = formatNumber(c.number);
    var st = $("card-status");
    st.textContent = t("status." + c.status);
    st.className = "badge " + c.status;
    // A card of another town: say where it is valid, once, instead of a refusal under every offer.
    var elsewhere = c.accepted_in && c.accepted_in.length > 0;
    var note = "";
    if (elsewhere) note = t("card.accepted_in", { towns: c.accepted_in.map(townName).join(", ") });
    else if (c.status === "issued") note = t("card.first_use");
    else if (c.status === "active" && c.expires_at) note = t("card.valid_until", { time: cityTime(c.expires_at, true) });
    else if (c.status === "expired") note = t("card.expired_note");
    else if (c.status === "blocked") note = t("card.blocked_note");
    else if (c.status === "offline") note = t("card.offline_note");
    $("card-note").textContent = note;
    var ul = $("offers");
    ul.textContent = "";
    var available = state.check.offers.filter(function (o) { return o.available; });
    $("offers-title").textContent = t(available.length ? "offers.choose" : "offers.none_usable");
    state.check.offers.forEach(function (o) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button"; b.className = "offer"; b.dataset.offer = o.id;
      b.setAttribute("aria-pressed", String(o.id === state.offerId));
      b.disabled = !o.available;
      var tt = document.createElement("span"); tt.className = "title"; tt.textContent = title(o); b.appendChild(tt);
      var d = document.createElement("span"); d.className = "terms"; d.textContent = terms(o); b.appendChild(d);
      if (!o.available && !(elsewhere && o.reason === "card_not_accepted")) {
        var w = document.createElement("span"); w.className = "why"; w.textContent = reason(o.reason, o); b.appendChild(w);
      }
      b.addEventListener("click", function () { pickOffer(o.id); });
      li.appendChild(b); ul.appendChild(li);
    });
    if (!state.check.offers.length) {
      var li = document.createElement("li"); li.className = "muted"; li.textContent = t("offers.none"); ul.appendChild(li);
    }
    show("card-panel", true);
    if (redraw) {
      if (state.offerId) setAmountLabel(offerById(state.offerId));
      if (state.quoted) showQuote(state.quoted.quote);
      return;
    }
    show("sale", false);
    // One offer that applies is chosen at once: scan, type the amount, Enter.
    if (available.length === 1) pickOffer(available[0].id);
  }

  function setAmountLabel(o) {
    $("amount-label").textContent = t(o && o.kind === "free" ? "amount.label_free" : "amount.label");
  }

  function pickOffer(id) {
    state.offerId = id; state.quoted = null; state.pending = null;
    Array.prototype.forEach.call(document.querySelectorAll(".offer"), function (b) {
      b.setAttribute("aria-pressed", b.dataset.offer === id ? "true" : "false");
    });
    setAmountLabel(offerById(id));
    show("sale", true);
    $("sale-error").textContent = "";
    $("amount").focus();
    keepInView();
    requestQuote();
  }
  function offerById(id) {
    var os = state.check ? state.check.offers : [];
    for (var i = 0; i < os.length; i++) if (os[i].id === id) return os[i];
    return state.offers[id];
  }

  $("scan-form").addEventListener("submit", function (e) {
    e.preventDefault();
    checkCard($("scan").value);
  });

  // A keyboard-wedge scanner types wherever the focus is. When nothing takes typing (the
  // focus is on the page or a button), send its keys to the scan field.
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) return;
    var a = document.activeElement;
    if (a && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT")) return;
    if (!$("void").hidden || $("till").hidden || !$("camera").hidden) return;
    if (!$("result").hidden) {
      if (!$("r-retry").hidden) return; // an unconfirmed sale must be retried or cancelled by hand
      closeResult();
    }
    $("scan").focus(); // the key's character lands in the newly focused field
  });

  // --- amount, quote, confirmation ---

  // amountText accepts "12", "12.5", "12,50" and answers "12.50"-style text, or "" if invalid.
  function amountText() {
    var v = $("amount").value.trim().replace(/\s/g, "").replace(",", ".");
    if (v.charAt(0) === "€") v = v.slice(1);
    if (v.charAt(v.length - 1) === "€") v = v.slice(0, -1);
    return /^\d{1,7}(\.\d{1,2})?$/.test(v) ? v : "";
  }
  function saleBody() {
    return { card: state.card, offer_id: state.offerId, amount: amountText(), terminal: terminal() };
  }
  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  // keepInView scrolls just enough that the quote and the confirm button are on the screen:
  // on a phone they would otherwise sit below it once an offer is chosen.
  function keepInView() {
    var b = $("confirm").getBoundingClientRect();
    if (b.bottom > window.innerHeight || b.top < 0) $("sale").scrollIntoView({ block: "end" });
  }

  var quoteTimer = 0, quoteSeq = 0;
  $("amount").addEventListener("input", function () {
    if (state.confirming) return;
    state.quoted = null; state.pending = null;
    $("confirm").disabled = true;
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(requestQuote, 250);
  });

  function showQuote(q) {
    $("q-amount").textContent = euro(q.amount);
    $("q-discount").textContent = "− " + euro(q.discount);
    $("q-total").textContent = euro(q.total);
    show("quote", true);
  }

  // requestQuote asks for the discount on the typed amount. It resolves with true when the
  // quote for the current body is shown and may be confirmed.
  function requestQuote() {
    clearTimeout(quoteTimer);
    var body = saleBody();
    $("sale-error").textContent = "";
    if (!body.amount) {
      show("quote", false);
      $("confirm").disabled = true;
      if ($("amount").value.trim()) $("sale-error").textContent = t("amount.invalid");
      return Promise.resolve(false);
    }
    if (state.quoted && same(state.quoted.body, body)) return Promise.resolve(true);
    var seq = ++quoteSeq;
    if (state.check && state.check.offline) {
      // The server's arithmetic, in the browser (discount.js): the same cents for every case.
      var o = offerById(body.offer_id), q = window.citycardDiscount(o, body.amount);
      if (q.error) {
        show("quote", false);
        $("confirm").disabled = true;
        $("sale-error").textContent = reason(q.error, o) + ".";
        return Promise.resolve(false);
      }
      q.amount = body.amount;
      state.quoted = { body: body, quote: q };
      showQuote(q);
      $("confirm").disabled = state.confirming;
      keepInView();
      return Promise.resolve(true);
    }
    return api("POST", "/api/v1/pos/quote", body).then(function (res) {
      if (seq !== quoteSeq) return false; // a newer quote is on its way
      if (res.status !== 200) {
        show("quote", false);
        $("confirm").disabled = true;
        if (res.status !== 401) $("sale-error").textContent = resReason(res, offerById(body.offer_id)) + ".";
        return false;
      }
      state.quoted = { body: body, quote: res.body };
      showQuote(res.body);
      $("confirm").disabled = state.confirming;
      keepInView();
      return true;
    }, function () {
      if (seq === quoteSeq) $("sale-error").textContent = t("no_connection");
      return false;
    });
  }

  // Enter in the amount field (or the button) quotes if need be and confirms: one key stroke
  // from the amount to the result. While a confirmation is on its way, a second Enter does
  // nothing, and the button is disabled; once the result shows, the sale is over.
  $("sale").addEventListener("submit", function (e) { e.preventDefault(); confirmSale(); });
  // A form does not submit on Enter while its button is disabled, as it is until the quote
  // is back: the amount field takes Enter itself.
  $("amount").addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || e.isComposing) return;
    e.preventDefault();
    confirmSale();
  });
  function confirmSale() {
    if (state.confirming || !$("result").hidden || !$("void").hidden) return;
    state.confirming = true;
    $("confirm").disabled = true;
    requestQuote().then(function (ok) {
      var body = saleBody();
      if (!ok || !state.quoted || !same(state.quoted.body, body)) {
        state.confirming = false;
        $("confirm").disabled = !state.quoted;
        return;
      }
      // Each confirmation has its own Idempotency-Key; a retry after no answer reuses it, so
      // the sale is recorded once however often the clerk presses "Try again".
      if (!state.pending || !same(state.pending.body, body)) {
        state.pending = { key: "till-" + randomHex(16), body: body, offline: !!(state.check && state.check.offline) };
      }
      redeem();
    });
  }

  function redeem() {
    var p = state.pending;
    state.confirming = true;
    $("confirm").disabled = true;
    if (p.offline) { queueSale(p); return; }
    api("POST", "/api/v1/pos/redemptions", p.body, { "Idempotency-Key": p.key }).then(function (res) {
      if (res.status === 201) {
        state.pending = null; state.quoted = null;
        state.last = res.body;
        showApproved(res.body);
        loadToday();
      } else if (res.status >= 500) {
        showNoAnswer(t("result.server_problem"));
      } else if (res.status !== 401 && res.status !== 403) {
        state.pending = null; state.quoted = null;
        showDeclined(resReason(res, offerById(p.body.offer_id)));
      } else {
        state.confirming = false;
      }
    }, function () {
      // A retry that got no answer either, with the server now out of reach: the sale goes to
      // the queue under the same Idempotency-Key, so if the first try was recorded after all,
      // the upload finds it (the server answers idempotency_mismatch: already recorded) instead
      // of the clerk cancelling and selling it offline a second time.
      p.tries = (p.tries || 0) + 1;
      if (p.tries >= 2 && state.offline && OFF.tokenOf(p.body.card) && !OFF.stop(state.pack && state.pack.body, state.queue.length, Date.now())) {
        p.offline = true; p.retried = true;
        queueSale(p);
        return;
      }
      showNoAnswer(t("result.no_answer"));
    });
  }

  // queueSale records an offline sale: on disk first (IndexedDB), then on the screen, so a sale
  // the clerk saw confirmed survives a reload or a dead battery. Its Idempotency-Key, terminal
  // and occurred_at are fixed now and sent unchanged by every upload.
  function queueSale(p) {
    var now = new Date();
    var why = OFF.stop(state.pack && state.pack.body, state.queue.length, now.getTime());
    if (why) { state.pending = null; showDeclined(reason(why)); return; }
    var body = {};
    for (var k in p.body) body[k] = p.body[k];
    body.occurred_at = now.toISOString();
    var item = { key: p.key, body: body, merchant_id: state.merchant.id, card_number: state.check.card.number,
      day: cityDate(now), quote: state.quoted.quote, retried: !!p.retried };
    OFF.enqueue(item).then(function (seq) {
      item.seq = seq;
      state.queue.push(item);
      state.pending = null; state.quoted = null;
      showResult("queued", "✓", t("result.queued"), [t("result.customer_pays"), euro(item.quote.total)],
        t("result.queued_detail", { discount: euro(item.quote.discount), amount: euro(item.quote.amount),
          offer: title(offerById(body.offer_id)), card: formatNumber(item.card_number) }));
      showBanner();
      renderToday();
    }, function () {
      state.pending = null;
      showDeclined(t("offline.not_stored"));
    });
  }

  // --- offline and back ---

  var probeTimer = 0, packTimer = 0;
  // goOffline switches to offline after a request got no answer in time; a probe every few
  // seconds finds the server again.
  function goOffline() {
    if (state.offline || !state.merchant) return;
    state.offline = true;
    showBanner();
    clearInterval(packTimer);
    clearTimeout(probeTimer);
    probeTimer = setTimeout(probe, PROBE_EVERY);
  }
  function probe() {
    clearTimeout(probeTimer);
    if (!state.offline) return;
    var ctl = new AbortController(), timer = setTimeout(function () { ctl.abort(); }, NET_WAIT);
    fetch("/healthz", { cache: "no-store", signal: ctl.signal }).then(function (r) {
      clearTimeout(timer);
      if (r.ok) goOnline(); else probeTimer = setTimeout(probe, PROBE_EVERY);
    }, function () {
      clearTimeout(timer);
      probeTimer = setTimeout(probe, PROBE_EVERY);
    });
  }
  // goOnline uploads the queue, refreshes the pack and today's list, and keeps the pack fresh.
  function goOnline() {
    state.offline = false;
    showBanner();
    clearInterval(packTimer);
    packTimer = setInterval(refreshPack, PACK_EVERY);
    sync().then(refreshPack).then(loadToday);
  }
  window.addEventListener("online", function () { if (state.offline) probe(); });
  window.addEventListener("offline", goOffline);

  // refreshPack fetches the offline pack when it changed (ETag) and keeps it in IndexedDB.
  function refreshPack() {
    if (!state.merchant || state.offline) return Promise.resolve();
    var h = {}, mine = state.pack && state.pack.merchant_id === state.merchant.id;
    if (mine && state.pack.etag) h["If-None-Match"] = state.pack.etag;
    return api("GET", "/api/v1/pos/offline-pack", undefined, h).then(function (res) {
      if (res.status === 304 && mine) {
        // The server's ETag leaves out the pack's times: 304 says that nothing the till
        // decides by has changed, so the kept pack is as good as one generated now, and its
        // age (max_hours) counts from now.
        state.pack.fetched = Date.now();
        state.pack.body.generated_at = new Date().toISOString();
      } else if (res.status === 200 && res.body) {
        state.pack = { etag: res.headers.get("ETag") || "", body: res.body, merchant_id: state.merchant.id, fetched: Date.now() };
      } else return;
      showBanner();
      return OFF.put("pack", state.pack);
    }, function () {});
  }

  function loadQueue() {
    return OFF.queue().then(function (q) {
      state.queue = q.filter(function (i) { return state.merchant && i.merchant_id === state.merchant.id; });
    }, function () { state.queue = []; });
  }

  // heldTimer sends the queue again while the server holds sales back (too_many_conflicts).
  var heldTimer = null, HELD_RETRY = 60000;
  // sync uploads the queue in order, in batches of up to 500. An item leaves the queue only
  // when the server answered for it; without an answer it stays and goes again with the same
  // Idempotency-Key, so the server replays what it had recorded. Conflicts and refusals are
  // kept as notes for the clerk.
  function sync() {
    if (state.syncing || state.offline || !state.merchant) return Promise.resolve();
    state.syncing = true;
    return loadQueue().then(function next() {
      var batch = state.queue.slice(0, 500);
      if (!batch.length) return;
      var items = batch.map(function (i) {
        var b = { idempotency_key: i.key };
        for (var k in i.body) b[k] = i.body[k];
        return b;
      });
      return api("POST", "/api/v1/pos/redemptions/sync", { items: items }).then(function (res) {
        if (res.status !== 200 || !res.body || !Array.isArray(res.body.items)) return;
        var byKey = {};
        batch.forEach(function (i) { byKey[i.key] = i; });
        var done = [], notes = [], held = 0;
        res.body.items.forEach(function (a) {
          var i = byKey[a.idempotency_key];
          if (!i) return;
          // Held, not refused: the shop has as many conflicts waiting for the office as it
          // may. The sale stays queued and goes again, with the same key, a little later.
          if (a.status === 429 && a.error && a.error.code === "too_many_conflicts") { held++; return; }
          done.push(i.seq);
          var r = a.redemption;
          if (a.status === 201 && r && r.status === "conflict") {
            notes.push({ idempotency_key: i.key, kind: "conflict", code: r.conflict_reason || "", item: i });
          } else if (a.status !== 201 && !(i.retried && a.error && a.error.code === "idempotency_mismatch")) {
            notes.push({ idempotency_key: i.key, kind: "refused", code: a.error && a.error.code || "http_" + a.status, item: i });
          }
        });
        state.held = held;
        clearTimeout(heldTimer);
        if (held) heldTimer = setTimeout(sync, HELD_RETRY);
        return Promise.all(notes.map(OFF.note)).then(function () { return OFF.dequeue(done); }).then(loadQueue).then(function () {
          showBanner();
          return showNotes();
        }).then(function () {
          if (done.length === batch.length) return next();
        });
      }, function () {});
    }).finally(function () { state.syncing = false; renderToday(); });
  }

  // showNotes lists the uploaded sales the server did not simply complete: conflicts for the
  // office to decide, and refusals (a forged token, an unknown offer).
  function showNotes() {
    return OFF.notes().then(function (ns) {
      var ul = $("sync-notes");
      ul.textContent = "";
      ns.forEach(function (n) {
        var li = document.createElement("li");
        li.className = n.kind === "conflict" ? "notice" : "error";
        li.textContent = t(n.kind === "conflict" ? "sync.conflict" : "sync.refused", {
          time: cityTime(n.item.body.occurred_at), card: formatNumber(n.item.card_number),
          offer: title(offerById(n.item.body.offer_id)), why: reason(n.code, offerById(n.item.body.offer_id)) });
        ul.appendChild(li);
      });
      show("sync-box", ns.length > 0);
    }, function () {});
  }
  $("sync-dismiss").addEventListener("click", function () { OFF.clearNotes().then(showNotes, showNotes); });

  // showBanner says plainly whether the till is offline, how many sales wait for upload and
  // how old its pack is.
  function showBanner() {
    var b = $("offline-banner"), n = state.queue.length;
    if (!state.merchant || (!state.offline && !n)) { b.hidden = true; return; }
    var age = "";
    if (state.pack && state.pack.body) {
      var mins = Math.max(0, Math.floor((Date.now() - Date.parse(state.pack.body.generated_at)) / 60000));
      age = mins < 120 ? t("offline.minutes", { n: mins }) : t("offline.hours", { n: Math.floor(mins / 60) });
    }
    b.className = state.offline ? "banner offline" : "banner syncing";
    b.textContent = state.offline
      ? (state.pack ? t("offline.banner", { n: n, age: age }) : t("offline.banner_nopack", { n: n }))
      : state.held ? t("offline.held", { n: n }) : t("offline.pending", { n: n });
    if (!state.offline && state.held) b.className = "banner held";
    b.hidden = false;
  }
  setInterval(showBanner, 30000);

  // --- the result screen ---

  function showResult(kind, mark, heading, main, detail) {
    var r = $("result");
    r.className = "result " + kind;
    $("r-mark").textContent = mark;
    $("r-title").textContent = heading;
    $("r-main").textContent = "";
    if (main) {
      $("r-main").appendChild(document.createTextNode(main[0]));
      var n = document.createElement("span"); n.className = "num"; n.textContent = main[1];
      $("r-main").appendChild(n);
    }
    $("r-detail").textContent = detail || "";
    show("r-retry", kind === "retry");
    show("r-void", kind === "ok");
    $("r-next").textContent = t(kind === "retry" ? "result.cancel_sale" : "result.next");
    // The field behind the screen must not take a second Enter as a new sale; the buttons get
    // the focus only after a moment, so a key bounce does not dismiss the result unseen.
    if (document.activeElement) document.activeElement.blur();
    show("result", true);
    setTimeout(function () {
      if (!$("result").hidden) (kind === "retry" ? $("r-retry") : $("r-next")).focus();
    }, 600);
  }
  function showApproved(r) {
    var o = offerById(r.offer_id);
    showResult("ok", "✓", t("result.approved"), [t("result.customer_pays"), euro(r.total)],
      t("result.detail", { discount: euro(r.discount), amount: euro(r.amount), offer: title(o), card: formatNumber(r.card_number) }));
  }
  function showDeclined(why) {
    showResult("bad", "✗", t("result.declined"), null, t("result.declined_detail", { why: why }));
  }
  function showNoAnswer(what) {
    showResult("retry", "?", t("result.not_confirmed"), null, t("result.no_answer_detail", { what: what }));
  }
  function closeResult() {
    show("result", false);
    resetSale();
  }
  $("r-next").addEventListener("click", closeResult);
  $("r-retry").addEventListener("click", function () { show("result", false); redeem(); });
  $("r-void").addEventListener("click", function () { askVoid(state.last); });

  // --- voiding ---

  var voiding = null;
  function askVoid(r) {
    voiding = r;
    $("void-what").textContent = t("void.what", { time: cityTime(r.created_at), card: formatNumber(r.card_number),
      offer: title(offerById(r.offer_id)), discount: euro(r.discount) });
    $("void-reason").value = "";
    $("void-error").textContent = "";
    show("result", false);
    show("void", true);
    $("void-reason").focus();
  }
  $("void-cancel").addEventListener("click", function () {
    show("void", false);
    if (voiding && state.last && voiding.id === state.last.id && state.last.status === "completed") showApproved(state.last);
    else $("scan").focus();
  });
  $("void-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var why = $("void-reason").value.trim();
    if (!why) { $("void-error").textContent = t("void.why"); return; }
    api("POST", "/api/v1/pos/redemptions/" + encodeURIComponent(voiding.id) + "/void", { reason: why }).then(function (res) {
      if (res.status !== 200) { if (res.status !== 401) $("void-error").textContent = resReason(res) + "."; return; }
      show("void", false);
      if (state.last && state.last.id === res.body.id) state.last = res.body;
      showResult("voided", "↺", t("result.voided"), [t("result.taken_back"), euro(res.body.discount)],
        t("result.voided_detail", { card: formatNumber(res.body.card_number), reason: why }));
      loadToday();
    }, function () { $("void-error").textContent = t("no_connection"); });
  });

  // --- today's redemptions ---

  function loadToday() {
    if (!state.merchant) return Promise.resolve();
    showNotes();
    if (state.offline) { renderToday(); return Promise.resolve(); }
    var today = cityDate(new Date()), current = ask("today");
    return api("GET", "/api/v1/pos/redemptions?from=" + today + "&to=" + today + "&limit=500").then(function (res) {
      if (!current() || res.status !== 200) return;
      state.rows = res.body.items;
      renderToday();
    }, function () { renderToday(); });
  }

  // renderToday shows the queued offline sales (pending, newest first) above the server's list.
  function renderToday() {
    var tb = $("today");
    tb.textContent = "";
    var n = 0, discount = 0;
    var pending = state.queue.slice().reverse().map(function (i) {
      return { pending: true, status: "pending", created_at: i.body.occurred_at, card_number: i.card_number, offer_id: i.body.offer_id,
        discount: i.quote.discount, total: i.quote.total };
    });
    pending.concat(state.rows).forEach(function (r) {
      var tr = document.createElement("tr");
      tr.className = r.status;
      // On a phone the row stacks: the offer first, then the labelled figures.
      var cells = [[cityTime(r.occurred_at || r.created_at), "num", ""], [formatNumber(r.card_number), "num", t("th.card")], [title(offerById(r.offer_id)), "main", ""],
        [euro(r.discount), "r num", t("th.discount")], [euro(r.total), "r num", t("th.pays")]];
      cells.forEach(function (c) {
        var td = document.createElement("td");
        td.textContent = c[0];
        td.className = c[1];
        if (c[2]) td.dataset.label = c[2];
        tr.appendChild(td);
      });
      var td = document.createElement("td");
      td.className = "keep r end";
      var s = document.createElement("span");
      if (r.status === "completed") {
        n++; discount += Math.round(parseFloat(r.discount) * 100);
        var b = document.createElement("button");
        b.type = "button"; b.className = "danger"; b.textContent = t("today.void");
        b.addEventListener("click", function () { askVoid(r); });
        td.appendChild(b);
      } else if (r.status === "pending") {
        // Counted in the sum too: the customer got the discount.
        n++; discount += Math.round(parseFloat(r.discount) * 100);
        s.className = "badge pending"; s.textContent = t("today.pending");
        td.appendChild(s);
      } else if (r.status === "conflict") {
        s.className = "badge conflict"; s.textContent = t("today.conflict");
        s.title = r.conflict_reason ? reason(r.conflict_reason, offerById(r.offer_id)) : "";
        td.appendChild(s);
      } else {
        s.className = "badge voided"; s.textContent = t("today.voided");
        s.title = r.void_reason || "";
        td.appendChild(s);
      }
      tr.appendChild(td);
      tb.appendChild(tr);
    });
    show("today-empty", pending.length + state.rows.length === 0);
    $("today-sum").textContent = n ? t("today.sum", { n: n, sum: euro((discount / 100).toFixed(2)) }) : "";
  }
  $("today-refresh").addEventListener("click", loadToday);

  // --- camera: a card's QR code at the till, the pairing QR code at sign-in ---

  var stream = null, scanning = false, onScan = null;
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) { show("camera-start", true); show("pair-scan", true); }

  $("camera-start").addEventListener("click", function () { startCamera("card", checkCard); });
  $("camera-stop").addEventListener("click", function () {
    stopCamera();
    ($("till").hidden ? $("pair-code") : $("scan")).focus();
  });

  // startCamera reads QR codes until one is found, then hands its text to found. what is
  // "card" or "pair": which hint to show, and where to say that the camera failed.
  function startCamera(what, found) {
    var errorField = what === "pair" ? "pair-error" : "scan-error";
    $(errorField).textContent = "";
    $("camera-hint").textContent = t(what === "pair" ? "camera.hint_pair" : "camera.hint");
    onScan = found;
    decoder().then(function (decode) {
      return navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
        stream = s;
        var v = $("video");
        v.srcObject = s;
        show("camera", true);
        scanning = true;
        return v.play().then(function () { loop(v, decode); });
      });
    }).catch(function (err) {
      stopCamera();
      $(errorField).textContent = t("camera.failed", { error: err && err.name || "error" });
    });
  }
  function stopCamera() {
    scanning = false;
    if (stream) stream.getTracks().forEach(function (tr) { tr.stop(); });
    stream = null;
    show("camera", false);
  }
  function loop(video, decode) {
    if (!scanning) return;
    decode(video).then(function (text) {
      if (!scanning) return;
      if (text) { stopCamera(); if (onScan) onScan(text); return; }
      setTimeout(function () { loop(video, decode); }, 120);
    }, function () { setTimeout(function () { loop(video, decode); }, 300); });
  }

  // decoder resolves with a function from a playing video to the QR code's text (or ""): the
  // browser's BarcodeDetector where it reads QR codes, else the embedded jsQR.
  function decoder() {
    if ("BarcodeDetector" in window) {
      return window.BarcodeDetector.getSupportedFormats().then(function (f) {
        if (f.indexOf("qr_code") < 0) return jsqrDecoder();
        var d = new window.BarcodeDetector({ formats: ["qr_code"] });
        $("camera").dataset.decoder = "BarcodeDetector";
        return function (video) { return d.detect(video).then(function (codes) { return codes.length ? codes[0].rawValue : ""; }); };
      }, jsqrDecoder);
    }
    return jsqrDecoder();
  }
  var jsqrLoaded = null;
  function jsqrDecoder() {
    if (!jsqrLoaded) {
      jsqrLoaded = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = "/static/vendor/jsQR.js";
        s.onload = resolve;
        s.onerror = function () { reject(new Error("decoder")); };
        document.head.appendChild(s);
      });
    }
    return jsqrLoaded.then(function () {
      $("camera").dataset.decoder = "jsQR";
      var canvas = document.createElement("canvas"), ctx = canvas.getContext("2d", { willReadFrequently: true });
      return function (video) {
        var w = video.videoWidth, h = video.videoHeight;
        if (!w || !h) return Promise.resolve("");
        var scale = Math.min(1, 640 / Math.max(w, h)); // small frames decode fast enough on a phone
        canvas.width = Math.round(w * scale); canvas.height = Math.round(h * scale);
        ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
        var img = ctx.getImageData(0, 0, canvas.width, canvas.height);
        var code = window.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
        return Promise.resolve(code ? code.data : "");
      };
    });
  }

  // --- start ---

  // The service worker (scope /pos) keeps the till's page and assets, so the till opens with
  // no network. This page was loaded before the worker existed: ask it to keep what it needs.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/pos" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      var urls = [location.pathname, "/static/vendor/jsQR.js", "/static/icon.svg"];
      Array.prototype.forEach.call(document.querySelectorAll('link[rel="stylesheet"], script[src]'), function (e) { urls.push(e.href || e.src); });
      reg.active.postMessage({ type: "keep", urls: urls });
    }).catch(function () { /* no offline copy; the till still works online */ });
  }

  // A pairing link (/pos#pair=CODE, from the console's QR code) pairs this till. The code is
  // taken out of the address at once, so it stays neither in the history nor on the screen.
  var code = pairingCode(location.hash);
  if (code) {
    history.replaceState(null, "", location.pathname + location.search);
    pair(code);
  } else if (state.key) signIn(state.key);
  else signOut("");
})();
