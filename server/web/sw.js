// Service worker of the tourist's card page (scope /c/) and of the web till (scope /pos). A
// tourist abroad often has no mobile data: after one visit the card's page, its QR code and the
// page's assets open without a network; a till in a stone cellar opens and sells offline
// (docs/offline.md). Pages come from the network when it answers within a few seconds (so they show
// what was used), else from the cache; QR codes and assets never change, so the cache wins.
"use strict";
var CACHE = "citycard-__VERSION__";
var ASSETS = ["/static/card.css?v=__VERSION__", "/static/card.js?v=__VERSION__", "/static/icon.svg"];
var NETWORK_WAIT = 4000;

self.addEventListener("install", function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(ASSETS); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (e) {
  e.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n.indexOf("citycard-") === 0 && n !== CACHE; })
      .map(function (n) { return caches.delete(n); }));
  }).then(function () { return self.clients.claim(); }));
});

// The page asks to keep itself: it was loaded before this worker controlled it.
self.addEventListener("message", function (e) {
  if (!e.data || e.data.type !== "keep" || !Array.isArray(e.data.urls)) return;
  var urls = e.data.urls.filter(sameOrigin);
  e.waitUntil(caches.open(CACHE).then(function (c) {
    return Promise.all(urls.map(function (u) {
      return fetch(u, { credentials: "omit" }).then(function (r) { if (r.ok) return c.put(u, r); }).catch(function () {});
    }));
  }));
});

function sameOrigin(u) {
  try { return new URL(u, self.location.href).origin === self.location.origin; } catch (err) { return false; }
}

// A card page is /c/{token} (any ?lang=); its QR code and manifest live below it.
// The till is /pos. /towns.css (each town's colour) changes when an office changes a colour, so
// it is fetched like a page: the network's when it answers, else the kept copy.
function isPage(url) { return /^\/c\/[^\/]+\/?$/.test(url.pathname) || url.pathname === "/pos" || url.pathname === "/towns.css"; }

self.addEventListener("fetch", function (e) {
  var req = e.request;
  if (req.method !== "GET") return;
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (isPage(url)) {
    e.respondWith(networkFirst(req));
  } else if (url.pathname.indexOf("/c/") === 0 || url.pathname.indexOf("/static/") === 0) {
    e.respondWith(cacheFirst(req));
  }
});

// networkFirst answers with the network's page and keeps a copy; without a network, or when
// it is too slow, with the kept copy of this page in any language.
function networkFirst(req) {
  var fromNet = fetch(req).then(function (r) {
    if (r.ok) {
      var copy = r.clone();
      caches.open(CACHE).then(function (c) { return c.put(req, copy); });
    }
    return r;
  });
  var kept = function () {
    return caches.match(req).then(function (r) { return r || caches.match(req, { ignoreSearch: true }); });
  };
  return new Promise(function (resolve, reject) {
    var done = false;
    var timer = setTimeout(function () {
      kept().then(function (r) { if (r && !done) { done = true; resolve(r); } });
    }, NETWORK_WAIT);
    fromNet.then(function (r) {
      clearTimeout(timer);
      if (!done) { done = true; resolve(r); }
    }, function (err) {
      clearTimeout(timer);
      kept().then(function (r) {
        if (done) return;
        done = true;
        if (r) resolve(r); else reject(err);
      });
    });
  });
}

function cacheFirst(req) {
  return caches.match(req).then(function (hit) {
    return hit || fetch(req).then(function (r) {
      if (r.ok) {
        var copy = r.clone();
        caches.open(CACHE).then(function (c) { return c.put(req, copy); });
      }
      return r;
    });
  });
}
