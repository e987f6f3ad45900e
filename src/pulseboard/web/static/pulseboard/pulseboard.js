// Pulseboard's own behaviour, loaded as a file because the Content-Security-Policy allows
// no inline script. Everything is event delegation on the document, so it keeps working on
// content htmx swaps in. Without JavaScript every form still posts and every page works.
(function () {
  "use strict";

  // Inline value edit: Esc cancels (Enter submits the form natively). Focus may have left the
  // field (a click elsewhere, or a swap that replaced it): Esc then cancels the open editor.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var form = event.target.closest && event.target.closest("form.value-edit");
    if (!form) {
      var open = document.querySelectorAll("form.value-edit");
      if (open.length !== 1) return;
      form = open[0];
    }
    event.preventDefault();
    var cancel = form.querySelector("[data-cancel]");
    if (!cancel || !window.htmx) return;
    // Asked of htmx directly: right after a swap htmx focuses the field before it has
    // wired up the new Cancel button, so a click on it could go unheard.
    window.htmx.ajax("GET", cancel.getAttribute("hx-get"), {
      target: cancel.getAttribute("hx-target"),
      swap: "outerHTML",
    });
  });

  // KPI form: show only the fields of the chosen shape (and baseline mode).
  function syncShapeFields(form) {
    var shape = form.querySelector("[name=shape]");
    var mode = form.querySelector("[name=baseline_mode]");
    if (!shape) return;
    form.querySelectorAll("[data-shapes]").forEach(function (el) {
      var shapes = el.getAttribute("data-shapes").split(" ");
      var modes = el.getAttribute("data-modes");
      var visible = shapes.indexOf(shape.value) !== -1;
      if (visible && modes && mode) visible = modes.split(" ").indexOf(mode.value) !== -1;
      el.hidden = !visible;
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.name === "shape" || target.name === "baseline_mode") {
      var form = target.closest("form");
      if (form) syncShapeFields(form);
    }
    if (target.matches && target.matches("select[data-autosubmit]")) {
      var owner = target.closest("form");
      if (owner) owner.requestSubmit();
    }
  });

  // Quick-create: Apply fills the form with the suggestion parsed from the title.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-apply]");
    if (!button) return;
    var form = button.closest("form");
    var fields;
    try {
      fields = JSON.parse(button.getAttribute("data-apply"));
    } catch (e) {
      return;
    }
    // The shape first, so the fields it reveals are the ones that get filled.
    var names = Object.keys(fields).sort(function (a, b) {
      return (a === "shape" ? -1 : 0) - (b === "shape" ? -1 : 0);
    });
    var last = null;
    names.forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (!input) return;
      input.value = fields[name] === null ? "" : String(fields[name]);
      if (name === "shape") syncShapeFields(form);
      last = input;
    });
    syncShapeFields(form);
    // One change event (not one per field) refreshes the live preview once.
    if (last) last.dispatchEvent(new Event("change", { bubbles: true }));
    var box = button.closest(".suggest-box");
    if (box) {
      box.textContent = "Applied: check the fields below, then save.";
      box.classList.add("applied");
    }
  });

  // Copy buttons next to once-shown secrets (invite links, API tokens).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    field.select();
    var done = function () {
      button.textContent = "Copied";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // Forms that destroy something ask first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  }, true);

  function ready() {
    document.querySelectorAll("[data-js-hide]").forEach(function (el) {
      el.hidden = true;
    });
    document.querySelectorAll("form").forEach(function (form) {
      if (form.querySelector("[name=shape]")) syncShapeFields(form);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
