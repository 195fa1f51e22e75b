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

  // The problem bar (base.html): what went wrong with a background request. A "connection"
  // problem (no answer, or a proxy's 502/503/504) clears itself once a request works again; a
  // problem the portal explained (a 500, an expired form) stays until it is closed.
  function problemBar() { return document.getElementById("request-problem"); }

  function showProblem(kind, html, text) {
    var bar = problemBar();
    if (!bar) return;
    var body = bar.querySelector(".request-problem-body");
    if (html !== null) {
      body.innerHTML = html;  // the portal's own fragment (ECR-Problem), never provider text
    } else {
      body.textContent = text;
    }
    bar.dataset.kind = kind;
    bar.hidden = false;
  }

  function hideProblem(onlyKind) {
    var bar = problemBar();
    if (!bar || bar.hidden || (onlyKind && bar.dataset.kind !== onlyKind)) return;
    bar.hidden = true;
    bar.dataset.kind = "";
  }

  var CHARGE_ADVICE = " Si estabas cobrando, no repitas el cobro: fijate primero en Operaciones " +
    "si la operación quedó registrada y en qué estado.";

  function unexplained(status) {
    if (status === 0 || status === 502 || status === 503 || status === 504) {
      return ["connection", "El portal no respondió (" + (status || "sin conexión") + "). " +
        "Revisá la conexión; esta página vuelve a consultar sola." + CHARGE_ADVICE];
    }
    if (status === 404) {
      return ["server", "Lo que pediste ya no está o no tenés acceso (404). Recargá la página."];
    }
    return ["server", "El portal no pudo completar el pedido (error " + status + "). " +
      "Recargá la página y probá de nuevo." + CHARGE_ADVICE];
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 403 && xhr.getResponseHeader("ECR-Refusal")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    } else if (xhr && xhr.status >= 400) {
      // Never swapped into the box: a live box keeps polling, a form keeps what was typed.
      event.detail.shouldSwap = false;
      event.detail.isError = false;
      if (xhr.getResponseHeader("ECR-Problem")) {
        showProblem("server", xhr.responseText, null);
      } else {
        var problem = unexplained(xhr.status);
        showProblem(problem[0], null, problem[1]);
      }
      return;
    }
    keep(event.detail.target);
  });

  document.addEventListener("htmx:sendError", function () {
    var problem = unexplained(0);
    showProblem(problem[0], null, problem[1]);
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.successful) hideProblem("connection");
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-dismiss-problem]")) hideProblem(null);
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
