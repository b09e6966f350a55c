// The web till. A shop signs in with its API key (kept in this browser), reads a card (camera,
// keyboard-wedge scanner or the typed number), picks an offer, types the amount, sees the
// discount, confirms, and can void the last redemption. Everything goes through /api/v1/pos.
(function () {
  "use strict";
  var KEY = "citycard.pos.key", TERMINAL = "citycard.pos.terminal";
  var $ = function (id) { return document.getElementById(id); };

  var state = {
    key: localStorage.getItem(KEY) || "",
    merchant: null, offers: {}, tz: undefined,
    card: "",        // the scanned text or typed number, sent as "card"
    check: null,     // the answer of /pos/check
    offerId: "",
    quoted: null,    // {body, quote} of the last good quote
    pending: null,   // {key, body}: a confirmation whose answer never came, to retry as is
    last: null       // the last redemption this till made
  };

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
    var timer = setTimeout(function () { ctl.abort(); }, 15000);
    var h = { "Authorization": "Bearer " + state.key };
    if (body !== undefined) h["Content-Type"] = "application/json";
    for (var k in headers || {}) h[k] = headers[k];
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal: ctl.signal, cache: "no-store" })
      .then(function (r) {
        return r.text().then(function (t) {
          var data = null;
          try { data = t ? JSON.parse(t) : null; } catch (e) { data = null; }
          if (r.status === 401 || (r.status === 403 && data && data.error && data.error.code === "merchant_suspended")) {
            signOut(r.status === 401 ? "The key was not accepted. It may have been replaced: ask the town-centre office for the new one."
              : "This shop is suspended. Please contact the town-centre office.");
          }
          return { status: r.status, body: data };
        });
      })
      .finally(function () { clearTimeout(timer); });
  }
  function errCode(res) { return res.body && res.body.error ? res.body.error.code : "http_" + res.status; }
  function errMessage(res) { return res.body && res.body.error ? res.body.error.message : "unexpected answer (" + res.status + ")"; }

  // --- words ---

  var lang = (navigator.language || "en").slice(0, 2);
  function title(o) {
    var t = (o && o.title) || {};
    return t[lang] || t.en || t.sl || t.it || t.de || "offer";
  }
  function euro(s) { return "€ " + s; }
  function formatNumber(n) { return String(n || "").replace(/(\d{4})(?=\d)/g, "$1 "); }
  var REASONS = {
    limit_reached: function (o) { return o && o.limit === "daily" ? "Already used today" : "Already used with this card"; },
    offer_inactive: function () { return "Not valid today"; },
    offer_not_eligible: function () { return "Not included in this card"; },
    card_expired: function () { return "The card has expired"; },
    card_blocked: function () { return "The card is blocked"; },
    card_not_found: function () { return "No such card"; },
    card_invalid: function () { return "This is not a valid Koper Card code"; },
    amount_too_low: function (o) { return o && o.min_amount ? "The purchase must be at least " + euro(o.min_amount) : "The amount is too low for this offer"; },
    offer_not_found: function () { return "This offer no longer exists"; },
    invalid_request: function () { return "Check the amount (for example 12.50)"; },
    idempotency_mismatch: function () { return "This confirmation was already used for another sale"; },
    already_voided: function () { return "It was already voided"; },
    not_found: function () { return "Not found"; }
  };
  function reason(code, o) { return REASONS[code] ? REASONS[code](o) : code; }
  function terms(o) {
    var t = [];
    if (o.kind === "percent") t.push(o.value + " % off");
    else if (o.kind === "amount") t.push(euro(o.value) + " off");
    else if (o.kind === "price") t.push("price " + euro(o.value));
    else if (o.kind === "free") t.push("free");
    if (o.max_discount) t.push("at most " + euro(o.max_discount));
    if (o.min_amount) t.push("from " + euro(o.min_amount));
    t.push({ once: "once per card", daily: "once a day", unlimited: "no limit" }[o.limit] || o.limit);
    return t.join(" · ");
  }
  var STATUS = { issued: "Not yet used", active: "Valid", expired: "Expired", blocked: "Blocked" };
  function cityDate(d) { // YYYY-MM-DD in the city's zone
    var p = new Intl.DateTimeFormat("en-CA", { timeZone: state.tz, year: "numeric", month: "2-digit", day: "2-digit" }).formatToParts(d);
    var get = function (k) { return p.filter(function (x) { return x.type === k; })[0].value; };
    return get("year") + "-" + get("month") + "-" + get("day");
  }
  function cityTime(iso, withDate) {
    var o = { timeZone: state.tz, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (withDate) { o.day = "numeric"; o.month = "numeric"; o.year = "numeric"; }
    return new Date(iso).toLocaleString("sl-SI", o);
  }

  // --- sign in ---

  function show(id, on) { $(id).hidden = !on; }

  function signOut(message) {
    localStorage.removeItem(KEY);
    state.key = ""; state.merchant = null;
    show("till", false); show("signout", false); show("result", false); show("void", false);
    $("who").textContent = "";
    show("signin", true);
    $("signin-error").textContent = message || "";
    $("key").value = "";
    $("key").focus();
  }

  function signIn(key) {
    state.key = key;
    return api("GET", "/api/v1/pos/me").then(function (res) {
      if (res.status !== 200) {
        if (res.status !== 401 && res.status !== 403) signOut("Could not sign in: " + errMessage(res));
        return;
      }
      localStorage.setItem(KEY, key);
      state.merchant = res.body.merchant;
      state.tz = res.body.timezone || undefined;
      state.offers = {};
      res.body.offers.forEach(function (o) { state.offers[o.id] = o; });
      $("who").textContent = state.merchant.name;
      show("signin", false); show("signout", true); show("till", true);
      resetSale();
      loadToday();
    }, function () {
      $("signin-error").textContent = "No connection to the server. Check the network and try again.";
      show("signin", true);
    });
  }

  $("signin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var k = $("key").value.trim();
    if (k) signIn(k);
  });
  $("signout").addEventListener("click", function () { signOut(""); });

  // --- reading a card ---

  function resetSale() {
    state.card = ""; state.check = null; state.offerId = ""; state.quoted = null; state.pending = null;
    $("scan").value = "";
    $("scan-error").textContent = "";
    show("card-panel", false);
    stopCamera();
    $("scan").focus();
  }

  function checkCard(text) {
    text = text.trim();
    if (!text) return;
    $("scan-error").textContent = "";
    api("POST", "/api/v1/pos/check", { card: text }).then(function (res) {
      if (res.status !== 200) {
        show("card-panel", false);
        $("scan-error").textContent = reason(errCode(res)) + ".";
        $("scan").select();
        return;
      }
      state.card = text; state.check = res.body; state.offerId = ""; state.quoted = null; state.pending = null;
      $("scan").value = "";
      renderCard();
    }, function () {
      $("scan-error").textContent = "No connection to the server. Try again.";
    });
  }

  function renderCard() {
    var c = state.check.card;
    $("card-number").textContent = formatNumber(c.number);
    var st = $("card-status");
    st.textContent = STATUS[c.status] || c.status;
    st.className = "badge " + c.status;
    var note = "";
    if (c.status === "issued") note = "First use: this purchase starts the card's validity.";
    else if (c.status === "active" && c.expires_at) note = "Valid until " + cityTime(c.expires_at, true) + ".";
    else if (c.status === "expired") note = "This card can no longer be used.";
    else if (c.status === "blocked") note = "This card was blocked by the office. Do not give a discount.";
    $("card-note").textContent = note;
    var ul = $("offers");
    ul.textContent = "";
    var available = state.check.offers.filter(function (o) { return o.available; });
    $("offers-title").textContent = available.length ? "Choose the offer" : "No offer can be used";
    state.check.offers.forEach(function (o) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button"; b.className = "offer"; b.dataset.offer = o.id;
      b.setAttribute("aria-pressed", "false");
      b.disabled = !o.available;
      var t = document.createElement("span"); t.className = "title"; t.textContent = title(o); b.appendChild(t);
      var d = document.createElement("span"); d.className = "terms"; d.textContent = terms(o); b.appendChild(d);
      if (!o.available) {
        var w = document.createElement("span"); w.className = "why"; w.textContent = reason(o.reason, o); b.appendChild(w);
      }
      b.addEventListener("click", function () { pickOffer(o.id); });
      li.appendChild(b); ul.appendChild(li);
    });
    if (!state.check.offers.length) {
      var li = document.createElement("li"); li.className = "muted"; li.textContent = "Your shop has no active offers."; ul.appendChild(li);
    }
    show("card-panel", true);
    show("sale", false);
    if (available.length === 1) pickOffer(available[0].id);
  }

  function pickOffer(id) {
    state.offerId = id; state.quoted = null; state.pending = null;
    Array.prototype.forEach.call(document.querySelectorAll(".offer"), function (b) {
      b.setAttribute("aria-pressed", b.dataset.offer === id ? "true" : "false");
    });
    var o = offerById(id);
    $("amount-label").textContent = o && o.kind === "free" ? "Price of what is given free (€)" : "Amount of the purchase (€)";
    show("sale", true);
    $("sale-error").textContent = "";
    $("amount").focus();
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
    if (!$("void").hidden || $("till").hidden) return;
    if (!$("result").hidden) closeResult();
    $("scan").focus(); // the key's character lands in the newly focused field
  });

  // --- amount, quote, confirmation ---

  // amountText accepts "12", "12.5", "12,50" and answers "12.50"-style text, or "" if invalid.
  function amountText() {
    var v = $("amount").value.trim().replace(/\s/g, "").replace(",", ".");
    if (v.charAt(0) === "€") v = v.slice(1);
    return /^\d{1,7}(\.\d{1,2})?$/.test(v) ? v : "";
  }
  function saleBody() {
    return { card: state.card, offer_id: state.offerId, amount: amountText(), terminal: terminal() };
  }
  function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

  var quoteTimer = 0, quoteSeq = 0;
  $("amount").addEventListener("input", function () {
    state.quoted = null; state.pending = null;
    $("confirm").disabled = true;
    clearTimeout(quoteTimer);
    quoteTimer = setTimeout(requestQuote, 250);
  });

  function requestQuote() {
    var body = saleBody();
    $("sale-error").textContent = "";
    if (!body.amount) {
      show("quote", false);
      $("confirm").disabled = true;
      if ($("amount").value.trim()) $("sale-error").textContent = "Type the amount in euros, for example 12.50.";
      return Promise.resolve();
    }
    var seq = ++quoteSeq;
    return api("POST", "/api/v1/pos/quote", body).then(function (res) {
      if (seq !== quoteSeq) return; // a newer quote is on its way
      if (res.status !== 200) {
        show("quote", false);
        $("confirm").disabled = true;
        $("sale-error").textContent = reason(errCode(res), offerById(body.offer_id)) + ".";
        return;
      }
      state.quoted = { body: body, quote: res.body };
      $("q-amount").textContent = euro(res.body.amount);
      $("q-discount").textContent = "− " + euro(res.body.discount);
      $("q-total").textContent = euro(res.body.total);
      show("quote", true);
      $("confirm").disabled = false;
    }, function () {
      if (seq === quoteSeq) $("sale-error").textContent = "No connection to the server.";
    });
  }

  $("sale").addEventListener("submit", function (e) {
    e.preventDefault();
    var body = saleBody();
    if (!state.quoted || !same(state.quoted.body, body)) {
      requestQuote(); // Enter in the amount field before the quote came back
      return;
    }
    // Each confirmation has its own Idempotency-Key; a retry after no answer reuses it, so
    // the sale is recorded once however often the clerk presses "Try again".
    if (!state.pending || !same(state.pending.body, body)) state.pending = { key: "till-" + randomHex(16), body: body };
    redeem();
  });

  function redeem() {
    var p = state.pending;
    $("confirm").disabled = true;
    api("POST", "/api/v1/pos/redemptions", p.body, { "Idempotency-Key": p.key }).then(function (res) {
      $("confirm").disabled = false;
      if (res.status === 201) {
        state.pending = null;
        state.last = res.body;
        showApproved(res.body);
        loadToday();
      } else if (res.status >= 500) {
        showNoAnswer("The server had a problem.");
      } else if (res.status !== 401 && res.status !== 403) {
        state.pending = null;
        showDeclined(reason(errCode(res), offerById(p.body.offer_id)));
      }
    }, function () {
      $("confirm").disabled = false;
      showNoAnswer("No answer from the server.");
    });
  }

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
    $("r-next").textContent = kind === "retry" ? "Cancel this sale" : "Next customer";
    show("result", true);
    (kind === "retry" ? $("r-retry") : $("r-next")).focus();
  }
  function showApproved(r) {
    var o = offerById(r.offer_id);
    showResult("ok", "✓", "Approved", ["Customer pays", euro(r.total)],
      "Discount " + euro(r.discount) + " on " + euro(r.amount) + " · " + title(o) + " · card " + formatNumber(r.card_number));
  }
  function showDeclined(why) {
    showResult("bad", "✗", "Not approved", null, why + ". No discount was given.");
  }
  function showNoAnswer(what) {
    showResult("retry", "?", "Not confirmed", null,
      what + " The discount may not be recorded. Press “Try again”: it cannot be recorded twice.");
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
    $("void-what").textContent = cityTime(r.created_at) + " · card " + formatNumber(r.card_number) + " · " +
      title(offerById(r.offer_id)) + " · discount " + euro(r.discount);
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
    if (!why) { $("void-error").textContent = "Say why, for the shop's records."; return; }
    api("POST", "/api/v1/pos/redemptions/" + encodeURIComponent(voiding.id) + "/void", { reason: why }).then(function (res) {
      if (res.status !== 200) { $("void-error").textContent = reason(errCode(res)) + "."; return; }
      show("void", false);
      if (state.last && state.last.id === res.body.id) state.last = res.body;
      showResult("voided", "↺", "Voided", ["Discount taken back", euro(res.body.discount)],
        "Card " + formatNumber(res.body.card_number) + " · reason: " + why);
      loadToday();
    }, function () { $("void-error").textContent = "No connection to the server. Try again."; });
  });

  // --- today's redemptions ---

  function loadToday() {
    var today = cityDate(new Date());
    return api("GET", "/api/v1/pos/redemptions?from=" + today + "&to=" + today + "&limit=500").then(function (res) {
      if (res.status !== 200) return;
      var tb = $("today");
      tb.textContent = "";
      var n = 0, discount = 0;
      res.body.items.forEach(function (r) {
        var tr = document.createElement("tr");
        tr.className = r.status;
        // On a phone the row stacks: the offer first, then the labelled figures.
        var cells = [[cityTime(r.created_at), "num", ""], [formatNumber(r.card_number), "num", "Card"], [title(offerById(r.offer_id)), "main", ""],
          [euro(r.discount), "r num", "Discount"], [euro(r.total), "r num", "Pays"]];
        cells.forEach(function (c) {
          var td = document.createElement("td");
          td.textContent = c[0];
          td.className = c[1];
          if (c[2]) td.dataset.label = c[2];
          tr.appendChild(td);
        });
        var td = document.createElement("td");
        td.className = "keep r end";
        if (r.status === "completed") {
          n++; discount += Math.round(parseFloat(r.discount) * 100);
          var b = document.createElement("button");
          b.type = "button"; b.className = "danger"; b.textContent = "Void";
          b.addEventListener("click", function () { askVoid(r); });
          td.appendChild(b);
        } else {
          var s = document.createElement("span"); s.className = "badge voided"; s.textContent = "voided";
          s.title = r.void_reason || "";
          td.appendChild(s);
        }
        tr.appendChild(td);
        tb.appendChild(tr);
      });
      show("today-empty", res.body.items.length === 0);
      $("today-sum").textContent = n ? n + " redeemed · discounts € " + (discount / 100).toFixed(2) : "";
    }, function () {});
  }
  $("today-refresh").addEventListener("click", loadToday);

  // --- camera ---

  var stream = null, scanning = false;
  if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) show("camera-start", true);

  $("camera-start").addEventListener("click", startCamera);
  $("camera-stop").addEventListener("click", function () { stopCamera(); $("scan").focus(); });

  function startCamera() {
    $("scan-error").textContent = "";
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
      $("scan-error").textContent = "The camera could not be used (" + (err && err.name || "error") + "). Scan or type the number instead.";
    });
  }
  function stopCamera() {
    scanning = false;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    show("camera", false);
  }
  function loop(video, decode) {
    if (!scanning) return;
    decode(video).then(function (text) {
      if (!scanning) return;
      if (text) { stopCamera(); checkCard(text); return; }
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

  if (state.key) signIn(state.key); else signOut("");
})();
