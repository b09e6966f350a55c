// The till's offline store and rules (docs/offline.md): the offline pack and the queue of
// offline sales live in this origin's IndexedDB, so they survive a reload, a closed tab and a
// flat battery; card tokens are verified here with WebCrypto Ed25519 against the pack's keys.
// pos.js uses window.citycardOffline; nothing here talks to the network.
(function () {
  "use strict";
  var DB = "citycard-pos", VERSION = 1;
  var dbp = null;

  // db opens the database once: "kv" keeps the pack and its ETag, "queue" the offline sales in
  // the order they were made (an auto-increment key), "notes" what the last syncs reported.
  function db() {
    if (!dbp) {
      dbp = new Promise(function (resolve, reject) {
        var r = indexedDB.open(DB, VERSION);
        r.onupgradeneeded = function () {
          var d = r.result;
          if (!d.objectStoreNames.contains("kv")) d.createObjectStore("kv");
          if (!d.objectStoreNames.contains("queue")) d.createObjectStore("queue", { keyPath: "seq", autoIncrement: true });
          if (!d.objectStoreNames.contains("notes")) d.createObjectStore("notes", { keyPath: "idempotency_key" });
        };
        r.onsuccess = function () { resolve(r.result); };
        r.onerror = function () { reject(r.error); };
      });
    }
    return dbp;
  }
  // tx runs fn on a store and resolves when the transaction is committed: an offline sale is
  // shown as recorded only once it is on disk.
  function tx(store, mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var t = d.transaction(store, mode), out;
        var req = fn(t.objectStore(store));
        if (req) req.onsuccess = function () { out = req.result; };
        t.oncomplete = function () { resolve(out); };
        t.onerror = t.onabort = function () { reject(t.error); };
      });
    });
  }

  var O = {};
  O.get = function (k) { return tx("kv", "readonly", function (s) { return s.get(k); }); };
  O.put = function (k, v) { return tx("kv", "readwrite", function (s) { return s.put(v, k); }); };
  O.clear = function () {
    return Promise.all(["kv", "queue", "notes"].map(function (s) { return tx(s, "readwrite", function (st) { return st.clear(); }); }));
  };
  // queue lists the offline sales, oldest first.
  O.queue = function () { return tx("queue", "readonly", function (s) { return s.getAll(); }); };
  O.enqueue = function (item) { return tx("queue", "readwrite", function (s) { return s.add(item); }); };
  O.dequeue = function (seqs) {
    return tx("queue", "readwrite", function (s) { seqs.forEach(function (q) { s.delete(q); }); });
  };
  O.notes = function () { return tx("notes", "readonly", function (s) { return s.getAll(); }); };
  O.clearNotes = function () { return tx("notes", "readwrite", function (s) { return s.clear(); }); };
  O.note = function (n) { return tx("notes", "readwrite", function (s) { return s.put(n); }); };

  // --- tokens ---

  var CONTEXT = new TextEncoder().encode("citycard card token v1\0");
  function b64url(s) {
    if (!/^[A-Za-z0-9_-]+$/.test(s)) return null;
    var bin;
    try { bin = atob(s.replace(/-/g, "+").replace(/_/g, "/")); } catch (e) { return null; }
    var b = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
    return b;
  }
  // tokenOf finds the token in what was scanned: the card page's URL or the bare token. A
  // typed card number gives "": it cannot be verified offline.
  O.tokenOf = function (text) {
    text = String(text || "").trim();
    var i = text.lastIndexOf("/c/");
    if (i >= 0) {
      text = text.slice(i + 3);
      var j = text.search(/[\/?#]/);
      if (j >= 0) text = text.slice(0, j);
    }
    return text.length === 100 ? text : "";
  };
  var keyCache = {};
  function importKey(k) {
    if (!keyCache[k.public_key]) {
      var raw = b64url(k.public_key);
      keyCache[k.public_key] = raw && raw.length === 32
        ? crypto.subtle.importKey("raw", raw, { name: "Ed25519" }, false, ["verify"]) : Promise.reject(new Error("key"));
    }
    return keyCache[k.public_key];
  }
  // verify resolves with the card number of a genuine token, or "" (card/token.go's layout:
  // version 1 | kid (2 bytes) | number (8 bytes) | Ed25519 signature of CONTEXT + those 11).
  O.verify = function (token, keys) {
    var b = b64url(token);
    if (!b || b.length !== 75 || b[0] !== 1 || !crypto.subtle) return Promise.resolve("");
    var kid = b[1] * 256 + b[2];
    var k = (keys || []).filter(function (x) { return x.kid === kid && (!x.alg || x.alg === "Ed25519"); })[0];
    if (!k) return Promise.resolve("");
    var msg = new Uint8Array(CONTEXT.length + 11);
    msg.set(CONTEXT); msg.set(b.subarray(0, 11), CONTEXT.length);
    return importKey(k).then(function (key) {
      return crypto.subtle.verify({ name: "Ed25519" }, key, b.subarray(11), msg);
    }).then(function (ok) {
      if (!ok) return "";
      var n = 0n;
      for (var i = 3; i < 11; i++) n = n * 256n + BigInt(b[i]);
      return n.toString();
    }, function () { return ""; });
  };

  // --- rules ---

  // packAge is the pack's age in hours at now.
  O.packAge = function (pack, now) { return (now - Date.parse(pack.generated_at)) / 3600000; };
  // stop says why the till may not sell offline now ("" if it may): no pack, a pack older than
  // its max_hours, or a queue as long as max_redemptions.
  O.stop = function (pack, queued, now) {
    if (!pack) return "offline_no_pack";
    var lim = pack.limits || {};
    if (lim.max_hours && O.packAge(pack, now) >= lim.max_hours) return "offline_pack_old";
    if (lim.max_redemptions && queued >= lim.max_redemptions) return "offline_queue_full";
    return "";
  };
  // offersFor is what /pos/check would answer for card number at now (day = the city's date):
  // each of the pack's offers with available and reason. The card's product is not in the
  // pack, so eligibility is left to the server (a conflict if it disagrees).
  O.offersFor = function (pack, queue, number, day) {
    var blocked = (pack.blocked || []).indexOf(number) >= 0;
    return (pack.offers || []).map(function (o) {
      var r = "";
      if (blocked) r = "card_blocked";
      else if (!o.active || (o.valid_from && day < o.valid_from) || (o.valid_until && day > o.valid_until)) r = "offer_inactive";
      else if (o.limit === "once" || o.limit === "daily") {
        var hit = function (num, offer, d) { return num === number && offer === o.id && (o.limit === "once" || d === day); };
        var used = (pack.used || []).some(function (u) { return hit(u.card_number, u.offer_id, u.date); }) ||
          queue.some(function (q) { return hit(q.card_number, q.body.offer_id, q.day); });
        if (used) r = "limit_reached";
      }
      var c = {};
      for (var k in o) c[k] = o[k];
      c.available = !r; c.reason = r || null;
      return c;
    });
  };

  window.citycardOffline = O;
})();
