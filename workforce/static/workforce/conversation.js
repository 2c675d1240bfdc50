/* Two-person conversation page (issue 6): polls the conversation's small JSON state (which also
   tells the server this person is still here), shows the partner's turns as they arrive, sends
   this person's turns, ends or leaves. Turns are shown with textContent: never parsed as HTML. */
(function () {
  "use strict";
  var box = document.getElementById("conversation");
  if (!box || !window.fetch) return;
  var POLL_MS = 1500;
  var status = document.getElementById("conv-status");
  var list = document.getElementById("dialogue");
  var form = document.getElementById("turn-form");
  var text = document.getElementById("turn-text");
  var send = document.getElementById("turn-send");
  var error = document.getElementById("turn-error");
  var endBtn = document.getElementById("conv-end");
  var leaveBtn = document.getElementById("conv-leave");
  var next = document.getElementById("conv-next");
  var count = document.getElementById("conv-count");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var last = null, timer = null, shown = -1;

  function statusText(s) {
    if (s.state === "waiting") return "Waiting for a partner to join as the " + s.partner_role_name + "…";
    if (s.state === "active") return s.your_turn ? "Your turn (" + s.role_name + ")." : "Waiting for the " + s.partner_role_name + " to write…";
    if (s.state === "finished") return "The dialogue is finished. Thank you!";
    return "This conversation was abandoned: " + s.end_reason + " Nothing of it was kept.";
  }

  function render(s) {
    var wasMyTurn = last && last.your_turn;
    last = s;
    var msg = statusText(s);
    if (status.textContent.trim() !== msg) status.textContent = msg;
    if (s.turns.length !== shown || s.state === "abandoned") {
      list.textContent = "";
      s.turns.forEach(function (t) {
        var li = document.createElement("li");
        if (t.mine) li.className = "mine";
        var who = document.createElement("span");
        who.className = "who";
        who.textContent = t.role_name + (t.mine ? " (you)" : "");
        li.appendChild(who);
        li.appendChild(document.createTextNode(" " + t.text));
        list.appendChild(li);
      });
      shown = s.turns.length;
    }
    count.textContent = String(s.turns.length);
    var live = s.state === "waiting" || s.state === "active";
    text.disabled = !s.your_turn;
    send.disabled = !s.your_turn;
    endBtn.disabled = !s.can_end;
    leaveBtn.disabled = !live;
    next.hidden = live;
    if (s.your_turn && !wasMyTurn && document.activeElement === document.body) text.focus();
    if (!live && document.activeElement === document.body) next.focus();
    if (!live && timer) { clearTimeout(timer); timer = null; }
  }

  function poll() {
    fetch(box.dataset.stateUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (s) { render(s); if (s.state === "waiting" || s.state === "active") timer = setTimeout(poll, POLL_MS); })
      .catch(function () { timer = setTimeout(poll, POLL_MS * 2); });
  }

  function post(url, body) {
    var data = body || new FormData();
    data.set("csrfmiddlewaretoken", csrf);
    return fetch(url, { method: "POST", body: data, credentials: "same-origin", headers: { Accept: "application/json", "X-CSRFToken": csrf } })
      .then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) {
            var msgs = [];
            Object.keys(j).forEach(function (k) { msgs = msgs.concat(j[k]); });
            throw new Error(msgs.join(" "));
          }
          return j;
        });
      });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    if (send.disabled) return;
    send.disabled = true;
    error.textContent = "";
    post(form.action, new FormData(form))
      .then(function (s) { text.value = ""; render(s); if (s.state !== "active" && timer) { clearTimeout(timer); timer = null; } })
      .catch(function (err) { error.textContent = err.message; send.disabled = false; });
  });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && e.ctrlKey) { e.preventDefault(); form.requestSubmit(); }
  });
  [["end-form", endBtn], ["leave-form", leaveBtn]].forEach(function (pair) {
    var f = document.getElementById(pair[0]);
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      pair[1].disabled = true;
      error.textContent = "";
      post(f.action).then(render).catch(function (err) { error.textContent = err.message; pair[1].disabled = false; });
    });
  });
  poll();
})();
