/* The TV board (web/views/tv.py): splits the tiles into pages that fit the screen and
   rotates them. Pages come from the measured layout: every tile is shown, the grid's rows
   are read back, and rows are gathered into pages no taller than the tile area. The page
   is measured again after each refresh (htmx replaces #tv-board whole) and on resize.
   One interval timer and three listeners are set up once for the life of the page, so a
   board that runs for days holds nothing more after a thousand refreshes than after one. */
(function () {
  "use strict";
  var pages = [];
  var current = 0;

  function board() { return document.getElementById("tv-board"); }

  function show() {
    var b = board();
    if (!b) return;
    var label = b.querySelector(".tv-page");
    if (current >= pages.length) current = 0;
    pages.forEach(function (tiles, index) {
      tiles.forEach(function (tile) { tile.hidden = index !== current; });
    });
    if (label) {
      label.hidden = pages.length < 2;
      label.textContent = pages.length < 2 ? "" : "Page " + (current + 1) + " of " + pages.length;
    }
  }

  function paginate() {
    var b = board();
    pages = [];
    if (!b) return;
    var list = b.querySelector(".tv-tiles");
    if (!list) { show(); return; }
    var tiles = Array.prototype.slice.call(list.children);
    tiles.forEach(function (tile) { tile.hidden = false; });
    var room = list.clientHeight;
    var origin = list.getBoundingClientRect().top;
    var page = [];
    var pageTop = null;
    tiles.forEach(function (tile) {
      var box = tile.getBoundingClientRect();
      var top = box.top - origin;
      if (pageTop === null) pageTop = top;
      if (page.length && box.bottom - origin - pageTop > room + 1 && top > pageTop) {
        pages.push(page);
        page = [];
        pageTop = top;
      }
      page.push(tile);
    });
    if (page.length) pages.push(page);
    show();
  }

  function start() {
    var screen = document.querySelector(".tv-screen");
    var seconds = parseInt(screen && screen.getAttribute("data-rotate"), 10);
    if (!(seconds >= 5)) seconds = 20;
    paginate();
    window.setInterval(function () {
      if (pages.length < 2) return;
      current = (current + 1) % pages.length;
      show();
    }, seconds * 1000);
    var resizing = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(resizing);
      resizing = window.setTimeout(paginate, 200);
    });
    // After a refresh the board element is a new one: measure it (and hold no old one).
    var shown = board();
    document.body.addEventListener("htmx:afterSettle", function () {
      var now = board();
      if (now !== shown) {
        shown = now;
        paginate();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
