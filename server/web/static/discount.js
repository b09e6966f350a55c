// The discount arithmetic of merchant/offer.go, for the till's offline quotes: the same
// results as the server for every kind, cap and minimum, in integer cents with rounding half
// away from zero. A plain script: window.citycardDiscount(offer, amount) takes an offer as the
// API writes it (money and percentages as decimal strings) and an amount ("23.50") and answers
// {discount, total, municipal_share} as decimal strings, or {error: "amount_too_low"} /
// {error: "invalid_request"}. server/testdata/discount_cases.json is the shared table of cases
// that a Go test and a browser test run through both sides.
(function () {
  "use strict";
  var MAX_CENTS = 100000000;

  // hundredths parses a non-negative decimal string with at most two decimals ("12", "12.5",
  // "12.50") into an integer count of hundredths (cents, or basis points for a percentage),
  // or null. No floating point: 0.1 + 0.2 must never decide a cent.
  function hundredths(s) {
    if (s === null || s === undefined || s === "") return null;
    var m = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(String(s));
    if (!m) return null;
    var frac = (m[2] || "") + "00";
    return Number(m[1]) * 100 + Number(frac.slice(0, 2));
  }
  // roundDiv is a / b rounded half away from zero (b > 0), as merchant.RoundDiv.
  function roundDiv(a, b) {
    if (a < 0) return -roundDiv(-a, b);
    return Math.floor((a + Math.floor(b / 2)) / b);
  }
  // money writes cents as the API does: "-1.05", "0.00", "23.50".
  function money(c) {
    var neg = c < 0, v = Math.abs(c);
    var s = Math.floor(v / 100) + "." + (v % 100 < 10 ? "0" : "") + (v % 100);
    return neg ? "-" + s : s;
  }

  function discountCents(offer, amount) {
    var d = 0, value = hundredths(offer.value) || 0;
    switch (offer.kind) {
      case "percent": d = roundDiv(amount * value, 10000); break;
      case "amount": d = value; break;
      case "free": d = amount; break;
      case "price": d = Math.max(amount - value, 0); break;
    }
    var cap = hundredths(offer.max_discount);
    if (cap !== null) d = Math.min(d, cap);
    return Math.max(Math.min(d, amount), 0);
  }

  window.citycardDiscount = function (offer, amount) {
    var a = hundredths(amount);
    if (!offer || a === null || a > MAX_CENTS) return { error: "invalid_request" };
    var min = hundredths(offer.min_amount);
    if (min !== null && a < min) return { error: "amount_too_low" };
    var d = discountCents(offer, a);
    var share = roundDiv(d * (hundredths(offer.municipal_share) || 0), 10000);
    return { discount: money(d), total: money(a - d), municipal_share: money(share) };
  };
})();
