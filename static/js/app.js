/* ECR Portal: the few behaviours every page shares, on top of htmx (loaded just before).
 *
 * 1. Tables as cards on phones: each cell gets `data-label` = its column's header, which the
 *    phone stylesheet shows before the value (static/css/app.css, "Small screens"). Templates may
 *    set `data-label` themselves; a cell that has one keeps it.
 * 2. Announcements: an element with `data-announce` (the charge's live box, the intent panel)
 *    has its text read out by the page's one polite live region (#announcer in base.html) when
 *    it changes. A live region must exist before its text changes to be announced, and the boxes
 *    are replaced every second, so they cannot be the region themselves.
 * 3. Focus after an htmx swap: when the element that had focus was replaced, focus goes to its
 *    equivalent in the new content (same id, data-action or name), else to the new content
 *    itself; never to <body>, where a keyboard or screen-reader user would lose their place.
 * 4. Refusals: htmx swaps no 4xx answer, so a request refused with 403 (a role removed
 *    mid-session) would change nothing and say nothing. The server answers an htmx 403 with a
 *    small fragment marked by the `ECR-Refusal` header (ecrportal/error_views.py); that one is
 *    swapped into the box that asked, like any answer.
 *
 * No inline script anywhere: the Content-Security-Policy allows only files served by us.
 */
(function () {
  "use strict";

  function labelCells(root) {
    var scope = root && root.querySelectorAll ? root : document;
    var tables = [];
    if (scope.matches && scope.matches("table.table")) tables.push(scope);
    if (scope.closest && !tables.length) {
      var parent = scope.closest("table.table");
      if (parent) tables.push(parent);
    }
    scope.querySelectorAll("table.table").forEach(function (t) { tables.push(t); });
    tables.forEach(function (table) {
      var heads = table.querySelectorAll("thead tr:first-child th");
      if (!heads.length) return;
      var names = [];
      heads.forEach(function (th) {
        var span = parseInt(th.getAttribute("colspan") || "1", 10);
        var text = th.getAttribute("data-label") || th.textContent.trim();
        for (var i = 0; i < span; i += 1) names.push(text);
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.children, function (cell) {
          if (!cell.hasAttribute("data-label") && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", names[column] || "");
          }
          column += parseInt(cell.getAttribute("colspan") || "1", 10);
        });
      });
    });
  }

  var lastAnnounced = "";

  function announce(root, quietly) {
    var region = document.getElementById("announcer");
    if (!region) return;
    var scope = root && root.querySelectorAll ? root : document;
    var items = [];
    if (scope.matches && scope.matches("[data-announce]")) items.push(scope);
    scope.querySelectorAll("[data-announce]").forEach(function (el) { items.push(el); });
    items.forEach(function (el) {
      var text = el.getAttribute("data-announce");
      if (text && text !== lastAnnounced) {
        lastAnnounced = text;
        // What the page showed when it opened is not news; only changes are read out.
        if (!quietly) region.textContent = text;
      }
    });
  }

  function remember(active) {
    if (!active || active === document.body) return null;
    if (active.id) return "#" + CSS.escape(active.id);
    var action = active.getAttribute("data-action");
    if (action) return '[data-action="' + CSS.escape(action) + '"]';
    var href = active.tagName === "A" ? active.getAttribute("href") : null;
    if (href) return 'a[href="' + CSS.escape(href) + '"]';
    var name = active.getAttribute("name");
    if (name && active.form) return '[name="' + CSS.escape(name) + '"]';
    return null;
  }

  // What had focus inside each box being replaced, by box. Taken when the request starts too:
  // htmx disables the submit button during the request (hx-disabled-elt), and a disabled
  // button drops focus to <body> before the answer arrives.
  var kept = new WeakMap();

  function keep(target) {
    var active = document.activeElement;
    if (target && active && active !== document.body && target.contains(active)) {
      kept.set(target, { selector: remember(active), targetId: target.id || "" });
    }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    keep(event.detail.target);
  });

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 403 && xhr.getResponseHeader("ECR-Refusal")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    keep(event.detail.target);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    var record = target ? kept.get(target) : null;
    if (!record) return;
    kept.delete(target);
    var active = document.activeElement;
    if (active && active !== document.body && document.contains(active)) return;
    var next = record.selector ? document.querySelector(record.selector) : null;
    if (next && next.disabled) next = null;
    if (!next) {
      var box = record.targetId ? document.getElementById(record.targetId) : null;
      box = box || (document.contains(target) ? target : null);
      // The new content itself: the first element inside the box that was swapped in.
      next = box && box.firstElementChild && box.firstElementChild.id ? box.firstElementChild : box;
    }
    if (!next) return;
    // A box (not a control) takes focus only with a tabindex; the new copy lacks the one the
    // old box was given.
    if (!next.hasAttribute("tabindex") && !next.matches("a[href], button, input, select, textarea")) {
      next.setAttribute("tabindex", "-1");
    }
    next.focus({ preventScroll: true });
  });

  function onLoad(root) {
    labelCells(root);
    announce(root, root === document.body || root === document);
  }

  if (window.htmx) {
    // htmx calls this for the document once loaded and for every piece of content it inserts.
    window.htmx.onLoad(onLoad);
  } else {
    document.addEventListener("DOMContentLoaded", function () { onLoad(document); });
  }
})();
