"use strict";
// The staff console's consultation page, for its clerk: the application filled in for the
// resident (書かない窓口) with each field checked as the clerk types and saved when a field is
// left, an interpreter's one-time code, and ending the consultation with a note. The media,
// the people and the chat are /text/consult.js's, shared with the residents' page. Calls go to
// the staff API with the console's cookie and its CSRF token (x-csrf-token).
(() => {
  const root = document.getElementById("consult");
  if (!root || !document.getElementById("editor")) return;
  const id = root.dataset.id;
  const csrf = root.dataset.csrf;
  const lang = root.dataset.lang || "ja";
  const procedures = JSON.parse(root.dataset.procedures);
  const problems = JSON.parse(root.dataset.problems);
  const W = JSON.parse(root.dataset.consoleWords);
  const named = (n) => (n ? (lang === "en" ? n.en : n.ja) : "");
  const status = document.getElementById("editor-status");
  const api = async (method, path, body) => {
    const r = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    return { ok: r.ok, status: r.status, data };
  };

  const select = document.getElementById("procedure");
  for (const p of procedures) {
    const o = document.createElement("option");
    o.value = p.id;
    o.textContent = named(p.name);
    select.append(o);
  }

  // The editor: one application at a time, the newest draft of this consultation.
  let editing = null; // { reference, procedure, inputs: Map(fieldId -> element) }
  const editor = document.getElementById("editor");
  let checkTimer = null;

  function collect() {
    const form = {};
    for (const f of editing.fields) {
      const input = editing.inputs.get(f.id);
      if (f.type === "boolean") { form[f.id] = input.checked; continue; }
      const v = input.value.trim();
      if (v === "") continue;
      form[f.id] = f.type === "number" && /^-?\d+$/.test(v) ? parseInt(v, 10) : v;
    }
    return form;
  }

  function showProblems(errors, touchedOnly) {
    for (const f of editing.fields) {
      const input = editing.inputs.get(f.id);
      const p = document.getElementById("problem-" + f.id);
      const e = errors.find((x) => x.field === f.id);
      if (touchedOnly && !input.dataset.touched && !(e && e.code !== "required")) {
        p.textContent = "";
        input.removeAttribute("aria-invalid");
        continue;
      }
      p.textContent = e ? (problems[e.code] || e.message) : "";
      if (e) input.setAttribute("aria-invalid", "true"); else input.removeAttribute("aria-invalid");
    }
  }

  // Only the answer to the newest check is shown (an older one may come back later).
  let checks = 0;
  async function check() {
    if (!editing) return;
    const mine = ++checks;
    const r = await api("POST", "/api/v1/procedures/" + encodeURIComponent(editing.procedure.id) + "/check", { form_data: collect(), complete: true });
    if (r.ok && editing && mine === checks) showProblems(r.data.errors, true);
  }

  // Saves go one at a time, in order, and a save asked for while one is on its way sends the
  // form as it is then: an older form can never arrive after a newer one.
  let saving = Promise.resolve();
  let dirty = false;
  function save() {
    dirty = true;
    saving = saving.then(async () => {
      if (!dirty || !editing) return;
      dirty = false;
      const r = await api("PATCH", "/api/v1/staff/applications/" + encodeURIComponent(editing.reference), { form_data: collect() });
      if (r.ok) {
        status.textContent = W.saved;
      } else if (r.status === 422 && r.data && r.data.fields) {
        showProblems(r.data.fields, false);
        status.textContent = W.saveFailed;
      } else {
        status.textContent = (r.data && r.data.message) || W.failed;
      }
    }).catch(() => { status.textContent = W.failed; });
    return saving;
  }

  function open(app) {
    const procedure = procedures.find((p) => p.id === app.procedure_id);
    if (!procedure) return;
    // The catalog's files call the list of fields "field".
    editing = { reference: app.reference, procedure, fields: procedure.field || [], inputs: new Map() };
    const values = new Map((app.fields || []).map((f) => [f.id, f.value]));
    const form = document.createElement("form");
    form.id = "form-editor";
    form.noValidate = true;
    const h = document.createElement("h3");
    h.textContent = W.editing + " " + named(procedure.name) + " — " + app.reference;
    form.append(h);
    for (const f of editing.fields) {
      const wrap = document.createElement("div");
      wrap.className = "field";
      const label = document.createElement("label");
      label.htmlFor = "field-" + f.id;
      label.textContent = named(f.label) + (f.required ? " *" : "");
      let input;
      if (f.type === "choice") {
        input = document.createElement("select");
        const none = document.createElement("option");
        none.value = "";
        none.textContent = W.choose;
        input.append(none);
        for (const c of f.choices) {
          const o = document.createElement("option");
          o.value = c;
          o.textContent = f.choice_labels && f.choice_labels[c] ? named(f.choice_labels[c]) : c;
          input.append(o);
        }
      } else {
        input = document.createElement("input");
        input.type = f.type === "boolean" ? "checkbox" : f.type === "date" ? "date" : f.type === "number" ? "number" : "text";
        if (f.max_length) input.maxLength = f.max_length;
      }
      input.id = "field-" + f.id;
      input.name = f.id;
      if (f.required) input.setAttribute("aria-required", "true");
      const v = values.get(f.id) || "";
      if (f.type === "boolean") input.checked = v === "true"; else input.value = v;
      const problem = document.createElement("p");
      problem.className = "problem";
      problem.id = "problem-" + f.id;
      input.setAttribute("aria-describedby", problem.id);
      input.addEventListener("input", () => {
        input.dataset.touched = "1";
        clearTimeout(checkTimer);
        checkTimer = setTimeout(check, 250);
      });
      input.addEventListener("change", () => { input.dataset.touched = "1"; check(); save(); });
      wrap.append(label, document.createElement("br"), input, problem);
      form.append(wrap);
      editing.inputs.set(f.id, input);
    }
    form.addEventListener("submit", (e) => { e.preventDefault(); save(); });
    editor.replaceChildren(form);
  }

  // Moving a submitted application on, with a note the resident sees.
  const review = document.getElementById("review");
  const reviewApp = document.getElementById("review-app");
  function showReview(list) {
    const open = list.filter((a) => a.status !== "draft" && a.status !== "withdrawn");
    review.hidden = open.length === 0;
    const chosen = reviewApp.value;
    reviewApp.replaceChildren(...open.map((a) => {
      const o = document.createElement("option");
      o.value = a.reference;
      o.textContent = a.reference + " — " + named(a.name) + " (" + a.status + ")";
      return o;
    }));
    if (open.some((a) => a.reference === chosen)) reviewApp.value = chosen;
  }
  review.addEventListener("submit", async (e) => {
    e.preventDefault();
    const note = document.getElementById("review-note").value.trim();
    const body = { status: document.getElementById("review-status").value };
    if (note) body.note = note;
    const r = await api("POST", "/api/v1/staff/applications/" + encodeURIComponent(reviewApp.value) + "/status", body);
    status.textContent = r.ok ? W.reviewed : (r.data && r.data.message) || W.failed;
  });

  document.addEventListener("madoguchi:applications", (e) => {
    const list = e.detail || [];
    showReview(list);
    if (editing) {
      const mine = list.find((a) => a.reference === editing.reference);
      if (mine && mine.status !== "draft") {
        editing = null;
        editor.replaceChildren();
        status.textContent = W.submitted;
      }
      return;
    }
    const draft = [...list].reverse().find((a) => a.status === "draft");
    if (draft) open(draft);
  });

  async function add(body) {
    const r = await api("POST", "/api/v1/staff/consultations/" + id + "/applications", body);
    if (r.ok) {
      open(r.data);
      const first = editor.querySelector("input, select");
      if (first) first.focus();
    } else {
      status.textContent = (r.data && r.data.message) || W.failed;
    }
  }
  document.getElementById("new-application").addEventListener("submit", (e) => {
    e.preventDefault();
    add({ procedure_id: select.value });
  });
  document.getElementById("link-application").addEventListener("submit", (e) => {
    e.preventDefault();
    add({ reference: document.getElementById("link-reference").value.trim() });
  });

  // An interpreter's one-time code, to read out or send.
  const invited = document.getElementById("invite-result");
  for (const b of document.querySelectorAll("[data-invite]")) {
    b.addEventListener("click", async () => {
      const r = await api("POST", "/api/v1/staff/consultations/" + id + "/invites", { kind: b.dataset.invite });
      if (!r.ok) { invited.textContent = (r.data && r.data.message) || W.inviteFailed; return; }
      const link = location.origin + r.data.join_path;
      invited.replaceChildren();
      const code = document.createElement("p");
      code.innerHTML = "";
      code.append(W.inviteCode + " ");
      const strong = document.createElement("span");
      strong.className = "code";
      strong.id = "invite-code";
      strong.textContent = r.data.code;
      code.append(strong);
      const p = document.createElement("p");
      p.append(W.inviteLink + " ");
      const a = document.createElement("a");
      a.href = link;
      a.textContent = link;
      p.append(a);
      invited.append(code, p);
    });
  }

  document.getElementById("end-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const note = document.getElementById("end-note").value.trim();
    const r = await api("POST", "/api/v1/staff/consultations/" + id + "/end", note ? { note } : {});
    if (r.ok) location.href = "/staff?lang=" + encodeURIComponent(lang) + "&notice=consultation-ended";
    else status.textContent = (r.data && r.data.message) || W.failed;
  });
})();
