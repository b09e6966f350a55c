/* discount.js: the discount arithmetic of merchant/offer.go (QuoteFor, Discount, ShareOf),
 * in the browser, for quotes the till makes offline. Plain script; it defines
 * window.citycardDiscount(offer, amount).
 *
 * offer is an offer as the API shows it (kind, value, max_discount, min_amount,
 * municipal_share: money and percentages as strings), amount a money string like "23.50".
 * The result is {discount, total, municipal_share} as money strings, or {error: code}:
 * "amount_too_low" (as the server), "invalid_amount" or "invalid_offer" (input the server
 * would refuse with 400).
 *
 * Everything is integer cents and basis points: the largest product (1,000,000.00 € ×
 * 100 %) is 10^12, far below 2^53, so Number arithmetic stays exact. Rounding is half away
 * from zero to the cent, like merchant.RoundDiv. server/testdata/discount_cases.json holds the
 * cases that the Go test and the browser test both run, so the two cannot drift apart.
 */
(function () {
  'use strict';
  var MAX_CENTS = 100000000; // merchant.MaxCents: 1,000,000.00
  var MONEY = /^(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?$/; // server/decode.go moneyRE
  var PERCENT = /^(0|[1-9][0-9]{0,2})(\.[0-9]{1,2})?$/; // server/decode.go percentRE

  // fixed2 parses "12", "12.5" or "12.50" into hundredths (cents or basis points), or null.
  function fixed2(s, re, max) {
    if (typeof s !== 'string' || !re.test(s)) return null;
    var parts = s.split('.');
    var frac = ((parts[1] || '') + '00').slice(0, 2);
    var v = parseInt(parts[0], 10) * 100 + parseInt(frac, 10);
    return v > max ? null : v;
  }
  function cents(s) { return fixed2(s, MONEY, MAX_CENTS); }
  function bp(s) { return fixed2(s, PERCENT, 10000); }
  function optCents(s) { return s === null || s === undefined ? undefined : cents(s); }

  // roundDiv is a / b rounded half away from zero; b > 0 (merchant.RoundDiv).
  function roundDiv(a, b) {
    if (a < 0) return -roundDiv(-a, b);
    return Math.floor((a + Math.floor(b / 2)) / b);
  }

  function money(c) {
    var neg = c < 0;
    if (neg) c = -c;
    var frac = String(c % 100);
    return (neg ? '-' : '') + Math.floor(c / 100) + '.' + (frac.length < 2 ? '0' + frac : frac);
  }

  function citycardDiscount(offer, amount) {
    var a = cents(amount);
    if (a === null) return { error: 'invalid_amount' };
    if (!offer || typeof offer !== 'object') return { error: 'invalid_offer' };
    var value = 0;
    switch (offer.kind) {
      case 'percent':
        value = bp(offer.value);
        if (value === null || value <= 0) return { error: 'invalid_offer' };
        break;
      case 'amount':
        value = cents(offer.value);
        if (value === null || value <= 0) return { error: 'invalid_offer' };
        break;
      case 'price':
        value = cents(offer.value);
        if (value === null) return { error: 'invalid_offer' };
        break;
      case 'free':
        if (offer.value !== null && offer.value !== undefined) return { error: 'invalid_offer' };
        break;
      default:
        return { error: 'invalid_offer' };
    }
    var maxD = optCents(offer.max_discount), minA = optCents(offer.min_amount);
    var share = offer.municipal_share === null || offer.municipal_share === undefined ? 0 : bp(offer.municipal_share);
    if (maxD === null || minA === null || share === null) return { error: 'invalid_offer' };

    if (minA !== undefined && a < minA) return { error: 'amount_too_low' };
    var d;
    switch (offer.kind) {
      case 'percent': d = roundDiv(a * value, 10000); break;
      case 'amount': d = value; break;
      case 'free': d = a; break;
      case 'price': d = Math.max(a - value, 0); break;
    }
    if (maxD !== undefined) d = Math.min(d, maxD);
    d = Math.max(Math.min(d, a), 0);
    return { discount: money(d), total: money(a - d), municipal_share: money(roundDiv(d * share, 10000)) };
  }

  window.citycardDiscount = citycardDiscount;
})();
