"use strict";
(function () {
  var box = document.getElementById("my-tickets");
  var status = document.getElementById("live-status");
  if (!box || !window.EventSource) return;
  var hint = document.getElementById("reload-hint");
  var es = new EventSource("/text/events?lang=" + encodeURIComponent(box.getAttribute("data-lang") || "ja"));
  // The session ended (logged out elsewhere, say): say so, then show the page as it is now.
  es.addEventListener("ended", function (e) {
    es.close();
    if (status) status.textContent = e.data;
    setTimeout(function () { location.reload(); }, 3000);
  });
  es.addEventListener("tickets", function (e) {
    if (box.innerHTML === e.data) return;
    // Keep keyboard focus on the same button when the section is redrawn.
    var active = document.activeElement;
    var form = active && box.contains(active) && active.form ? active.form.getAttribute("action") : null;
    var wasCalled = !!box.querySelector("[data-called]");
    box.innerHTML = e.data;
    if (form) {
      var again = box.querySelector('form[action="' + form + '"] button');
      if (again) again.focus();
    }
    var called = box.querySelector("[data-called]");
    if (called && !wasCalled) {
      document.title = "\u2757 " + document.title.replace(/^\u2757 /, "");
      try { navigator.vibrate && navigator.vibrate([300, 100, 300]); } catch (_) {}
    } else if (status) {
      // A short, polite summary for screen readers; a call is announced by its own alert.
      var first = box.querySelector(".ticket p:nth-of-type(2)");
      status.textContent = first ? first.textContent : "";
    }
  });
  if (hint) hint.hidden = true;
  document.documentElement.setAttribute("data-live", "1");
})();
