// The words and answers of the staff's phone pages, the till (/pos) and the counter page
// (/sell): which of the four languages the page speaks, its static texts in that language,
// and ask(view)/current(), which drops an answer a newer question of the same view made old.
(function () {
  "use strict";
  var LANGS = ["sl", "it", "en", "de"];
  window.citycardPage = {
    LANGS: LANGS,
    LOCALES: { sl: "sl-SI", it: "it-IT", en: "en-GB", de: "de-DE" },
    // pickLang is the clerk's saved choice, else the browser's first language the page
    // speaks, else Slovene (the town's language).
    pickLang: function (saved) {
      if (LANGS.indexOf(saved) >= 0) return saved;
      var prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || ""];
      for (var i = 0; i < prefs.length; i++) {
        var l = String(prefs[i]).slice(0, 2).toLowerCase();
        if (LANGS.indexOf(l) >= 0) return l;
      }
      return "sl";
    },
    // applyTexts writes the page's data-i18n texts, placeholders and labels with t.
    applyTexts: function (t) {
      Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (e) { e.textContent = t(e.dataset.i18n); });
      Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-placeholder]"), function (e) { e.placeholder = t(e.dataset.i18nPlaceholder); });
      Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-aria-label]"), function (e) { e.setAttribute("aria-label", t(e.dataset.i18nAriaLabel)); });
    },
    // makeAsk returns ask: ask(view) starts a new question of a view and returns current(),
    // true while it is still that view's latest; an old answer is dropped, counted in the
    // page's data-dropped (for the tests).
    makeAsk: function () {
      var asked = {};
      return function (view) {
        var n = asked[view] = (asked[view] || 0) + 1, counted = false;
        return function () {
          if (asked[view] === n) return true;
          if (!counted) {
            counted = true;
            document.body.dataset.dropped = String(Number(document.body.dataset.dropped || 0) + 1);
          }
          return false;
        };
      };
    }
  };
})();
