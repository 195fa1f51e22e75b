// "Imprimir" on the receipt page: the browser's print dialog (the print stylesheet in
// extras.css leaves only the ticket). A listener, not an inline onclick: the CSP forbids those.
(function () {
  "use strict";
  document.querySelectorAll("[data-action=print]").forEach(function (button) {
    button.addEventListener("click", function () {
      window.print();
    });
  });
})();
