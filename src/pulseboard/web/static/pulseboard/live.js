/* Live pages (web/live.py, docs/live.md): containers marked data-live-poll are polled by htmx
   with If-None-Match. This file only keeps polls from doing harm:
   - a 304 (unchanged board) swaps nothing, whatever the htmx response-handling config says
     (htmx 2 would otherwise swap the empty body of a 304 in);
   - no poll while the board is being edited (an inline value editor open, focus in a field),
     and none while the page is hidden (a background tab): the next visible poll catches up. */
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 304) {
      event.detail.shouldSwap = false;
      event.detail.isError = false;
    }
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    if (!elt || !elt.hasAttribute || !elt.hasAttribute("data-live-poll")) return;
    var active = document.activeElement;
    var typing = active && active !== document.body && elt.contains(active) &&
      active.matches("input, select, textarea, [contenteditable]");
    if (document.hidden || typing || elt.querySelector(".editing")) {
      event.preventDefault();
    }
  });
})();
