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
     1 minute and at the end; at the end the submit is replaced by "Get a fresh task".
     ``startTimer`` runs again for each task the JSON loop brings. */
  var timer = document.getElementById("lease-timer");
  var warning = document.getElementById("lease-warning");
  var expired = false;
  var tickId = null;
  var submitBtn = form && form.querySelector("button[type=submit]");
  var fresh = document.getElementById("fresh-task");
  function stopTask() {  /* the task in hand can no longer be answered: offer a fresh one */
    expired = true;
    if (submitBtn) submitBtn.disabled = true;
    if (fresh) { fresh.hidden = false; fresh.classList.add("primary"); }
  }
  function startTimer(total) {
    if (!timer) return;
    if (tickId !== null) clearTimeout(tickId);
    expired = false;
    if (submitBtn) submitBtn.disabled = false;
    if (fresh) { fresh.hidden = true; fresh.classList.remove("primary"); }
    warning.textContent = "";
    var t0 = performance.now();
    var said = {};
    var fmt = function (s) { var m = Math.floor(s / 60), r = s % 60; return m + ":" + (r < 10 ? "0" : "") + r; };
    var tick = function () {
      tickId = null;
      var left = Math.max(0, total - Math.floor((performance.now() - t0) / 1000));
      timer.textContent = fmt(left);
      timer.dataset.seconds = String(left);
      timer.parentElement.classList.toggle("urgent", left <= 60);
      var say = function (key, text) { if (!said[key]) { said[key] = true; warning.textContent = text; } };
      if (left === 0) {
        say("end", "Time is up: this task went back to the pool and an answer to it would not count. Get a fresh task to go on.");
        stopTask();
        return;
      }
      if (left <= 60) say("60", "1 minute left on this task.");
      else if (left <= 120) say("120", "2 minutes left on this task.");
      tickId = setTimeout(tick, 1000 - ((performance.now() - t0) % 1000));
    };
    tick();
  }
  if (timer) startTimer(parseInt(timer.dataset.seconds, 10) || 0);

  /* Progress and earnings: asked after the page has loaded (not part of the task's own request),
     and again after answers sent through the JSON loop, at most every 30 s; in between, a saved
     answer adds one to the two counts here. "This session" starts with the first task page of
     this browser tab. */
  var progress = document.getElementById("wb-progress");
  var progressAt = 0;
  function setProgress(name, text) { var el = progress.querySelector('[data-progress="' + name + '"]'); if (el) el.textContent = text; }
  function loadProgress() {
    if (!progress || !window.fetch) return;
    progressAt = Date.now();
    var key = "cadre-session-start";
    var since = sessionStorage.getItem(key);
    if (!since) { since = String(Date.now()); sessionStorage.setItem(key, since); }
    fetch(progress.dataset.src + "?since=" + encodeURIComponent(since), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        setProgress("session", String(data.answers_session === null ? 0 : data.answers_session));
        setProgress("today", String(data.answers_today));
        setProgress("earnings", data.earnings_today.length ? data.earnings_today.map(function (e) { return e.amount + " " + e.currency; }).join(" + ") : "0.00");
      })
      .catch(function () { progress.hidden = true; });
  }
  function countAnswer() {
    if (!progress) return;
    if (Date.now() - progressAt >= 30000) { loadProgress(); return; }
    ["session", "today"].forEach(function (name) {
      var el = progress.querySelector('[data-progress="' + name + '"]');
      var n = el && parseInt(el.textContent, 10);
      if (el && !isNaN(n)) el.textContent = String(n + 1);
    });
  }
  loadProgress();

  /* The JSON loop (issue 9): the answer goes to the form's data-json URL with fetch (the CSRF
     token in the X-CSRFToken header) and the reply is the next task, filled into this page: the
     lease's hidden fields (the skip dialog's too), the item's content (the server's own fragment),
     the countdown, the standing warning; then "cadre:task" on the form lets the widget and the
     signal counters start over (and the bbox widget swap its image). States other than a task
     ("empty", "blocked", "reload", "login") carry the URL to go to. If the request fails or the
     reply is not JSON, the form is posted the plain way (the same client key: never twice). */
  var loopUrl = form && form.dataset.json;
  var saved = document.getElementById("wb-saved");
  var errorBox = document.getElementById("wb-error");
  var busy = false;
  function showError(text) {
    if (!errorBox) return;
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }
  function fill(task) {
    ["lease_id", "client_key", "started"].forEach(function (name) {
      document.querySelectorAll('input[type=hidden][name="' + name + '"]').forEach(function (el) { el.value = task[name]; });
    });
    form.reset();  /* the widget's choices back to their defaults (hidden inputs keep what was just set) */
    form.querySelector(".item").innerHTML = task.content_html;
    if (task.widget_html) {
      var old = form.querySelector(".tw");
      if (old) old.outerHTML = task.widget_html;
    }
    var expires = document.querySelector(".wb-timer time");
    if (expires) { expires.setAttribute("datetime", task.expires_at); expires.textContent = task.expires_at_text; }
    var standing = document.getElementById("standing-warning");
    if (standing) {
      standing.hidden = !task.warning;
      standing.querySelector("[data-reason]").textContent = task.warning || "";
    }
    startTimer(task.seconds_left);
    form.dispatchEvent(new CustomEvent("cadre:task", { detail: task }));
    var skip = document.getElementById("skip-dialog");
    if (skip) skip.querySelector("form").reset();
  }
  if (form && loopUrl && window.fetch && window.FormData && window.URLSearchParams) {
    form.addEventListener("submit", function (e) {
      if (e.defaultPrevented) return;
      e.preventDefault();
      if (busy || expired) return;
      busy = true;
      if (submitBtn) submitBtn.disabled = true;
      if (saved) saved.hidden = true;  /* "saved" speaks of this answer only once its reply is in */
      var body = new URLSearchParams(new FormData(form));
      var token = form.elements.csrfmiddlewaretoken ? form.elements.csrfmiddlewaretoken.value : "";
      fetch(loopUrl, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": token, Accept: "application/json" },
      })
        .then(function (r) {
          if ((r.headers.get("Content-Type") || "").indexOf("application/json") !== 0) throw new Error("not JSON");
          return r.json().then(function (data) { return { status: r.status, data: data }; });
        })
        .then(function (res) {
          var data = res.data;
          busy = false;
          if (submitBtn) submitBtn.disabled = expired;
          if (data.reload) { window.location.assign(data.reload); return; }
          if (res.status === 409) {  /* the lease is gone: say so and offer a fresh task */
            warning.textContent = (data.errors.lease || []).join(" ") + " Get a fresh task to go on.";
            stopTask();
            return;
          }
          if (res.status !== 200 || data.state !== "task") {
            var msgs = [];
            Object.keys(data.errors || {}).forEach(function (k) { msgs = msgs.concat(data.errors[k]); });
            showError(msgs.join(" ") || "Your answer could not be saved; try again.");
            return;
          }
          showError("");
          fill(data);
          if (data.counted) countAnswer();
          if (saved) { saved.textContent = data.saved; saved.hidden = false; }
        })
        .catch(function () { busy = false; form.submit(); });
    });
  }

  window.CadreWorkbench = { showDialog: showDialog, typing: typing };
})();
