// The source page: copy buttons and showing the inputs of the chosen connector kind.
// A static file because the Content-Security-Policy forbids inline script.
(function () {
  "use strict";

  function copyText(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target || !navigator.clipboard) {
      return;
    }
    navigator.clipboard.writeText(target.textContent).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      window.setTimeout(function () { button.textContent = label; }, 1500);
    });
  }

  function showChosenKind(form) {
    var chosen = form.querySelector('input[name="kind"]:checked');
    form.querySelectorAll(".kind-fields").forEach(function (fields) {
      fields.hidden = !chosen || fields.getAttribute("data-kind") !== chosen.value;
    });
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) {
      copyText(button);
    }
  });

  var form = document.getElementById("source-form");
  if (form) {
    form.addEventListener("change", function (event) {
      if (event.target.name === "kind") {
        showChosenKind(form);
      }
    });
    showChosenKind(form);
  }
})();
