// Copy buttons: each button with data-copy="ID" copies the text of the
// element with that id. Pages work without this script (the text is
// there to select); it only reveals and wires the buttons.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.copy[data-copy]").forEach(function (btn) {
    var src = document.getElementById(btn.getAttribute("data-copy"));
    if (!src) return;
    btn.hidden = false;
    btn.setAttribute("aria-label", "Copy to the clipboard");
    btn.addEventListener("click", function () {
      var text = src.textContent;
      var done = function (ok) {
        btn.textContent = ok ? "Copied" : "Select and copy";
        setTimeout(function () { btn.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback(src)); });
      } else {
        done(fallback(src));
      }
    });
  });
  function fallback(el) {
    var r = document.createRange();
    r.selectNodeContents(el);
    var s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
});
