// The tourist's card page: a live count-down, a note when the page is an offline copy, and
// the service worker that keeps the page for when the phone has no network.
(function () {
  "use strict";
  var main = document.getElementById("card");
  if (!main) return;
  var d = main.dataset;

  // Count-down: "2 d 05:03:12", from the expiry in data-expires, every second.
  var left = document.getElementById("left");
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var s = Math.floor(Number(left.dataset.expires) - Date.now() / 1000);
    if (s <= 0) {
      left.textContent = "0:00:00";
      var st = document.getElementById("status");
      st.textContent = d.tExpired;
      st.parentNode.className = "pass status-expired";
      return false;
    }
    var days = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    left.textContent = (days > 0 ? days + " " + d.tDays + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s % 60);
    return true;
  }
  if (left && tick()) {
    var timer = setInterval(function () { if (!tick()) clearInterval(timer); }, 1000);
  }

  // When the page was rendered, in the city's zone and the page's language.
  var updated = new Date(d.updated);
  var when = updated.toLocaleString(d.lang, { timeZone: d.tz, day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
  document.getElementById("updated").textContent = d.tUpdated + " " + when;

  // Without a network the service worker shows the copy it kept: say how old it is. The page
  // is an old copy when it was rendered minutes ago (HTTP never caches it), when the phone
  // says it is offline, or when the server does not answer.
  var note = document.getElementById("offline");
  function offline(yes) {
    note.textContent = d.tOffline + " " + when + ".";
    note.hidden = !yes;
  }
  function stale() { return Date.now() - updated.getTime() > 120000; }
  function checkOnline() {
    if (stale() || navigator.onLine === false) return offline(true);
    fetch("/healthz", { cache: "no-store" }).then(function () { offline(false); }, function () { offline(true); });
  }
  checkOnline();
  window.addEventListener("offline", function () { offline(true); });
  // Back online: fetch the page anew, so that it shows what was used meanwhile.
  window.addEventListener("online", function () {
    fetch("/healthz", { cache: "no-store" }).then(function () { if (stale()) location.reload(); else offline(false); }, function () {});
  });

  // The service worker keeps this page, its QR code and its assets. The page that registers
  // it was loaded before the worker existed, so ask the worker to store it once it runs.
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/c/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function (reg) {
      var urls = [location.href, document.getElementById("qr").src, new URL("/towns.css", location.href).href];
      var link = document.querySelector('link[rel="manifest"]');
      if (link) urls.push(link.href);
      reg.active.postMessage({ type: "keep", urls: urls });
    }).catch(function () { /* no offline copy; the page still works online */ });
  }
})();
