// The review queue's keys (web/console/review.py): a key shown on a button (data-key: a
// label's digit, or the skip key) presses that button, unless the person is typing in a
// field. Tab and Enter work as on any form. After htmx swaps in the next item, the focus goes
// to its heading, so that the keys, Tab and a screen reader all start from the new item.
(function () {
  "use strict";

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var target = event.target;
    if (target instanceof Element && target.closest("input, textarea, select, [contenteditable]")) {
      return;
    }
    var form = document.querySelector("#review-item form[data-decide], #review-item form[data-lease]");
    // One decision at a time: htmx marks the form while its request is under way.
    if (!form || form.classList.contains("htmx-request")) {
      return;
    }
    var buttons = form.querySelectorAll("button[data-key]");
    for (var i = 0; i < buttons.length; i += 1) {
      if (buttons[i].getAttribute("data-key") === event.key && !buttons[i].disabled) {
        event.preventDefault();
        buttons[i].click();
        return;
      }
    }
  });

  document.addEventListener("htmx:afterSettle", function () {
    var heading = document.querySelector("#review-item #item-heading");
    if (heading) {
      heading.focus();
    }
  });
})();
