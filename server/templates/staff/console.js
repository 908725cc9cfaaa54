"use strict";
// The staff console's desk page, enhanced: the desk and queue section follows the server
// (server-sent events), new arrivals are announced, single-key shortcuts press the desk's
// buttons, and while the page is visible a heartbeat says the clerk is at the desk. Without
// this script every action still works as a plain form post. See server/src/http/console.rs.
(() => {
  const live = document.getElementById("live");
  const notice = document.getElementById("notice");
  if (notice) notice.focus();
  // The supervisor's overview: redrawn every 10 s while the page is visible.
  const overview = document.getElementById("overview");
  if (overview && overview.dataset.refresh) {
    setInterval(async () => {
      if (document.visibilityState !== "visible") return;
      try {
        const r = await fetch(overview.dataset.refresh, { credentials: "same-origin" });
        if (r.ok) {
          const html = await r.text();
          if (overview.innerHTML !== html) overview.innerHTML = html;
        }
      } catch (e) { /* the next round tries again */ }
    }, 10000);
  }
  if (!live) return;
  const lang = live.dataset.lang || "ja";
  const csrf = live.dataset.csrf || "";
  const announce = document.getElementById("announce");
  const labels = () => new Set([...live.querySelectorAll("tr[data-ticket]")].map((r) => r.dataset.ticket));
  let known = labels();

  if (window.EventSource) {
    const es = new EventSource("/staff/events?lang=" + encodeURIComponent(lang));
    // The session ended or an admin changed the account: say so, then load the page again
    // (the login page, or the desk with the account's new rights).
    es.addEventListener("ended", (e) => {
      es.close();
      announce.textContent = e.data;
      setTimeout(() => location.reload(), 3000);
    });
    es.addEventListener("desk", (e) => {
      if (live.innerHTML === e.data) return;
      // Keep keyboard focus on the same control when the section is redrawn.
      const active = document.activeElement;
      const key = active && live.contains(active)
        ? (active.id || (active.form ? active.form.getAttribute("action") : null)) : null;
      live.innerHTML = e.data;
      if (key) {
        const again = document.getElementById(key) ||
          live.querySelector('form[action="' + key + '"] button');
        if (again) again.focus();
      }
      const now = labels();
      const fresh = [...now].filter((l) => !known.has(l));
      if (fresh.length) announce.textContent = (lang === "en" ? "New in the queue: " : "新しい番号札：") + fresh.join("、");
      known = now;
    });
  }

  // Single keys, when no field has the focus and no modifier is held.
  document.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || e.repeat) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    const k = e.key.toLowerCase();
    if (k === "q") {
      e.preventDefault();
      document.getElementById("queue").focus();
      return;
    }
    const b = live.querySelector('button[data-key="' + k + '"]');
    if (b && !b.disabled) {
      e.preventDefault();
      b.click();
    }
  });

  // Presence: every 20 s while the page is visible.
  const beat = () => {
    if (document.visibilityState !== "visible" || !live.querySelector("#call-next")) return;
    fetch("/staff/heartbeat", { method: "POST", headers: { "x-csrf-token": csrf }, credentials: "same-origin" }).catch(() => {});
  };
  beat();
  setInterval(beat, 20000);
  document.addEventListener("visibilitychange", beat);
})();
