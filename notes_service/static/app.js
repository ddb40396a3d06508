/* Progressive enhancement for the notes pages. Every page works without this file; it only
   adds live feedback. No inline scripts anywhere: behaviour hangs off data- attributes. */
(function () {
  "use strict";

  var PLAIN_DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

  function plainNumber(text) {
    var value = (text || "").trim();
    return PLAIN_DECIMAL.test(value) ? parseFloat(value) : null;
  }

  function formatNumber(value) {
    return String(Math.round(value * 100) / 100);
  }

  /* Copy forward: a copied field loses its "copied from" mark once edited. */
  function initCopiedMarks(root) {
    root.querySelectorAll("[data-copied]").forEach(function (field) {
      function clear() {
        var mark = document.getElementById(field.getAttribute("data-copied"));
        if (mark) { mark.remove(); }
        field.classList.remove("is-copied");
        field.removeAttribute("data-copied");
        field.removeEventListener("input", clear);
        field.removeEventListener("change", clear);
      }
      field.addEventListener("input", clear);
      field.addEventListener("change", clear);
    });
  }

  /* Measurement grid: the within-visit change (post − pre) as the clinician types. */
  function initGrid(root) {
    root.querySelectorAll("[data-grid-row]").forEach(function (row) {
      var pre = row.querySelector('input[data-phase="pre"]');
      var post = row.querySelector('input[data-phase="post"]');
      var out = row.querySelector("[data-change]");
      if (!pre || !post || !out) { return; }
      var better = row.getAttribute("data-better");
      var threshold = parseFloat(row.getAttribute("data-threshold"));
      var unit = (row.getAttribute("data-unit") || "").trim();
      function update() {
        var a = plainNumber(pre.value);
        var b = plainNumber(post.value);
        out.className = "change";
        if (a === null || b === null) { out.textContent = ""; return; }
        var delta = b - a;
        var improvement = better === "higher" ? delta : -delta;
        var sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
        out.textContent = sign + formatNumber(Math.abs(delta)) + unit;
        out.classList.add(improvement > 0 ? "change-better" : improvement < 0 ? "change-worse" : "change-same");
        if (Math.abs(improvement) >= threshold) { out.classList.add("change-meaningful"); }
      }
      pre.addEventListener("input", update);
      post.addEventListener("input", update);
    });
  }

  /* Questionnaire scores, computed the same way as the server (catalog.odi_score, ...). */
  function items(container, selector) {
    return Array.prototype.map.call(container.querySelectorAll(selector), function (input) {
      var text = input.value.trim();
      return text === "" ? null : (/^\d+$/.test(text) ? parseInt(text, 10) : NaN);
    });
  }

  function initQuestionnaires(root) {
    var odi = root.querySelector("[data-odi]");
    var odiOut = root.querySelector("[data-odi-score]");
    if (odi && odiOut) {
      odi.addEventListener("input", function () {
        var values = items(odi, "input");
        var answered = values.filter(function (v) { return v !== null; });
        var bad = answered.some(function (v) { return isNaN(v) || v < 0 || v > 5; });
        if (bad || answered.length < 9) { odiOut.textContent = "—"; return; }
        var sum = answered.reduce(function (a, b) { return a + b; }, 0);
        odiOut.textContent = formatNumber(Math.round(sum / (5 * answered.length) * 1000) / 10) + "%";
      });
    }
    var lefs = root.querySelector("[data-lefs]");
    var lefsOut = root.querySelector("[data-lefs-score]");
    if (lefs && lefsOut) {
      lefs.addEventListener("input", function () {
        var values = items(lefs, "input");
        var ok = values.every(function (v) { return v !== null && !isNaN(v) && v >= 0 && v <= 4; });
        lefsOut.textContent = ok ? values.reduce(function (a, b) { return a + b; }, 0) + "/80" : "—";
      });
    }
    var psfs = root.querySelector("[data-psfs]");
    var psfsOut = root.querySelector("[data-psfs-score]");
    if (psfs && psfsOut) {
      psfs.addEventListener("input", function () {
        var scores = Array.prototype.map.call(psfs.querySelectorAll("[data-psfs-item]"), function (i) {
          return plainNumber(i.value);
        }).filter(function (v) { return v !== null && v >= 0 && v <= 10; });
        psfsOut.textContent = scores.length
          ? formatNumber(scores.reduce(function (a, b) { return a + b; }, 0) / scores.length) : "—";
      });
    }
  }

  /* Special tests: add rows from the <template>. */
  function initSpecialTests(root) {
    var button = root.querySelector("[data-add-test]");
    var body = root.querySelector("[data-test-rows]");
    var template = document.getElementById("test-row-template");
    if (!button || !body || !template) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var index = parseInt(body.getAttribute("data-next-index"), 10) || 0;
      var html = template.innerHTML
        .replace(/row __i__/g, "row " + (index + 1))
        .replace(/__i__/g, String(index));
      body.insertAdjacentHTML("beforeend", html);
      body.setAttribute("data-next-index", String(index + 1));
      var first = body.lastElementChild && body.lastElementChild.querySelector("select");
      if (first) { first.focus(); }
    });
  }

  /* Plan form: fill the diagnosis from the ICD-10 pick list; a goal target ticks "track". */
  function initPlanForm(root) {
    var code = root.querySelector("[data-icd10]");
    var text = root.querySelector("[data-diagnosis-text]");
    if (code && text) {
      var list = document.getElementById(code.getAttribute("list"));
      var filled = "";
      code.addEventListener("input", function () {
        var value = code.value.trim().toUpperCase();
        var option = list && Array.prototype.find.call(list.options, function (o) { return o.value === value; });
        if (option && (text.value === "" || text.value === filled)) {
          text.value = option.label;
          filled = option.label;
        }
      });
    }
    root.querySelectorAll("[data-goal-row]").forEach(function (row) {
      var target = row.querySelector("[data-goal-target]");
      var track = row.querySelector("[data-track]");
      if (target && track) {
        target.addEventListener("input", function () {
          if (target.value.trim() !== "") { track.checked = true; }
        });
      }
    });
  }

  /* Keyboard: Ctrl/Cmd+S saves the draft. */
  function initShortcuts() {
    var save = document.querySelector("[data-shortcut-save]");
    if (!save) { return; }
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && (event.key === "s" || event.key === "S")) {
        event.preventDefault();
        save.click();
      }
    });
  }

  /* Warn before leaving a note form with unsaved typing. */
  function initUnsavedWarning() {
    var form = document.querySelector("[data-warn-unsaved]");
    if (!form) { return; }
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("change", function () { dirty = true; });
    form.addEventListener("submit", function () { dirty = false; });
    window.addEventListener("beforeunload", function (event) {
      if (dirty) { event.preventDefault(); event.returnValue = ""; }
    });
  }

  /* Typing is activity: ping the server at most once a minute while the clinician types, so a
     long note does not hit the inactivity sign-out; say so if the session has already expired. */
  function initKeepAlive() {
    var form = document.querySelector("[data-keep-alive]");
    if (!form || !window.fetch) { return; }
    var url = form.getAttribute("data-keep-alive");
    var token = form.querySelector('input[name="csrf_token"]');
    var last = Date.now();
    form.addEventListener("input", function () {
      if (Date.now() - last < 60000) { return; }
      last = Date.now();
      window.fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRFToken": token ? token.value : "", "Accept": "application/json"}
      }).then(function (response) {
        if (response.status === 401 || response.status === 400) {
          var notice = document.querySelector("[data-session-expired]");
          if (notice) { notice.hidden = false; }
        }
      }).catch(function () { /* offline: the save will tell */ });
    });
  }

  /* Move focus to the error summary after a failed save, so keyboard users land on it. */
  function focusErrors() {
    var summary = document.getElementById("form-errors");
    if (summary) {
      var firstInvalid = document.querySelector('[aria-invalid="true"]');
      (firstInvalid || summary).focus();
    }
  }

  /* Close the user menu with Escape or a click elsewhere. */
  function initUserMenu() {
    var menu = document.querySelector(".usermenu");
    if (!menu) { return; }
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) { menu.open = false; }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  }

  /* Wide flow sheets open at their newest visits (the right end). */
  function initScrollEnd() {
    document.querySelectorAll("[data-scroll-end]").forEach(function (box) {
      box.scrollLeft = box.scrollWidth;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    initScrollEnd();
    initCopiedMarks(document);
    initGrid(document);
    initQuestionnaires(document);
    initSpecialTests(document);
    initPlanForm(document);
    initShortcuts();
    initUnsavedWarning();
    initUserMenu();
    initKeepAlive();
    focusErrors();
  });
}());
