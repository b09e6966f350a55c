// The town-centre office's console: issue and print cards, manage merchants and offers, read
// the month's report. It signs in with the admin token and calls /api/v1.
(function () {
  "use strict";
  var KEY = "citycard.admin.token";
  var $ = function (id) { return document.getElementById(id); };
  var CATEGORIES = ["shop", "restaurant", "bar", "museum", "attraction", "tour", "transport", "accommodation", "service"];
  var CATEGORY_NAMES = { shop: "Shop", restaurant: "Restaurant", bar: "Café or bar", museum: "Museum", attraction: "Sight",
    tour: "Tour", transport: "Transport", accommodation: "Accommodation", service: "Service" };
  var state = { token: sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || "", products: [], merchant: null,
    offers: [], offer: null, cards: [], cardsCursor: "", report: null };

  // --- API ---

  function api(method, path, body) {
    var h = { "Authorization": "Bearer " + state.token };
    if (body !== undefined) h["Content-Type"] = "application/json";
    return fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" })
      .then(function (r) {
        var type = r.headers.get("Content-Type") || "";
        var read = type.indexOf("application/json") === 0 ? r.json().catch(function () { return null; }) : r.blob();
        return read.then(function (data) {
          if (r.status === 401) signOut("The token was not accepted. Sign in again.");
          return { status: r.status, body: data, ok: r.ok };
        });
      }, function () { return { status: 0, body: null, ok: false }; });
  }
  function message(res) {
    if (res.status === 0) return "No connection to the server.";
    return res.body && res.body.error ? res.body.error.message : "Unexpected answer (" + res.status + ").";
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
  function name(m, lang) { m = m || {}; return m[lang] || m.en || m.sl || m.it || m.de || ""; }
  function euro(s) { return "€ " + s; }
  function formatNumber(n) { return String(n || "").replace(/(\d{4})(?=\d)/g, "$1 "); }
  function localDate(iso) { return iso ? new Date(iso).toLocaleDateString("sl-SI") : ""; }
  function money(v) { // "12,5" → "12.50"-style text for the API, null for empty
    v = v.trim().replace(",", ".");
    return v === "" ? null : v;
  }
  function productName(code) {
    for (var i = 0; i < state.products.length; i++) if (state.products[i].code === code) return name(state.products[i].name, "en");
    return code;
  }

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

  // --- sign in, tabs ---

  function signOut(msg) {
    sessionStorage.removeItem(KEY); localStorage.removeItem(KEY);
    state.token = "";
    document.querySelectorAll(".tab").forEach(function (t) { t.hidden = true; });
    show("tabs", false); show("signout", false); show("signin", true);
    document.body.classList.remove("signed-in");
    $("signin-error").textContent = msg || "";
    $("token").value = "";
    $("token").focus();
  }
  function signIn(token, remember) {
    state.token = token;
    return api("GET", "/api/v1/products?limit=500").then(function (res) {
      if (!res.ok) {
        if (res.status !== 401) signOut(res.status === 403 ? "That is a shop's key, not the admin token." : message(res));
        return;
      }
      (remember ? localStorage : sessionStorage).setItem(KEY, token);
      state.products = res.body.items;
      show("signin", false); show("tabs", true); show("signout", true);
      document.body.classList.add("signed-in");
      fillProducts();
      route();
    });
  }
  $("signin-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var t = $("token").value.trim();
    if (t) signIn(t, $("remember").checked);
  });
  $("signout").addEventListener("click", function () { signOut(""); });

  function route() {
    if (!state.token) return;
    var tab = (location.hash || "#cards").slice(1);
    if (["cards", "merchants", "report"].indexOf(tab) < 0) tab = "cards";
    document.querySelectorAll(".tab").forEach(function (t) { t.hidden = t.id !== "tab-" + tab; });
    document.querySelectorAll("#tabs a").forEach(function (a) {
      if (a.dataset.tab === tab) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    if (tab === "cards") loadCards(true);
    if (tab === "merchants") loadMerchants();
    if (tab === "report") loadReport();
  }
  window.addEventListener("hashchange", route);

  // --- cards ---

  function fillProducts() {
    var sel = $("issue-product");
    sel.textContent = "";
    state.products.forEach(function (p) {
      var v = p.validity_hours ? p.validity_hours + " h" : p.validity_days + " days";
      sel.appendChild(el("option", { value: p.code, text: name(p.name, "en") + " (" + v + ", " + euro(p.price) + ")" }));
    });
    var box = $("o-products");
    box.textContent = "";
    state.products.forEach(function (p) {
      box.appendChild(el("label", { class: "check" }, [el("input", { type: "checkbox", value: p.code }), name(p.name, "en")]));
    });
  }

  $("issue-count").addEventListener("input", function () { show("holder-field", Number($("issue-count").value) <= 1); });

  $("issue-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var n = Number($("issue-count").value), product = $("issue-product").value, lang = $("issue-lang").value;
    $("issue-error").textContent = "";
    if (!(n >= 1 && n <= 1000 && Math.floor(n) === n)) { $("issue-error").textContent = "Issue 1 to 1000 cards at a time."; return; }
    $("issue-submit").disabled = true;
    var req = n === 1
      ? api("POST", "/api/v1/cards", { product: product, holder: $("issue-holder").value.trim(), lang: lang })
      : api("POST", "/api/v1/cards/batch", { product: product, count: n, lang: lang });
    req.then(function (res) {
      $("issue-submit").disabled = false;
      if (!res.ok) { $("issue-error").textContent = message(res); return; }
      var cards = n === 1 ? [res.body] : res.body.cards;
      state.issued = cards;
      $("issued-title").textContent = cards.length === 1 ? "1 card issued" : cards.length + " cards issued";
      var ul = $("issued");
      ul.textContent = "";
      cards.slice(0, 20).forEach(function (c) {
        ul.appendChild(el("li", {}, [el("span", { class: "num", text: formatNumber(c.number) }), productName(c.product),
          c.holder ? el("span", { text: c.holder }) : null,
          el("a", { href: "/c/" + c.token, target: "_blank", rel: "noopener", class: "open-card", text: "Open card page" })]));
      });
      if (cards.length > 20) ul.appendChild(el("li", { class: "muted", text: "… and " + (cards.length - 20) + " more" }));
      show("issued-panel", true);
      $("issue-holder").value = "";
      loadCards(true);
    });
  });
  $("print-issued").addEventListener("click", function () { printCards(state.issued || []); });

  function loadCards(fresh) {
    var cursor = fresh ? "" : state.cardsCursor;
    return api("GET", "/api/v1/cards?limit=50" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "")).then(function (res) {
      if (!res.ok) return;
      if (fresh) { state.cards = []; $("cards").textContent = ""; $("select-all").checked = false; }
      state.cards = state.cards.concat(res.body.items);
      state.cardsCursor = res.body.next_cursor || "";
      show("cards-more", !!state.cardsCursor);
      res.body.items.forEach(function (c) {
        var box = el("input", { type: "checkbox", "aria-label": "Select card " + c.number });
        box.dataset.id = c.id;
        box.addEventListener("change", selectionChanged);
        $("cards").appendChild(el("tr", {}, [el("td", { class: "pick" }, [box]), el("td", { class: "num main", text: formatNumber(c.number) }),
          el("td", { text: productName(c.product) }), el("td", {}, [el("span", { class: "badge " + c.status, text: c.status })]),
          el("td", { text: c.holder || "" }), el("td", { class: "nowrap", text: localDate(c.issued_at) }),
          el("td", { class: "end" }, [el("a", { href: "/c/" + c.token, target: "_blank", rel: "noopener", text: "Open card page" })])]));
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
    $("print-selected").textContent = n ? "Print selected (" + n + ")" : "Print selected";
  }
  $("print-selected").addEventListener("click", function () { printCards(selected()); });

  // --- the print sheet: ten cards (85.6 × 54 mm) to an A4 page ---

  var INSTRUCTIONS = [
    ["SL", "Skenirajte kodo za svoje ugodnosti. Na blagajni pokažite kodo ali številko."],
    ["IT", "Scansiona il codice per i tuoi vantaggi. Alla cassa mostra il codice o il numero."],
    ["EN", "Scan the code for your benefits. At the till, show the code or the number."]
  ];
  function buildSheet(cards) {
    var sheet = $("sheet");
    sheet.textContent = "";
    var page = null;
    cards.forEach(function (c, i) {
      if (i % 10 === 0) { page = el("div", { class: "sheet-page" }); sheet.appendChild(page); }
      var p = null;
      for (var j = 0; j < state.products.length; j++) if (state.products[j].code === c.product) p = state.products[j];
      var pname = p ? name(p.name, c.lang || "en") : c.product;
      page.appendChild(el("div", { class: "pcard" }, [
        // The public QR endpoint needs no secret: the token in it is what the card carries anyway.
        el("img", { src: "/c/" + encodeURIComponent(c.token) + "/qr.png", alt: "QR " + c.number }),
        el("div", { class: "ptext" }, [
          el("p", { class: "pbrand", text: "Koper Card" }),
          el("p", { class: "pproduct", text: pname }),
          el("p", { class: "pnumber", text: formatNumber(c.number) }),
          el("ul", { class: "pinstr" }, INSTRUCTIONS.map(function (t) { return el("li", { lang: t[0].toLowerCase() }, [el("b", { text: t[0] }), " " + t[1]]); }))
        ])
      ]));
    });
    document.body.classList.add("print-cards");
    sheet.hidden = false;
    // Resolve when every QR code has loaded, so the printout has no empty squares.
    var imgs = Array.prototype.slice.call(sheet.querySelectorAll("img"));
    return Promise.all(imgs.map(function (img) {
      return img.complete ? Promise.resolve() : new Promise(function (ok) { img.onload = img.onerror = ok; });
    }));
  }
  function printCards(cards) {
    if (!cards.length) return;
    buildSheet(cards).then(function () { window.print(); });
  }
  window.addEventListener("afterprint", function () { document.body.classList.remove("print-cards"); });
  // For tests and for people who prefer the browser's own print menu: build without printing.
  window.citycardBuildSheet = function (which) { return buildSheet(which === "selected" ? selected() : state.issued || []); };

  // --- merchants ---

  var catSel = $("m-category");
  CATEGORIES.forEach(function (c) { catSel.appendChild(el("option", { value: c, text: CATEGORY_NAMES[c] })); });
  $("pos-url").textContent = location.origin + "/pos";

  function loadMerchants() {
    return all("/api/v1/merchants").then(function (items) {
      var tb = $("merchants");
      tb.textContent = "";
      items.forEach(function (m) {
        var tr = el("tr", { class: state.merchant && state.merchant.id === m.id ? "selected" : "" }, [
          el("td", { class: "main", text: m.name }), el("td", { text: CATEGORY_NAMES[m.category] || m.category }),
          el("td", { text: m.address || "" }),
          el("td", {}, [el("span", { class: "badge " + m.status, text: m.status })]),
          el("td", { class: "end" }, [el("button", { type: "button", class: "edit", text: "Edit", onclick: function () { editMerchant(m); } })])]);
        tr.dataset.id = m.id;
        tb.appendChild(tr);
      });
      labelCells(tb);
    }, function (res) { $("merchant-error").textContent = message(res); });
  }

  $("merchant-new").addEventListener("click", function () { editMerchant(null); });
  $("merchant-close").addEventListener("click", function () { state.merchant = null; show("merchant-panel", false); loadMerchants(); });

  function editMerchant(m) {
    state.merchant = m;
    $("merchant-panel").dataset.merchant = m ? m.id : ""; // for admin-pair.js
    $("merchant-title").textContent = m ? m.name : "New merchant";
    $("m-name").value = m ? m.name : "";
    $("m-category").value = m ? m.category : "shop";
    $("m-address").value = m ? m.address : "";
    $("m-lat").value = m && m.lat != null ? m.lat : "";
    $("m-lon").value = m && m.lon != null ? m.lon : "";
    $("merchant-error").textContent = ""; $("merchant-ok").textContent = "";
    $("merchant-save").textContent = m ? "Save changes" : "Create merchant";
    show("merchant-suspend", !!m); show("merchant-key", !!m); show("offers-block", !!m); show("offer-form", false);
    if (m) {
      $("merchant-suspend").textContent = m.status === "active" ? "Suspend" : "Reactivate";
      $("merchant-suspend").className = m.status === "active" ? "danger" : "";
      loadOffers();
    }
    show("merchant-panel", true);
    document.querySelectorAll("#merchants tr").forEach(function (tr) { tr.className = m && tr.dataset.id === m.id ? "selected" : ""; });
    $("merchant-panel").scrollIntoView({ block: "start" });
    $("m-name").focus({ preventScroll: true });
  }

  $("merchant-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("merchant-error").textContent = ""; $("merchant-ok").textContent = "";
    var lat = $("m-lat").value.trim().replace(",", "."), lon = $("m-lon").value.trim().replace(",", ".");
    if ((lat === "") !== (lon === "")) { $("merchant-error").textContent = "Give both latitude and longitude, or neither."; return; }
    if (lat !== "" && (isNaN(Number(lat)) || isNaN(Number(lon)))) { $("merchant-error").textContent = "Latitude and longitude are numbers, e.g. 45.5481 and 13.7302."; return; }
    var body = { name: $("m-name").value.trim(), category: $("m-category").value, address: $("m-address").value.trim(),
      lat: lat === "" ? null : Number(lat), lon: lon === "" ? null : Number(lon) };
    var m = state.merchant;
    api(m ? "PATCH" : "POST", m ? "/api/v1/merchants/" + encodeURIComponent(m.id) : "/api/v1/merchants", body).then(function (res) {
      if (!res.ok) { $("merchant-error").textContent = message(res); return; }
      if (m) {
        editMerchant(res.body);
        $("merchant-ok").textContent = "Saved.";
      } else {
        editMerchant(res.body.merchant);
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
      editMerchant(res.body);
      $("merchant-ok").textContent = to === "suspended" ? "Suspended: the shop's key no longer works and its offers are hidden." : "Active again.";
      loadMerchants();
    });
  });

  var rotateArmed = false;
  $("merchant-key").addEventListener("click", function () {
    // Ask once more: the shop's till stops working until it gets the new key.
    if (!rotateArmed) {
      rotateArmed = true;
      $("merchant-key").textContent = "Click again: the old key stops working";
      $("merchant-key").className = "danger";
      setTimeout(function () { rotateArmed = false; $("merchant-key").textContent = "Rotate API key"; $("merchant-key").className = ""; }, 5000);
      return;
    }
    rotateArmed = false;
    $("merchant-key").textContent = "Rotate API key"; $("merchant-key").className = "";
    var m = state.merchant;
    api("POST", "/api/v1/merchants/" + encodeURIComponent(m.id) + "/key").then(function (res) {
      if (!res.ok) { $("merchant-error").textContent = message(res); return; }
      showKey(m.name, res.body.api_key);
    });
  });

  function showKey(who, key) {
    $("key-title").textContent = "API key for " + who;
    $("key-value").textContent = key;
    show("key-panel", true);
    $("key-panel").scrollIntoView({ block: "start" });
  }
  $("key-copy").addEventListener("click", function () {
    var k = $("key-value").textContent;
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(k).then(function () { $("key-copy").textContent = "Copied"; }, selectKey);
    } else selectKey();
  });
  function selectKey() {
    var r = document.createRange(); r.selectNodeContents($("key-value"));
    var s = window.getSelection(); s.removeAllRanges(); s.addRange(r);
  }
  $("key-done").addEventListener("click", function () {
    $("key-value").textContent = ""; $("key-copy").textContent = "Copy";
    show("key-panel", false);
  });

  // --- offers ---

  function terms(o) {
    var t = [];
    if (o.kind === "percent") t.push(o.value + " % off");
    else if (o.kind === "amount") t.push(euro(o.value) + " off");
    else if (o.kind === "price") t.push("for " + euro(o.value));
    else t.push("free");
    if (o.max_discount) t.push("max " + euro(o.max_discount));
    if (o.min_amount) t.push("from " + euro(o.min_amount));
    t.push({ once: "once per card", daily: "once a day", unlimited: "no limit" }[o.limit]);
    if (o.products && o.products.length) t.push("only " + o.products.map(productName).join(", "));
    if (o.valid_from || o.valid_until) t.push((o.valid_from || "…") + " to " + (o.valid_until || "…"));
    if (o.municipal_share !== "0") t.push("municipality " + o.municipal_share + " %");
    return t.join(" · ");
  }

  function loadOffers() {
    var m = state.merchant;
    return all("/api/v1/offers?merchant=" + encodeURIComponent(m.id)).then(function (items) {
      state.offers = items;
      var tb = $("offers");
      tb.textContent = "";
      items.forEach(function (o) {
        tb.appendChild(el("tr", {}, [el("td", { class: "main", text: name(o.title, "en") }), el("td", { class: "small", text: terms(o) }),
          el("td", {}, [el("span", { class: "badge " + (o.active ? "ok" : "off"), text: o.active ? "active" : "inactive" })]),
          el("td", { class: "end" }, [el("div", { class: "actions" }, [
            el("button", { type: "button", text: "Edit", onclick: function () { editOffer(o); } }),
            el("button", { type: "button", class: o.active ? "danger" : "", text: o.active ? "Deactivate" : "Activate",
              onclick: function () { setOfferActive(o, !o.active); } })])])]));
      });
      if (!items.length) tb.appendChild(el("tr", {}, [el("td", { colspan: "4", class: "muted", text: "No offers yet." })]));
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
    $("o-value-label").textContent = { percent: "Percent off", amount: "Euros off", price: "Price the card holder pays, €" }[k] || "";
  }

  function editOffer(o) {
    state.offer = o;
    $("offer-title").textContent = o ? "Edit offer" : "New offer";
    ["sl", "it", "en", "de"].forEach(function (l) { $("o-" + l).value = o && o.title[l] || ""; });
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
    ["sl", "it", "en", "de"].forEach(function (l) { var v = $("o-" + l).value.trim(); if (v) title[l] = v; });
    if (!Object.keys(title).length) { $("offer-error").textContent = "Give the offer a title in at least one language."; return; }
    var kind = $("o-kind").value;
    var products = [];
    document.querySelectorAll("#o-products input:checked").forEach(function (b) { products.push(b.value); });
    var body = { title: title, kind: kind, value: kind === "free" ? null : money($("o-value").value),
      max_discount: money($("o-max").value), min_amount: money($("o-min").value), limit: $("o-limit").value,
      products: products.length ? products : null, valid_from: $("o-from").value || null, valid_until: $("o-until").value || null,
      municipal_share: money($("o-share").value) || "0", active: $("o-active").checked };
    var o = state.offer;
    api(o ? "PATCH" : "POST", o ? "/api/v1/offers/" + encodeURIComponent(o.id) : "/api/v1/merchants/" + encodeURIComponent(state.merchant.id) + "/offers", body)
      .then(function (res) {
        if (!res.ok) { $("offer-error").textContent = message(res); return; }
        show("offer-form", false);
        loadOffers();
      });
  });

  // --- the month's report ---

  (function () {
    var d = new Date();
    $("report-month").value = d.getFullYear() + "-" + (d.getMonth() < 9 ? "0" : "") + (d.getMonth() + 1);
  })();
  $("report-form").addEventListener("submit", function (e) { e.preventDefault(); loadReport(); });

  function loadReport() {
    var month = $("report-month").value;
    $("report-error").textContent = "";
    if (!month) return;
    return api("GET", "/api/v1/reports/monthly?month=" + encodeURIComponent(month)).then(function (res) {
      if (!res.ok) { $("report-error").textContent = message(res); show("report", false); return; }
      state.report = res.body;
      renderReport();
    });
  }

  $("report-csv").addEventListener("click", function () {
    var month = $("report-month").value;
    // A link cannot carry the token, so fetch the file and hand it to the browser as a download.
    api("GET", "/api/v1/reports/monthly?month=" + encodeURIComponent(month) + "&format=csv").then(function (res) {
      if (!res.ok) { $("report-error").textContent = message(res); return; }
      var url = URL.createObjectURL(res.body);
      var a = el("a", { href: url, download: "citycard-" + month + ".csv" });
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    });
  });

  function renderReport() {
    var r = state.report, t = r.totals;
    var tiles = $("tiles");
    tiles.textContent = "";
    [["Redemptions", t.redemptions], ["Cards used", t.cards_used], ["Purchases", euro(t.amount)], ["Discounts", euro(t.discount)],
      ["Municipality pays", euro(t.municipal_share)], ["Cards issued", t.cards_issued], ["Cards activated", t.cards_activated], ["Voided", t.voided]]
      .forEach(function (x) { tiles.appendChild(el("div", { class: "tile" }, [el("div", { class: "label", text: x[0] }), el("div", { class: "value", text: String(x[1]) })])); });
    var tb = $("report-merchants");
    tb.textContent = "";
    r.merchants.forEach(function (m) {
      tb.appendChild(el("tr", {}, [el("td", { class: "main", text: m.name }), el("td", { text: CATEGORY_NAMES[m.category] || m.category }),
        el("td", { class: "r num", text: String(m.redemptions) }), el("td", { class: "r num", text: String(m.cards_used) }),
        el("td", { class: "r num", text: euro(m.amount) }), el("td", { class: "r num", text: euro(m.discount) }),
        el("td", { class: "r num", text: euro(m.municipal_share) })]));
    });
    if (!r.merchants.length) tb.appendChild(el("tr", {}, [el("td", { colspan: "7", class: "muted", text: "No redemptions in this month." })]));
    labelCells(tb);
    show("report", true);
    drawReportCharts(); // once visible: a chart is drawn at its box's width
  }

  function drawReportCharts() {
    var r = state.report;
    if (!r) return;
    columnChart($("chart-days"), r.days.map(function (d) { return { label: String(Number(d.date.slice(8))), value: d.redemptions, title: d.date + ": " + d.redemptions + " redemptions, discount " + euro(d.discount) }; }));
    var cats = r.categories.slice().sort(function (a, b) { return parseFloat(b.discount) - parseFloat(a.discount); });
    barChart($("chart-categories"), cats.map(function (c) { return { label: CATEGORY_NAMES[c.category] || c.category, value: parseFloat(c.discount), text: euro(c.discount) }; }));
    var top = r.merchants.slice().sort(function (a, b) { return parseFloat(b.discount) - parseFloat(a.discount); }).slice(0, 10);
    barChart($("chart-merchants"), top.map(function (m) { return { label: m.name, value: parseFloat(m.discount), text: euro(m.discount) }; }));
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
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": "Redemptions per day" });
    var plotH = H - bottom - top, step = (W - left - right) / Math.max(items.length, 1);
    // Counts are whole numbers: grid lines at 0, the top, and the middle when it is whole.
    (max % 2 === 0 ? [0, max / 2, max] : [0, max]).forEach(function (v) {
      var y = top + plotH * (1 - v / max);
      s.appendChild(svg("line", { x1: left, x2: W - right, y1: y, y2: y, class: "grid-line" }));
      s.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, String(v)));
    });
    var every = step < 14 ? 5 : step < 22 ? 2 : 1; // label fewer days on a narrow screen
    items.forEach(function (it, i) {
      var h = plotH * it.value / max, x = left + i * step;
      var bar = svg("rect", { x: x + step * 0.15, y: top + plotH - h, width: Math.max(step * 0.7, 1), height: Math.max(h, 0), class: "bar" });
      bar.appendChild(svg("title", {}, it.title));
      s.appendChild(bar);
      if (it.value > 0 && step >= 16) s.appendChild(svg("text", { x: x + step / 2, y: top + plotH - h - 3, "text-anchor": "middle", class: "value" }, String(it.value)));
      if (i === 0 || (i + 1) % every === 0) s.appendChild(svg("text", { x: x + step / 2, y: H - 6, "text-anchor": "middle" }, it.label));
    });
    box.appendChild(s);
  }

  // barChart: one horizontal bar per item, the name above and the value at its right end.
  function barChart(box, items) {
    box.textContent = "";
    if (!items.length) { box.appendChild(el("p", { class: "empty", text: "Nothing this month." })); return; }
    var W = Math.max(box.clientWidth, 200), row = 40, H = items.length * row;
    var max = Math.max.apply(null, items.map(function (i) { return i.value; })) || 1;
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img" });
    items.forEach(function (it, i) {
      var y = i * row, w = Math.max((W - 80) * it.value / max, 2);
      var room = Math.floor(W / 7.5), label = it.label.length > room ? it.label.slice(0, room - 1) + "…" : it.label;
      s.appendChild(svg("text", { x: 0, y: y + 13, class: "name" }, label));
      s.appendChild(svg("rect", { x: 0, y: y + 18, width: w, height: 14, rx: 3, class: it.value > 0 ? "bar" : "bar zero" }));
      s.appendChild(svg("text", { x: w + 6, y: y + 30, class: "value" }, it.text));
    });
    box.appendChild(s);
  }

  // --- start ---

  if (state.token) signIn(state.token, !!localStorage.getItem(KEY)); else signOut("");
})();
