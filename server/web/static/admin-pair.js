// "Pair a till" on the console's merchant page: asks for a one-time pairing code
// (POST /api/v1/merchants/{id}/pairings) and shows its QR code, which the till scans. Kept apart
// from admin.js: it needs only the admin token, the merchant open in the panel (the panel's
// data-merchant) and the page's language.
(function () {
  "use strict";
  var KEY = "citycard.admin.token";
  var $ = function (id) { return document.getElementById(id); };
  var MSG = JSON.parse($("pair-messages").textContent);
  function lang() {
    var l = (document.documentElement.lang || "en").slice(0, 2);
    return MSG[l] ? l : "en";
  }
  function t(key, vars) {
    var s = MSG[lang()][key] || MSG.en[key] || key;
    return s.replace(/\{(\w+)\}/g, function (m, k) { return vars && vars[k] !== undefined ? vars[k] : m; });
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  var rotate = $("merchant-key");
  if (!rotate) return;
  var button = el("button", "", t("button"));
  button.type = "button"; button.id = "merchant-pair";
  rotate.parentNode.insertBefore(button, rotate.nextSibling);
  // Shown with the rotate button: for a merchant that exists, not for a new one.
  function sync() { button.hidden = rotate.hidden; button.textContent = t("button"); }
  new MutationObserver(sync).observe(rotate, { attributes: true, attributeFilter: ["hidden"] });
  new MutationObserver(sync).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
  sync();

  // The dialog: built once, filled for each code.
  var box = el("div", "pair-dialog"); box.id = "pair-dialog"; box.hidden = true;
  box.setAttribute("role", "dialog"); box.setAttribute("aria-modal", "true");
  var inner = el("div", "pair-box");
  var h = el("h2"); h.id = "pair-title"; box.setAttribute("aria-labelledby", "pair-title");
  var img = el("img"); img.id = "pair-qr"; img.width = 240; img.height = 240;
  var codeLabel = el("p", "muted small");
  var code = el("p", "pair-code num"); code.id = "pair-code-shown";
  var how = el("p", "small");
  var when = el("p", "small"); when.id = "pair-expires";
  var err = el("p", "error"); err.setAttribute("role", "alert");
  var actions = el("div", "actions");
  var again = el("button"); again.type = "button"; again.id = "pair-new";
  var close = el("button", "primary"); close.type = "button"; close.id = "pair-close";
  actions.appendChild(close); actions.appendChild(again);
  [h, img, codeLabel, code, how, when, err, actions].forEach(function (e) { inner.appendChild(e); });
  box.appendChild(inner);
  document.body.appendChild(box);

  var timer = 0, merchantName = "";
  function open() {
    var id = $("merchant-panel").dataset.merchant;
    if (!id) return;
    merchantName = $("merchant-title").textContent;
    h.textContent = t("title", { merchant: merchantName });
    codeLabel.textContent = t("code"); how.textContent = t("how");
    again.textContent = t("new"); close.textContent = t("close"); img.alt = t("qr_alt");
    err.textContent = ""; code.textContent = ""; when.textContent = ""; img.hidden = true;
    box.hidden = false;
    close.focus();
    var token = sessionStorage.getItem(KEY) || localStorage.getItem(KEY) || "";
    var headers = { "Authorization": "Bearer " + token };
    // The network admin acts in the town chosen in the console's switcher (admin.js sets it).
    if (document.body.dataset.town) headers["Citycard-Town"] = document.body.dataset.town;
    fetch("/api/v1/merchants/" + encodeURIComponent(id) + "/pairings", { method: "POST", headers: headers, cache: "no-store" })
      .then(function (r) { return r.json().then(function (b) { return { status: r.status, body: b }; }); })
      .then(function (res) {
        if (res.status !== 201) {
          err.textContent = t("failed", { message: res.body && res.body.error ? res.body.error.message : res.status });
          return;
        }
        img.src = res.body.qr; img.hidden = false;
        img.dataset.url = res.body.url;
        code.textContent = res.body.code;
        var until = new Date(res.body.expires_at);
        when.textContent = t("expires", { time: until.toLocaleTimeString({ sl: "sl-SI", it: "it-IT", en: "en-GB", de: "de-DE" }[lang()], { hour: "2-digit", minute: "2-digit" }) });
        clearTimeout(timer);
        timer = setTimeout(function () { img.hidden = true; code.textContent = ""; when.textContent = t("expired"); }, until - Date.now());
      }, function (e) { err.textContent = t("failed", { message: e && e.message || "" }); });
  }
  function hide() { clearTimeout(timer); box.hidden = true; img.removeAttribute("src"); button.focus(); }
  button.addEventListener("click", open);
  again.addEventListener("click", open);
  close.addEventListener("click", hide);
  box.addEventListener("keydown", function (e) { if (e.key === "Escape") hide(); });
})();
