/* Where the keyboard focus goes when part of a page changes (WCAG 2.4.3, 3.3.1, 4.1.3).
 *
 * - A page that re-renders a refused form: its error summary (.error-summary[data-autofocus])
 *   takes the focus on load, so a screen reader reads what to fix and Tab leads to the fields.
 * - After an htmx swap answered 422 or 409 (a form refused in place): the error summary in what
 *   was swapped in takes the focus.
 * - After any other swap that removed the element that had the focus (the button of a form that
 *   redrew itself, a pagination link): the new content's [data-focus] element (a confirmation),
 *   else its first heading, else the new region itself.  A swap that did not take the focus away
 *   (search as you type, a polled progress count) leaves it where the person is.
 * - A polled count kept as a live region outside what is swapped (data-announce-changes) takes
 *   its new text out of band only when the text changed, so it is read out once per change.
 *
 * No inline script: the CSP allows scripts from this site only.  Loaded with defer, after htmx.
 */
(function () {
  "use strict";

  var SUMMARY = ".error-summary";
  var before = new WeakMap(); // xhr -> {focused, targetId, target}
  var done = new WeakSet();

  function focusOn(el) {
    if (!el) return false;
    if (!el.hasAttribute("tabindex") && !el.matches("a[href], button, input, select, textarea")) {
      el.setAttribute("tabindex", "-1");
    }
    el.focus();
    return document.activeElement === el;
  }

  function find(root, selector) {
    if (!root || root.nodeType !== 1) return null;
    return root.matches(selector) ? root : root.querySelector(selector);
  }

  function lost(focused) {
    var now = document.activeElement;
    var nowhere = !now || now === document.body || now === document.documentElement;
    return nowhere && !!focused && focused !== document.body && !focused.isConnected;
  }

  function onLoad() {
    var summary = document.querySelector(SUMMARY + "[data-autofocus]");
    if (summary) focusOn(summary);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    before.set(event.detail.xhr, {
      focused: document.activeElement,
      targetId: target && target.id,
      target: target,
    });
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var xhr = event.detail.xhr;
    var state = before.get(xhr);
    if (!state || done.has(xhr)) return;
    done.add(xhr);
    // The region now on the page: the same element (innerHTML) or its replacement (outerHTML).
    var region = state.target && state.target.isConnected ? state.target : null;
    if (!region && state.targetId) region = document.getElementById(state.targetId);
    if (!region) region = event.detail.elt && event.detail.elt.isConnected ? event.detail.elt : null;
    if (!region) return;

    var status = xhr ? xhr.status : 0;
    if ((status === 422 || status === 409) && focusOn(find(region, SUMMARY))) return;
    if (!lost(state.focused)) return;
    focusOn(find(region, "[data-focus]") || find(region, "h1, h2, h3, h4, h5, h6") || region);
  });

  // A polled live region (data-announce-changes) takes new text only when it differs: the same
  // count swapped in again every few seconds would be read out again and again.
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail.target;
    var fragment = event.detail.fragment;
    if (target && fragment && target.hasAttribute("data-announce-changes") &&
        fragment.textContent.trim() === target.textContent.trim()) {
      event.detail.shouldSwap = false;
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", onLoad);
  } else {
    onLoad();
  }
})();
