/* Cadre workbench (issue 6): keyboard shortcuts, dialogs with a focus trap, the lease countdown,
   the progress line. Every part checks that its element is on the page, so the conversation page
   and the task page share this file. Nothing here is sent anywhere except the progress request
   (which sends the tab's session start time, nothing else). */
(function () {
  "use strict";

  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    if (tag !== "INPUT") return false;
    return ["radio", "checkbox", "button", "submit", "reset", "range", "color", "file", "image"].indexOf(el.type) < 0;
  }

  function openDialog() {
    var open = document.querySelector("dialog[open]");
    return open && open.matches(".wb-dialog") ? open : null;
  }

  /* Modal dialogs: showModal makes the rest of the page inert; Tab / Shift+Tab are also wrapped
     inside the dialog (a focus trap that does not rely on the browser), and closing gives focus
     back to whatever opened it. */
  function showDialog(dialog, opener) {
    if (!dialog || dialog.open) return;
    var current = openDialog();
    if (current) current.close();
    dialog._opener = opener || document.activeElement;
    dialog.showModal();
    var first = dialog.querySelector("[autofocus]") || dialog.querySelector(FOCUSABLE);
    if (first) first.focus();
    if (dialog.id === "instructions-dialog") loadExamples(dialog);
  }

  document.querySelectorAll("dialog.wb-dialog").forEach(function (dialog) {
    dialog.addEventListener("close", function () {
      if (dialog._opener && document.contains(dialog._opener)) dialog._opener.focus();
    });
    dialog.addEventListener("keydown", function (e) {
      if (e.key !== "Tab") return;
      var items = Array.prototype.filter.call(dialog.querySelectorAll(FOCUSABLE), function (el) {
        return el.offsetParent !== null || el === document.activeElement;
      });
      if (!items.length) return;
      var first = items[0], last = items[items.length - 1];
      if (e.shiftKey && document.activeElement === first) { last.focus(); e.preventDefault(); }
      else if (!e.shiftKey && document.activeElement === last) { first.focus(); e.preventDefault(); }
    });
    dialog.querySelectorAll("[data-close]").forEach(function (btn) {
      btn.addEventListener("click", function () { dialog.close(); });
    });
  });

  function loadExamples(dialog) {
    var box = dialog.querySelector("[data-src]");
    if (!box || box.dataset.loaded) return;
    box.dataset.loaded = "1";
    fetch(box.dataset.src, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) { box.innerHTML = html; })
      .catch(function () { box.innerHTML = '<p>The examples could not be loaded. <a href="' + box.dataset.src.split("?")[0] + '">Open the instructions page</a>.</p>'; });
  }

  var form = document.getElementById("task-form");
  var actions = {
    skip: function (opener) { showDialog(document.getElementById("skip-dialog"), opener); },
    instructions: function (opener) { showDialog(document.getElementById("instructions-dialog"), opener); },
    help: function (opener) { showDialog(document.getElementById("help-dialog"), opener); },
    submit: function () {
      if (!form || expired) return;
      if (form.reportValidity()) form.requestSubmit();
    },
  };
  document.querySelectorAll("[data-action]").forEach(function (el) {
    el.addEventListener("click", function (e) {
      var run = actions[el.dataset.action];
      if (run) { e.preventDefault(); run(el); }
    });
  });

  /* Keys. A window capture listener runs before the widgets' own (document) listeners: while a
     dialog is open it handles the keys itself and the widget underneath sees nothing. */
  window.addEventListener("keydown", function (e) {
    if (e.altKey || e.metaKey) return;
    var dialog = openDialog();
    if (e.ctrlKey) {
      if (e.key === "Enter" && !dialog) { actions.submit(); e.preventDefault(); }
      return;
    }
    if (dialog) {
      if (!typing(e.target) && /^[1-9]$/.test(e.key)) {
        var radio = dialog.querySelector('input[type=radio][data-reason-key="' + e.key + '"]');
        if (radio) { radio.checked = true; radio.focus(); e.preventDefault(); }
        e.stopImmediatePropagation();
      }
      return;  /* Esc: the dialog closes itself */
    }
    if (typing(e.target)) return;
    var t = e.target;
    /* 1-9: the answer marked with that key (a radio is chosen, a checkbox toggled); the task
       page's widgets and the tutorial mark theirs with data-key. */
    if (/^[1-9]$/.test(e.key)) {
      var choice = document.querySelector('input[data-key="' + e.key + '"]');
      if (choice) {
        if (choice.type === "checkbox") choice.checked = !choice.checked; else choice.checked = true;
        choice.dispatchEvent(new Event("change", { bubbles: true }));
        choice.focus();
        e.preventDefault();
        return;
      }
    }
    if (e.key === "Enter" && form && !(t.tagName === "BUTTON" || t.tagName === "A")) { actions.submit(); e.preventDefault(); return; }
    if (e.key === "?") { actions.help(); e.preventDefault(); return; }
    if (e.key === "i" || e.key === "I") { actions.instructions(); e.preventDefault(); return; }
    if ((e.key === "s" || e.key === "S") && document.getElementById("skip-dialog")) { actions.skip(); e.preventDefault(); }
  }, true);

  /* The lease countdown, from the seconds the server said were left (the phone's clock may be
     wrong), counted with the monotonic clock. Warnings go to an aria-live region at 2 minutes,
     1 minute and at the end; at the end the submit is replaced by "Get a fresh task". */
  var timer = document.getElementById("lease-timer");
  var warning = document.getElementById("lease-warning");
  var expired = false;
  if (timer) {
    var total = parseInt(timer.dataset.seconds, 10) || 0;
    var t0 = performance.now();
    var said = {};
    var fmt = function (s) { var m = Math.floor(s / 60), r = s % 60; return m + ":" + (r < 10 ? "0" : "") + r; };
    var tick = function () {
      var left = Math.max(0, total - Math.floor((performance.now() - t0) / 1000));
      timer.textContent = fmt(left);
      timer.parentElement.classList.toggle("urgent", left <= 60);
      var say = function (key, text) { if (!said[key]) { said[key] = true; warning.textContent = text; } };
      if (left === 0) {
        say("end", "Time is up: this task went back to the pool and an answer to it would not count. Get a fresh task to go on.");
        expired = true;
        var submit = form && form.querySelector("button[type=submit]");
        if (submit) submit.disabled = true;
        var fresh = document.getElementById("fresh-task");
        if (fresh) { fresh.hidden = false; fresh.classList.add("primary"); }
        return;
      }
      if (left <= 60) say("60", "1 minute left on this task.");
      else if (left <= 120) say("120", "2 minutes left on this task.");
      setTimeout(tick, 1000 - ((performance.now() - t0) % 1000));
    };
    tick();
  }

  /* Progress and earnings: asked once per page, after it has loaded (not part of the task's
     own request). "This session" starts with the first task page of this browser tab. */
  var progress = document.getElementById("wb-progress");
  if (progress && window.fetch) {
    var key = "cadre-session-start";
    var since = sessionStorage.getItem(key);
    if (!since) { since = String(Date.now()); sessionStorage.setItem(key, since); }
    fetch(progress.dataset.src + "?since=" + encodeURIComponent(since), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        var set = function (name, text) { var el = progress.querySelector('[data-progress="' + name + '"]'); if (el) el.textContent = text; };
        set("session", String(data.answers_session === null ? 0 : data.answers_session));
        set("today", String(data.answers_today));
        set("earnings", data.earnings_today.length ? data.earnings_today.map(function (e) { return e.amount + " " + e.currency; }).join(" + ") : "0.00");
      })
      .catch(function () { progress.hidden = true; });
  }

  window.CadreWorkbench = { showDialog: showDialog, typing: typing };
})();
