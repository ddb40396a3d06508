/* Patient portal and invitation pages. Works without this file; it only adds the copy button.
   No inline scripts: behaviour hangs off data- attributes. */
(function () {
  "use strict";

  /* A read-only field with a link: select it all on focus; a button copies it. */
  function initCopy() {
    document.querySelectorAll("[data-copy-target]").forEach(function (button) {
      var field = document.getElementById(button.getAttribute("data-copy-target"));
      var status = document.getElementById(button.getAttribute("data-copy-status"));
      if (!field) { return; }
      field.addEventListener("focus", function () { field.select(); });
      button.hidden = false;
      button.addEventListener("click", function () {
        function done(message) { if (status) { status.textContent = message; } }
        field.select();
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(function () {
            done("Link copied.");
          }, function () {
            done("Press Ctrl+C (or ⌘+C) to copy the selected link.");
          });
        } else {
          var copied = false;
          try { copied = document.execCommand("copy"); } catch (e) { copied = false; }
          done(copied ? "Link copied." : "Press Ctrl+C (or ⌘+C) to copy the selected link.");
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", initCopy);
}());
