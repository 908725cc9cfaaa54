"use strict";
// The text mode's consultation page: one peer connection to the office (never to another
// participant), signalled over the consultation's WebSocket. The page carries the one-time
// signalling pass, the ICE servers and its words; see server/src/http/text_consult.rs.
(() => {
  const waiting = document.getElementById("waiting");
  if (waiting) {
    // At the counter, waiting for the clerk to start: look again every 3 s.
    if (waiting.dataset.waiting === "true") setTimeout(() => location.reload(), 3000);
    return;
  }
  const root = document.getElementById("consult");
  if (!root) return;
  const W = JSON.parse(root.dataset.words);
  const SLOTS = 3;
  const status = document.getElementById("media-status");
  const say = (text) => { status.textContent = text; };
  const url = new URL(root.dataset.signal, location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url.href);
  // The office takes 40 messages at once from one page, then 10 a second, and refuses (drops)
  // the rest. A burst of ICE candidates must not lose one, so the page paces itself below that:
  // 30 at once, then one every 125 ms; messages beyond wait their turn, in order.
  const sent = {};
  const queue = [];
  let tokens = 30, last = Date.now(), timer = null;
  const pump = () => {
    timer = null;
    const now = Date.now();
    tokens = Math.min(30, tokens + (now - last) / 125);
    last = now;
    while (queue.length && tokens >= 1 && ws.readyState === WebSocket.OPEN) {
      const m = queue.shift();
      tokens -= 1;
      sent[m.type] = (sent[m.type] || 0) + 1;
      ws.send(JSON.stringify(m));
    }
    if (queue.length && ws.readyState <= WebSocket.OPEN) timer = setTimeout(pump, 125);
  };
  const send = (m) => {
    if (ws.readyState !== WebSocket.OPEN || queue.length >= 200) return;
    queue.push(m);
    if (!timer) pump();
  };
  let pc = null, local = null, ended = false, noMedia = false;
  const tx = { audio: [], video: [] };
  const streams = [0, 1, 2].map(() => new MediaStream());
  const figures = [0, 1, 2].map((i) => document.getElementById("slot-" + i));
  figures.forEach((f, i) => { f.querySelector("video").srcObject = streams[i]; });
  window.madoguchiConsult = { pc: () => pc, ended: () => ended, sent: () => ({ ...sent, queued: queue.length }) };

  async function startMedia(iceServers) {
    try {
      local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      document.getElementById("self-video").srcObject = local;
    } catch (e) {
      local = null;
      noMedia = true;
      say(W.noMedia);
      document.getElementById("mute").disabled = true;
      document.getElementById("camera").disabled = true;
    }
    // One transport for everything (the office bundles): candidates are gathered once, not for
    // every section, and stay well under the office's allowance per connection.
    pc = new RTCPeerConnection({ iceServers, bundlePolicy: "max-bundle" });
    // One section per kind for what we send (or receive-only without a device), then one
    // receive-only section per other participant: the office fills slot i in that order.
    for (const kind of ["audio", "video"]) {
      const track = local && (kind === "audio" ? local.getAudioTracks()[0] : local.getVideoTracks()[0]);
      tx[kind].push(track ? pc.addTransceiver(track, { direction: "sendrecv", streams: [local] })
                          : pc.addTransceiver(kind, { direction: "recvonly" }));
    }
    for (const kind of ["audio", "video"]) {
      for (let i = 1; i < SLOTS; i++) tx[kind].push(pc.addTransceiver(kind, { direction: "recvonly" }));
    }
    pc.ontrack = (ev) => {
      const slot = tx[ev.track.kind].indexOf(ev.transceiver);
      if (slot >= 0) streams[slot].addTrack(ev.track);
    };
    pc.onicecandidate = (ev) => send({ type: "candidate", candidate: ev.candidate ? ev.candidate.toJSON() : null });
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === "connected") say(noMedia ? W.noMedia : W.connected);
      else if (pc.connectionState === "failed") say(W.mediaFailed);
    };
    await pc.setLocalDescription(await pc.createOffer());
    send({ type: "offer", sdp: pc.localDescription.sdp });
  }

  function showPeople(list) {
    const ul = document.getElementById("people");
    ul.replaceChildren(...list.map((p) => {
      const li = document.createElement("li");
      li.textContent = p.name + "（" + (W.roles[p.role] || p.role) + "）";
      return li;
    }));
    figures.forEach((f, i) => {
      const who = list.find((p) => p.slot === i);
      f.hidden = i > 0 && !who;
      if (who) f.querySelector("figcaption").textContent = who.name + "（" + (W.roles[who.role] || who.role) + "）";
    });
  }

  // The applications of this consultation: each with its form as the clerk fills it (書かない窓口),
  // and, for the resident, the button that submits it once it is complete.
  let you = null;
  const lang = document.documentElement.lang || "ja";
  const named = (n) => !n ? "" : lang === "en" ? n.en : lang === "ja-easy" ? (n.easy || n.ja) : n.ja;
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  function render(a) {
    const li = el("li");
    li.dataset.reference = a.reference;
    li.dataset.status = a.status;
    li.append(el("h3", (named(a.name) || a.procedure_id) + " — " + a.reference));
    li.append(el("p", W.form.status + ": " + (W.statuses[a.status] || a.status), "app-status"));
    if (a.note) li.append(el("p", W.form.note + ": " + a.note, "app-note"));
    if (a.fields && a.fields.length) {
      const dl = el("dl", undefined, "form");
      for (const f of a.fields) {
        const v = f.choice ? named(f.choice) : f.value === "true" ? W.form.yes : f.value === "false" ? W.form.no : f.value;
        dl.append(el("dt", named(f.label) + (f.required ? " *" : "")), el("dd", v || W.form.empty));
      }
      li.append(dl);
    }
    if (a.documents && a.documents.length) {
      li.append(el("p", W.form.documents + ": " + a.documents.map(named).join("、")));
    }
    if (you === "resident" && a.status === "draft") {
      if (a.ready) {
        li.append(el("p", W.form.confirmHint));
        const b = el("button", W.form.confirm);
        b.type = "button";
        b.dataset.confirm = a.reference;
        b.addEventListener("click", () => { b.disabled = true; send({ type: "confirm", reference: a.reference }); });
        li.append(b);
      } else {
        li.append(el("p", W.form.waiting));
      }
    }
    return li;
  }

  // An application whose data has not changed keeps its element: a list sent again (every edit
  // of the clerk's sends all of them) must not swap a button under a resident's finger, which
  // would lose their tap.
  let shown = new Map();
  function showApps(list) {
    const ul = document.getElementById("apps");
    if (!list.length) return;
    const active = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.confirm : null;
    const next = new Map();
    const items = list.map((a) => {
      const data = JSON.stringify([you, a]);
      const old = shown.get(a.reference);
      const li = old && old.data === data ? old.li : render(a);
      next.set(a.reference, { data, li });
      return li;
    });
    shown = next;
    const same = items.length === ul.children.length && items.every((li, i) => ul.children[i] === li);
    if (!same) ul.replaceChildren(...items);
    if (active) {
      const again = ul.querySelector('[data-confirm="' + active + '"]');
      if (again) again.focus();
    }
    // The staff console's form editor follows the same list.
    document.dispatchEvent(new CustomEvent("madoguchi:applications", { detail: list }));
  }

  function addChat(line) {
    const li = document.createElement("li");
    const who = document.createElement("b");
    who.textContent = line.name + "（" + (W.roles[line.role] || line.role) + "）";
    li.append(who, document.createTextNode(": " + line.text));
    document.getElementById("chat").append(li);
  }

  function end(reason) {
    if (ended) return;
    ended = true;
    say(W.ended);
    if (pc) pc.close();
    if (local) local.getTracks().forEach((t) => t.stop());
    for (const id of ["mute", "camera", "hangup"]) document.getElementById(id).disabled = true;
    document.querySelector("#chat-form button").disabled = true;
    root.dataset.ended = reason;
  }

  ws.onmessage = async (ev) => {
    const m = JSON.parse(ev.data);
    switch (m.type) {
      case "joined":
        you = m.consultation.you;
        showPeople(m.consultation.participants);
        showApps(m.consultation.applications);
        m.consultation.chat.forEach(addChat);
        await startMedia(m.ice_servers);
        break;
      case "answer":
        await pc.setRemoteDescription({ type: "answer", sdp: m.sdp });
        break;
      case "candidate":
        if (pc) await pc.addIceCandidate(m.candidate || null).catch(() => {});
        break;
      case "ice_servers":
        // Renewed TURN credentials (they expire within minutes), for ICE restarts and new
        // relays; the connection itself goes on.
        if (pc) { try { pc.setConfiguration({ ...pc.getConfiguration(), iceServers: m.ice_servers }); } catch (_) {} }
        break;
      case "participants": showPeople(m.participants); break;
      case "applications": showApps(m.applications); break;
      case "chat": addChat(m.line); break;
      case "error":
        // An application that needs a verified identity: the sign-in links (the page has them
        // when the office has providers and the resident is not verified).
        if (m.code === "identity_required" && document.getElementById("signin-first")) {
          document.getElementById("signin-first").hidden = false;
          say(W.signInFirst);
        } else {
          say(m.message);
        }
        document.querySelectorAll("[data-confirm]").forEach((b) => { b.disabled = false; });
        break;
      case "ended": end(m.reason); break;
    }
  };
  ws.onclose = () => end("closed");
  setInterval(() => send({ type: "ping" }), 20000);

  const toggle = (id, kind, on, off) => {
    const b = document.getElementById(id);
    b.addEventListener("click", () => {
      const track = local && (kind === "audio" ? local.getAudioTracks()[0] : local.getVideoTracks()[0]);
      if (!track) return;
      track.enabled = !track.enabled;
      b.setAttribute("aria-pressed", String(!track.enabled));
      b.textContent = track.enabled ? on : off;
    });
  };
  toggle("mute", "audio", W.mute, W.unmute);
  toggle("camera", "video", W.cameraOff, W.cameraOn);
  document.getElementById("hangup").addEventListener("click", () => { send({ type: "hangup" }); end("hangup"); });
  document.getElementById("chat-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = document.getElementById("chat-text");
    if (input.value.trim()) send({ type: "chat", text: input.value });
    input.value = "";
    input.focus();
  });
})();
