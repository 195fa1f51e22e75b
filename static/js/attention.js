// The attention badge's count in the tab title ("(3) Hoy · ECR Portal"), kept in step with the
// badge as it refreshes itself (htmx swaps it every 30 s, and may retitle the page when it
// swaps a whole page in). No inline script: the CSP forbids it.
(function () {
  "use strict";

  function sync() {
    var badge = document.getElementById("attention-badge");
    var count = badge ? parseInt(badge.getAttribute("data-attention-count") || "0", 10) : 0;
    var base = document.title.replace(/^\(\d+\)\s+/, "");
    var title = count > 0 ? "(" + count + ") " + base : base;
    if (document.title !== title) {
      document.title = title;
    }
  }

  sync();
  document.body.addEventListener("htmx:afterSettle", sync);
})();
