/*
 * supportbot chat widget. Embed with one tag:
 *   <script src="https://support.example.com/static/conversations/widget.js" data-site-key="..." async></script>
 * Optional signed identity: data-user-id="42" data-user-expires="<unix seconds>"
 *   data-user-signature="<hex HMAC-SHA256(site secret, `${id}:${expires}`)>" (docs/protocol.md).
 * Language: data-lang="de" on the tag, else the page's <html lang>, else the browser's; the server
 *   sends the widget's texts in it (English, German, French, Spanish; others fall back to English).
 *
 * Plain modern JavaScript, no build step. Styles live in a Shadow DOM so the host page's CSS
 * cannot leak in or out. Every piece of customer, agent or bot text is rendered with
 * textContent, never as HTML. Chat protocol v1: docs/protocol.md.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || window.__supportbotLoaded) return;
  window.__supportbotLoaded = true;

  const siteKey = script.dataset.siteKey;
  if (!siteKey) {
    console.error("supportbot: the script tag needs data-site-key");
    return;
  }
  const apiBase = new URL(script.src, location.href).origin;
  const identity = script.dataset.userId && script.dataset.userSignature
    ? { id: script.dataset.userId, signature: script.dataset.userSignature }
    : null;
  if (identity && /^\d+$/.test(script.dataset.userExpires || "")) {
    identity.expires = Number(script.dataset.userExpires);
  }
  const pageLanguage = script.dataset.lang || document.documentElement.lang ||
    (navigator.languages && navigator.languages[0]) || navigator.language || "";
  const storagePrefix = `supportbot:${siteKey}:`;
  const storageKey = `${storagePrefix}${identity ? identity.id : "anon"}`;
  forgetOtherIdentities();

  const CLOSE_UNAUTHORIZED = 4401;
  const CLOSE_FORBIDDEN_ORIGIN = 4403;
  const MAX_BACKOFF_MS = 30000;
  const TYPING_IDLE_MS = 3000;
  const REMOTE_TYPING_TIMEOUT_MS = 6000;
  const STREAM_ORPHAN_MS = 30000;

  // ---- texts ----------------------------------------------------------------------------
  // English defaults; the config and session answers replace them with the page's language
  // (conversations/lib/widget_texts.py holds the same keys). %(name)s is filled by t().
  const TEXTS = {
    open_chat: "Open chat", open_chat_unread: "Open chat, %(count)s unread", close_chat: "Close chat", chat: "Chat",
    support: "Support", bot_name: "%(name)s bot", how_did_we_do: "How did we do?",
    rate_conversation: "Rate this conversation from 1 to 5", score_of_five: "%(score)s out of 5",
    thanks_feedback: "Thanks for your feedback!", thanks_telling: "Thanks for telling us.",
    csat_comment: "Anything you'd like to add? (optional)", send_comment: "Send comment",
    email_transcript: "Email me this conversation", transcript_sent: "On its way to your inbox.", send: "Send",
    talk_to_human: "Talk to a human", write_message: "Write a message…", message: "Message", send_message: "Send message",
    composer_hint: "Enter to send · Shift+Enter for a new line", too_long: "Messages can be at most %(count)s characters.",
    connecting: "Connecting…", unavailable: "Chat is unavailable: %(reason)s",
    unavailable_here: "Chat is unavailable on this website.",
    offline: "You're offline. Your messages will be sent when the connection is back.", reconnecting: "Reconnecting…",
    not_sent: "That message could not be sent.", action_label: "Confirm this change",
    action_proposed: "Waiting for your confirmation", action_executing: "Working on it…", action_succeeded: "Done",
    action_failed: "Not done", action_cancelled: "Cancelled", action_expired: "Expired", confirm: "Confirm", cancel: "Cancel",
    is_working: "%(name)s is working on it…", is_typing: "%(name)s is typing…", status_queued: "An agent will join shortly",
    status_queue_position: "You're #%(position)s in line", status_queue_wait: " · about %(minutes)s min",
    status_bot: "Typically replies instantly", status_human_named: "You're chatting with %(name)s",
    status_human: "You're chatting with our team", status_resolved: "This conversation is resolved",
    was_helpful: "Was this answer helpful?", helpful: "Helpful", not_helpful: "Not helpful",
    what_was_missing: "What was missing? (optional)", sending: "Sending…", not_sent_offline: "Not sent: you're offline.",
    related_articles: "Related articles", source: "Source", just_now: "just now", minutes_ago: "%(minutes)s min ago",
    attach: "Attach an image or PDF", uploading: "Uploading %(name)s…",
    upload_failed: "The upload failed. Check your connection and try again.",
    upload_failed_status: "The upload failed (HTTP %(status)s).", connecting_retry: "Connecting… try again in a moment.",
  };
  let texts = TEXTS;

  function t(key, params = {}) {
    const template = typeof texts[key] === "string" ? texts[key] : TEXTS[key];
    return template.replace(/%\((\w+)\)s/g, (_, name) => String(params[name] ?? ""));
  }

  // ---- persisted state ------------------------------------------------------------------
  const saved = readSaved();
  const state = {
    conversationId: saved.conversationId || null,
    token: saved.token || null,
    outbox: Array.isArray(saved.outbox) ? saved.outbox : [], // [{client_id, text, created_at}]
    lastReadSeq: saved.lastReadSeq || 0, // replies up to here were seen with the panel open
    open: false,
    wsUrl: null,
    socketUrl: null,
    socket: null,
    connected: false,
    resumed: false,
    lastSeq: 0, // highest seq such that every seq up to it has been received
    messages: new Map(), // seq -> frame
    unread: 0,
    status: "bot",
    agentName: "",
    attempt: 0,
    reconnectTimer: null,
    starting: false,
    resyncing: false,
    fatal: null,
    site: { name: "Support", accent_color: "#4f46e5", launcher_position: "right", greeting: "" },
    maxChars: 4000,
    typingSent: false,
    typingTimer: null,
    remoteTypingTimer: null,
    csatSent: false,
    streams: new Map(), // turn_id -> the row a streamed reply is growing in
    actions: new Map(), // action_id -> {status, seq}: the newest known state of each action card
    retryTimer: null, // the one pending resend after rate_limited/unavailable
    humanRequested: false, // "Talk to a human" clicked and no queued/human status seen yet
    // action_id -> "confirm" | "cancel": decisions sent but not yet answered by a stored message.
    // They are sent again after rate_limited/unavailable and on reconnect; the server decides
    // each action once, so a repeat changes nothing.
    decisions: new Map(),
  };

  // A shared computer: whoever was signed in before (or the anonymous visitor before them) must not
  // leave their conversation, token or unsent messages to the next person.
  function forgetOtherIdentities() {
    const marker = `${storagePrefix}identity`;
    const current = identity ? `user:${identity.id}` : "anon";
    try {
      if (localStorage.getItem(marker) === current) return;
      const stale = [];
      for (let i = 0; i < localStorage.length; i += 1) {
        const key = localStorage.key(i);
        if (key && key.startsWith(storagePrefix)) stale.push(key);
      }
      stale.forEach((key) => localStorage.removeItem(key));
      localStorage.setItem(marker, current);
    } catch (_) {
      /* storage unavailable: nothing was kept either */
    }
  }

  function readSaved() {
    try {
      return JSON.parse(localStorage.getItem(storageKey) || "{}") || {};
    } catch (_) {
      return {};
    }
  }

  function persist() {
    try {
      localStorage.setItem(storageKey, JSON.stringify({
        conversationId: state.conversationId,
        token: state.token,
        outbox: state.outbox,
        lastReadSeq: state.lastReadSeq,
      }));
    } catch (_) {
      /* private mode or quota: the widget still works for this page view */
    }
  }

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // ---- DOM ------------------------------------------------------------------------------
  const host = document.createElement("div");
  host.id = "supportbot-widget";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>${styles()}</style>
    <button class="launcher" part="launcher" type="button" aria-label="Open chat" aria-expanded="false" aria-controls="sb-panel">
      <svg class="icon-chat" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>
      <svg class="icon-close" viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>
      <span class="badge" hidden aria-hidden="true"></span>
    </button>
    <section class="panel" id="sb-panel" role="dialog" aria-label="Chat" hidden>
      <header class="header">
        <div class="avatar header-avatar" aria-hidden="true"></div>
        <div class="header-text">
          <h2 class="title"></h2>
          <p class="subtitle"><span class="dot" aria-hidden="true"></span><span class="status-line"></span></p>
        </div>
        <button class="close" type="button" aria-label="Close chat">
          <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>
        </button>
      </header>
      <div class="connection" role="status" hidden></div>
      <div class="messages" role="log" aria-live="polite" aria-relevant="additions" tabindex="0">
        <p class="greeting"></p>
      </div>
      <div class="typing" aria-live="polite" hidden><span class="bubble-dots"><i></i><i></i><i></i></span><span class="typing-text"></span></div>
      <div class="csat" hidden>
        <p class="csat-q">How did we do?</p>
        <div class="csat-scores" role="group" aria-label="Rate this conversation from 1 to 5"></div>
        <p class="csat-thanks" hidden>Thanks for your feedback!</p>
        <form class="csat-comment" hidden>
          <label class="csat-comment-label">Anything you'd like to add? (optional)
            <textarea rows="2" maxlength="2000"></textarea></label>
          <button type="submit" class="small-button">Send comment</button>
        </form>
        <form class="transcript">
          <label class="transcript-label">Email me this conversation
            <span class="transcript-row"><input type="email" required maxlength="254" placeholder="you@example.com" autocomplete="email">
            <button type="submit" class="small-button">Send</button></span></label>
          <p class="transcript-done" role="status" hidden></p>
        </form>
      </div>
      <form class="composer">
        <button class="human" type="button">Talk to a human</button>
        <div class="composer-row">
          <textarea rows="1" placeholder="Write a message…" aria-label="Message"></textarea>
          <button class="send" type="submit" aria-label="Send message">
            <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M3 11l18-8-8 18-2-8-8-2z"/></svg>
          </button>
        </div>
        <p class="hint">Enter to send · Shift+Enter for a new line</p>
      </form>
    </section>`;

  const $ = (sel) => root.querySelector(sel);
  const launcher = $(".launcher");
  const panel = $(".panel");
  const badge = $(".badge");
  const list = $(".messages");
  const textarea = $(".composer textarea");
  const form = $(".composer");
  const connectionBar = $(".connection");
  const typingRow = $(".typing");
  const humanButton = $(".human");
  const csatCard = $(".csat");

  for (let score = 1; score <= 5; score++) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "csat-score";
    b.textContent = "★";
    b.dataset.score = String(score);
    b.setAttribute("aria-label", t("score_of_five", { score }));
    b.addEventListener("click", () => sendCsat(score));
    // Hovering a star lights it and every star before it.
    b.addEventListener("mouseenter", () => lightStars(score));
    b.addEventListener("focus", () => lightStars(score));
    $(".csat-scores").appendChild(b);
  }

  function lightStars(upTo) {
    for (const star of root.querySelectorAll(".csat-score")) {
      star.classList.toggle("lit", Number(star.dataset.score) <= upTo);
    }
  }
  $(".csat-scores").addEventListener("mouseleave", () => lightStars(0));

  function mount() {
    document.body.appendChild(host);
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  applySite();
  mountAttachments();

  // ---- UI events ------------------------------------------------------------------------
  launcher.addEventListener("click", () => (state.open ? closePanel() : openPanel()));
  $(".close").addEventListener("click", closePanel);
  root.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.open) closePanel();
  });
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  textarea.addEventListener("input", () => {
    autosize();
    signalTyping();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = textarea.value;
    if (!text.trim()) return;
    if (text.length > state.maxChars) {
      showConnection(t("too_long", { count: state.maxChars }), "error");
      return;
    }
    textarea.value = "";
    autosize();
    stopTyping();
    queueMessage(text);
  });
  humanButton.addEventListener("click", () => {
    state.humanRequested = true;
    humanButton.disabled = true;
    flushRequests();
  });
  window.addEventListener("online", () => reconnectNow());

  function openPanel() {
    state.open = true;
    panel.hidden = false;
    launcher.classList.add("is-open");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", t("close_chat"));
    state.unread = 0;
    renderBadge();
    markRead(state.lastSeq);
    textarea.focus();
    scrollToEnd();
    if (!state.socket) start();
  }

  function closePanel() {
    state.open = false;
    panel.hidden = true;
    launcher.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", t("open_chat"));
    launcher.focus();
  }

  function autosize() {
    textarea.style.height = "auto";
    textarea.style.height = `${Math.min(textarea.scrollHeight, 120)}px`;
  }

  // ---- session and socket ---------------------------------------------------------------
  async function loadConfig() {
    try {
      const r = await fetch(`${apiBase}/api/widget/config?site_key=${encodeURIComponent(siteKey)}` +
        `&language=${encodeURIComponent(pageLanguage)}`);
      if (r.ok) {
        state.site = await r.json();
        applyTexts(state.site.texts, state.site.language);
        applySite();
      }
    } catch (_) {
      /* keep the defaults; the session call will retry with backoff */
    }
  }

  async function openSession() {
    const body = { site_key: siteKey, language: pageLanguage };
    if (state.conversationId && state.token) {
      body.conversation_id = state.conversationId;
      body.token = state.token;
    }
    if (identity) body.user = identity;
    const r = await fetch(`${apiBase}/api/widget/conversations`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      const error = new Error((data.error && data.error.message) || `HTTP ${r.status}`);
      error.fatal = r.status === 403 || r.status === 404 || r.status === 401;
      throw error;
    }
    if (data.conversation_id !== state.conversationId) {
      clearTranscript();
      state.lastReadSeq = 0;
    }
    state.conversationId = data.conversation_id;
    state.token = data.token;
    // socket_url keeps the token out of the URL (it goes in the `auth` first frame); servers
    // that predate it only offer ws_url.
    state.socketUrl = data.socket_url || null;
    state.wsUrl = data.ws_url;
    state.site = data.site || state.site;
    applyTexts(data.texts, data.widget_language);
    state.maxChars = (data.limits && data.limits.max_message_chars) || state.maxChars;
    setStatus(data.status || "bot", "");
    applySite();
    persist();
  }

  async function start() {
    if (state.fatal || state.starting || state.socket) return;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    state.starting = true;
    showConnection(t("connecting"), "pending");
    try {
      await openSession();
    } catch (error) {
      state.starting = false;
      if (error.fatal) {
        state.fatal = error.message;
        showConnection(t("unavailable", { reason: error.message }), "error");
        return;
      }
      scheduleReconnect();
      return;
    }
    state.starting = false;
    connect();
  }

  function connect() {
    const socket = new WebSocket(state.socketUrl || state.wsUrl);
    state.socket = socket;
    state.resumed = false;
    socket.addEventListener("open", () => {
      state.connected = true;
      state.attempt = 0;
      if (state.socketUrl) socket.send(JSON.stringify({ type: "auth", token: state.token }));
      socket.send(JSON.stringify({ type: "resume", after_seq: state.lastSeq }));
    });
    socket.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (_) {
        return;
      }
      handleFrame(frame);
    });
    socket.addEventListener("close", (event) => {
      if (state.socket !== socket) return;
      state.socket = null;
      state.connected = false;
      state.resumed = false;
      if (event.code === CLOSE_FORBIDDEN_ORIGIN) {
        state.fatal = "this website is not allowed to use the chat";
        showConnection(t("unavailable_here"), "error");
        return;
      }
      if (event.code === CLOSE_UNAUTHORIZED) {
        // The token expired or the conversation is gone: start a fresh conversation. Queued
        // messages are kept and go into the new one.
        state.conversationId = null;
        state.token = null;
        persist();
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    const base = Math.min(MAX_BACKOFF_MS, 500 * 2 ** state.attempt);
    const delay = base / 2 + Math.random() * (base / 2); // exponential backoff with jitter
    state.attempt += 1;
    showConnection(
      state.outbox.length
        ? t("offline")
        : t("reconnecting"),
      "offline",
    );
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(start, delay);
  }

  function reconnectNow() {
    if (state.socket || state.fatal || !state.conversationId) return;
    state.attempt = 0;
    start();
  }

  function send(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN && state.resumed) {
      state.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  // ---- frames ---------------------------------------------------------------------------
  function handleFrame(frame) {
    switch (frame.type) {
      case "message":
        receiveMessage(frame);
        break;
      case "ack":
        acknowledge(frame);
        break;
      case "resumed":
        state.resumed = true;
        state.resyncing = false;
        if (typeof frame.token === "string" && frame.token) {
          state.token = frame.token; // rotated: the next visit resumes with a fresh one
          persist();
        }
        state.lastSeq = Math.max(state.lastSeq, frame.last_seq || 0);
        hideConnection();
        flushOutbox();
        flushRequests();
        break;
      case "status":
        setStatus(frame.conversation_status, frame.agent || "", frame);
        break;
      case "typing":
        showRemoteTyping(frame);
        break;
      case "delta":
        receiveDelta(frame);
        break;
      case "error":
        handleError(frame);
        break;
      case "feedback_saved":
        feedbackSaved(frame);
        break;
      default:
        break; // newer server frames are ignored by older widgets
    }
  }

  function handleError(frame) {
    if (frame.code === "rate_limited" || frame.code === "unavailable") {
      // One retry at a time: a burst of refusals must not schedule a burst of resends, each of
      // which would be refused again.
      if (state.retryTimer) return;
      state.retryTimer = setTimeout(() => {
        state.retryTimer = null;
        flushOutbox();
        flushRequests();
      }, Math.max(1000, (frame.retry_after || 1) * 1000));
      return;
    }
    if (frame.code === "not_verified") {
      // A transcript goes only to the account's own address: take back "On its way".
      $(".transcript-done").hidden = true;
    }
    if (frame.code === "too_large" || frame.code === "bad_frame" || frame.code === "not_verified") {
      showConnection(frame.message || t("not_sent"), "error");
    }
  }

  function receiveMessage(frame) {
    if (typeof frame.seq !== "number" || state.messages.has(frame.seq)) return;
    state.messages.set(frame.seq, frame);
    while (state.messages.has(state.lastSeq + 1)) state.lastSeq += 1;
    if (frame.seq > state.lastSeq + 1 && state.resumed && !state.resyncing) {
      // Something before this seq never arrived (live delivery is at-most-once): replay it.
      state.resyncing = send({ type: "resume", after_seq: state.lastSeq });
    }
    if (frame.client_id) {
      removeFromOutbox(frame.client_id);
      const pending = list.querySelector(`[data-client-id="${cssEscape(frame.client_id)}"]`);
      if (pending) pending.remove();
    }
    if (frame.role === "agent" || frame.role === "bot") hideRemoteTyping();
    if (frame.turn_id) dropStream(frame.turn_id); // the stored reply supersedes its streamed pieces
    if (frame.action) noteAction(frame.action, frame.seq);
    insertMessage(frame);
    if (state.open) markRead(frame.seq);
    else if ((frame.role === "agent" || frame.role === "bot") && frame.seq > state.lastReadSeq) {
      // Replies count as unread; notices such as "Alice joined" do not add to the badge.
      state.unread += 1;
      renderBadge();
    }
  }

  function acknowledge(frame) {
    // The sending socket gets the ack instead of the broadcast: build the stored message from
    // what was sent. (A replay or another tab's broadcast may have placed it already.)
    const item = state.outbox.find((m) => m.client_id === frame.client_id);
    removeFromOutbox(frame.client_id);
    if (state.messages.has(frame.seq) || !item) return;
    receiveMessage({
      type: "message", seq: frame.seq, role: "customer", text: item.text,
      created_at: item.created_at, client_id: item.client_id,
      ...(item.attachment ? { attachments: [item.attachment] } : {}),
    });
  }

  function markRead(seq) {
    if (seq > state.lastReadSeq) {
      state.lastReadSeq = seq;
      persist();
    }
  }

  function removeFromOutbox(clientId) {
    const before = state.outbox.length;
    state.outbox = state.outbox.filter((m) => m.client_id !== clientId);
    if (state.outbox.length !== before) persist();
  }

  function queueMessage(text, attachment = null) {
    const item = { client_id: uuid(), text, created_at: new Date().toISOString() };
    if (attachment) item.attachment = attachment;
    state.outbox.push(item);
    persist();
    renderPending(item);
    if (!send(messageFrame(item))) {
      if (!state.reconnectTimer) start(); // no-op while a start or a socket is already under way
    }
  }

  function flushOutbox() {
    for (const item of state.outbox) {
      if (!list.querySelector(`[data-client-id="${cssEscape(item.client_id)}"]`)) renderPending(item);
      send(messageFrame(item));
    }
  }

  // ---- typing ---------------------------------------------------------------------------
  function signalTyping() {
    if (!state.typingSent && textarea.value.trim()) {
      state.typingSent = send({ type: "typing", state: true });
    }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
  }

  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.typingSent) send({ type: "typing", state: false });
    state.typingSent = false;
  }

  // ---- streamed bot replies --------------------------------------------------------------
  function receiveDelta(frame) {
    if (typeof frame.turn_id !== "string" || typeof frame.text !== "string") return;
    let row = state.streams.get(frame.turn_id);
    if (!row) {
      row = buildRow({ role: "bot", text: "", created_at: new Date().toISOString() });
      row.classList.add("streaming");
      state.streams.set(frame.turn_id, row);
      list.insertBefore(row, list.querySelector(".row.pending"));
      regroup();
    }
    hideRemoteTyping();
    row.querySelector(".bubble").textContent += frame.text; // text, never HTML
    scrollToEnd();
    // A turn that ends without a stored reply (a person took over) must not leave a ghost bubble.
    clearTimeout(row._expiry);
    row._expiry = setTimeout(() => dropStream(frame.turn_id), STREAM_ORPHAN_MS);
  }

  function dropStream(turnId) {
    const row = state.streams.get(turnId);
    if (!row) return;
    clearTimeout(row._expiry);
    row.remove();
    state.streams.delete(turnId);
  }

  // ---- action cards ---------------------------------------------------------------------
  // Every message about an action carries its latest status; the card shows the newest one, so
  // a reload (replay from seq 0) restores decided cards as decided.
  function noteAction(action, seq) {
    const known = state.actions.get(action.action_id);
    if (known && known.seq > seq) return;
    state.actions.set(action.action_id, { status: action.status, seq });
    if (action.status !== "proposed") state.decisions.delete(action.action_id);
    const decision = state.decisions.get(action.action_id);
    const shown = decision ? pendingStatus(decision) : action.status;
    for (const card of list.querySelectorAll(`.action-card[data-action-id="${cssEscape(action.action_id)}"]`)) {
      renderActionState(card, shown);
    }
  }

  const ACTION_LABELS = {
    proposed: "action_proposed", executing: "action_executing", succeeded: "action_succeeded",
    failed: "action_failed", cancelled: "action_cancelled", expired: "action_expired",
  };

  function buildActionCard(action) {
    const card = document.createElement("div");
    card.className = "action-card";
    card.dataset.actionId = action.action_id;
    card.setAttribute("role", "group");
    card.setAttribute("aria-label", t("action_label"));
    const summary = document.createElement("p");
    summary.className = "action-summary";
    summary.textContent = action.summary;
    card.appendChild(summary);
    const status = document.createElement("p");
    status.className = "action-status";
    card.appendChild(status);
    const buttons = document.createElement("div");
    buttons.className = "action-buttons";
    for (const [decision, label] of [["confirm", t("confirm")], ["cancel", t("cancel")]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `action-${decision}`;
      button.textContent = label;
      button.addEventListener("click", () => {
        state.decisions.set(action.action_id, decision);
        renderActionState(card, pendingStatus(decision));
        flushRequests();
      });
      buttons.appendChild(button);
    }
    card.appendChild(buttons);
    const known = state.actions.get(action.action_id);
    const expired = action.expires_at && Date.parse(action.expires_at) < Date.now();
    let status_ = known ? known.status : action.status;
    if (status_ === "proposed" && state.decisions.has(action.action_id)) {
      status_ = pendingStatus(state.decisions.get(action.action_id));
    } else if (status_ === "proposed" && expired) status_ = "expired";
    renderActionState(card, status_);
    return card;
  }

  function pendingStatus(decision) {
    return decision === "confirm" ? "executing" : "cancelled";
  }

  // Requests the server answers idempotently are sent again until their answer arrives: after
  // rate_limited or unavailable (the refused frame is not named) and after a reconnect.
  function flushRequests() {
    for (const [actionId, decision] of state.decisions) send({ type: "action", action_id: actionId, decision });
    if (state.humanRequested) send({ type: "request_human" });
  }

  function renderActionState(card, status) {
    card.dataset.status = status;
    card.querySelector(".action-status").textContent = ACTION_LABELS[status] ? t(ACTION_LABELS[status]) : status;
    for (const button of card.querySelectorAll("button")) button.disabled = status !== "proposed";
  }

  function showRemoteTyping(frame) {
    if (!frame.state) return hideRemoteTyping();
    const who = frame.author || (frame.role === "bot" ? state.site.name : t("support"));
    $(".typing-text").textContent = t(frame.activity === "working" ? "is_working" : "is_typing", { name: who });
    typingRow.hidden = false;
    scrollToEnd();
    clearTimeout(state.remoteTypingTimer);
    state.remoteTypingTimer = setTimeout(hideRemoteTyping, REMOTE_TYPING_TIMEOUT_MS);
  }

  function hideRemoteTyping() {
    typingRow.hidden = true;
    clearTimeout(state.remoteTypingTimer);
  }

  // ---- status, CSAT ---------------------------------------------------------------------
  function setStatus(status, agentName, frame = {}) {
    state.status = status;
    if (status !== "bot") state.humanRequested = false;
    state.agentName = agentName;
    let queued = t("status_queued");
    if (frame.queue_position) {
      const wait = frame.expected_wait_minutes ? t("status_queue_wait", { minutes: frame.expected_wait_minutes }) : "";
      queued = t("status_queue_position", { position: frame.queue_position }) + wait;
    }
    const line = {
      bot: t("status_bot"),
      queued,
      human: agentName ? t("status_human_named", { name: agentName }) : t("status_human"),
      resolved: t("status_resolved"),
    }[status] || "";
    $(".status-line").textContent = line;
    humanButton.hidden = status !== "bot";
    humanButton.disabled = state.humanRequested;
    csatCard.hidden = status !== "resolved";
    if (status !== "resolved") state.csatSent = false;
  }

  function sendCsat(score) {
    if (send({ type: "csat", score })) {
      state.csatSent = true;
      state.csatScore = score;
      $(".csat-scores").hidden = true;
      $(".csat-q").hidden = true;
      $(".csat-thanks").hidden = false;
      $(".csat-comment").hidden = false;
    }
  }

  $(".csat-comment").addEventListener("submit", (event) => {
    event.preventDefault();
    const comment = $(".csat-comment textarea").value.trim();
    if (comment && state.csatScore && send({ type: "csat", score: state.csatScore, comment })) {
      $(".csat-comment").hidden = true;
    }
  });

  $(".transcript").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $(".transcript input");
    const email = input.value.trim();
    if (!email || !send({ type: "transcript", email })) return;
    const done = $(".transcript-done");
    done.textContent = t("transcript_sent");
    done.hidden = false;
    input.value = "";
  });

  // ---- answer feedback (thumbs up/down) -------------------------------------------------------
  // The ratings this browser gave, per conversation, so a reload shows them again. The server
  // keeps the latest rating per answer; sending again simply replaces it.
  const feedbackKey = `${storageKey}:feedback`;
  const feedback = readFeedback();

  function readFeedback() {
    try {
      const data = JSON.parse(localStorage.getItem(feedbackKey) || "{}") || {};
      return { conversationId: data.conversationId || null, ratings: data.ratings || {} };
    } catch (_) {
      return { conversationId: null, ratings: {} };
    }
  }

  function feedbackRating(seq) {
    return feedback.conversationId === state.conversationId ? feedback.ratings[seq] || null : null;
  }

  function buildFeedback(seq) {
    const box = document.createElement("div");
    box.className = "feedback";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", t("was_helpful"));
    for (const [rating, label] of [["up", t("helpful")], ["down", t("not_helpful")]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `feedback-${rating}`;
      button.appendChild(thumbIcon(rating));
      button.title = label;
      button.setAttribute("aria-label", label);
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => sendFeedback(box, seq, rating));
      box.appendChild(button);
    }
    const note = document.createElement("span");
    note.className = "feedback-note";
    note.setAttribute("aria-live", "polite");
    box.appendChild(note);
    const commentForm = document.createElement("form");
    commentForm.className = "feedback-comment";
    commentForm.hidden = true;
    const label = document.createElement("label");
    label.textContent = t("what_was_missing");
    const input = document.createElement("input");
    input.type = "text";
    input.maxLength = state.maxChars;
    label.appendChild(input);
    const submit = document.createElement("button");
    submit.type = "submit";
    submit.className = "small-button";
    submit.textContent = t("send");
    commentForm.append(label, submit);
    commentForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const comment = input.value.trim();
      if (comment) sendFeedback(box, seq, "down", comment);
    });
    box.appendChild(commentForm);
    showFeedback(box, feedbackRating(seq), { initial: true });
    return box;
  }

  // Feather's thumbs-up / thumbs-down (MIT): drawn, not emoji, so every host page and font shows them.
  const THUMB_PATHS = {
    up: "M14 9V5a3 3 0 0 0-3-3l-4 9v11h11.28a2 2 0 0 0 2-1.7l1.38-9a2 2 0 0 0-2-2.3zM7 22H4a2 2 0 0 1-2-2v-7a2 2 0 0 1 2-2h3",
    down: "M10 15v4a3 3 0 0 0 3 3l4-9V2H5.72a2 2 0 0 0-2 1.7l-1.38 9a2 2 0 0 0 2 2.3zm7-13h2.67A2.31 2.31 0 0 1 22 4v7a2.31 2.31 0 0 1-2.33 2H17",
  };
  function thumbIcon(rating) {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", THUMB_PATHS[rating]);
    svg.appendChild(path);
    return svg;
  }

  function sendFeedback(box, seq, rating, comment) {
    const frame = { type: "feedback", seq, rating };
    if (comment) frame.comment = comment;
    box.dataset.comment = comment ? "sent" : "";
    box.querySelector(".feedback-note").textContent = send(frame) ? t("sending") : t("not_sent_offline");
  }

  function feedbackSaved(frame) {
    if (feedback.conversationId !== state.conversationId) {
      feedback.conversationId = state.conversationId;
      feedback.ratings = {};
    }
    feedback.ratings[frame.seq] = frame.rating;
    try {
      localStorage.setItem(feedbackKey, JSON.stringify(feedback));
    } catch (_) {
      /* the rating is stored on the server either way */
    }
    const box = list.querySelector(`.row[data-seq="${Number(frame.seq)}"] .feedback`);
    if (box) showFeedback(box, frame.rating, {});
  }

  function showFeedback(box, rating, { initial }) {
    for (const button of box.querySelectorAll("button[aria-pressed]")) {
      button.setAttribute("aria-pressed", String(button.classList.contains(`feedback-${rating}`)));
    }
    const commented = box.dataset.comment === "sent";
    const commentForm = box.querySelector(".feedback-comment");
    commentForm.hidden = initial || rating !== "down" || commented;
    if (!commentForm.hidden) commentForm.querySelector("input").focus();
    box.querySelector(".feedback-note").textContent = !rating || initial ? ""
      : commented ? t("thanks_telling") : t("thanks_feedback");
  }

  // ---- rendering ------------------------------------------------------------------------
  // The panel's fixed texts, in the language the server answered with (the HTML above is English).
  function applyTexts(received, language) {
    if (!received || typeof received !== "object") return; // a server that sends none: keep English
    texts = received;
    const label = (el, key) => el.setAttribute("aria-label", t(key));
    // Labels that wrap their input: only their leading text node is the label's text.
    const lead = (el, key) => { if (el.firstChild && el.firstChild.nodeType === Node.TEXT_NODE) el.firstChild.nodeValue = t(key); };
    if (typeof language === "string" && language) host.setAttribute("lang", language);
    label(panel, "chat");
    label($(".close"), "close_chat");
    $(".csat-q").textContent = t("how_did_we_do");
    label($(".csat-scores"), "rate_conversation");
    root.querySelectorAll(".csat-score").forEach((b) => b.setAttribute("aria-label", t("score_of_five", { score: b.dataset.score })));
    $(".csat-thanks").textContent = t("thanks_feedback");
    lead($(".csat-comment-label"), "csat_comment");
    $(".csat-comment button").textContent = t("send_comment");
    lead($(".transcript-label"), "email_transcript");
    $(".transcript button").textContent = t("send");
    humanButton.textContent = t("talk_to_human");
    textarea.placeholder = t("write_message");
    label(textarea, "message");
    label($(".send"), "send_message");
    $(".hint").textContent = t("composer_hint");
    renderBadge();
  }

  function applySite() {
    host.style.setProperty("--sb-accent", state.site.accent_color || "#4f46e5");
    host.dataset.position = state.site.launcher_position === "left" ? "left" : "right";
    root.host.setAttribute("data-position", host.dataset.position);
    $(".title").textContent = state.site.name || t("support");
    $(".header-avatar").textContent = initials(state.site.name || "S");
    $(".greeting").textContent = state.site.greeting || "";
  }

  function clearTranscript() {
    state.messages.clear();
    state.actions.clear();
    state.streams.clear();
    state.lastSeq = 0;
    for (const node of [...list.querySelectorAll(".row")]) node.remove();
  }

  function senderKey(frame) {
    return `${frame.role}:${frame.author || ""}`;
  }

  function buildRow(frame, { pending = false } = {}) {
    const row = document.createElement("div");
    row.className = `row role-${frame.role}${pending ? " pending" : ""}`;
    row.dataset.sender = senderKey(frame);
    if (frame.seq) row.dataset.seq = String(frame.seq);
    if (frame.client_id) row.dataset.clientId = frame.client_id;

    if (frame.role === "system") {
      const note = document.createElement("p");
      note.className = "system-note";
      note.textContent = frame.text;
      row.appendChild(note);
      return row;
    }
    if (frame.role !== "customer") {
      const avatar = document.createElement("div");
      avatar.className = "avatar";
      avatar.setAttribute("aria-hidden", "true");
      avatar.textContent = initials(frame.author || (frame.role === "bot" ? state.site.name : "S"));
      row.appendChild(avatar);
    }
    const body = document.createElement("div");
    body.className = "body";
    if (frame.role !== "customer") {
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = frame.author || (frame.role === "bot" ? t("bot_name", { name: state.site.name }) : t("support"));
      body.appendChild(name);
    }
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = frame.text; // never innerHTML: customer, agent and model text is data
    if (frame.text || !Array.isArray(frame.attachments)) body.appendChild(bubble);
    if (Array.isArray(frame.attachments) && frame.attachments.length) body.appendChild(buildAttachments(frame.attachments));
    if (frame.action && typeof frame.action.action_id === "string") body.appendChild(buildActionCard(frame.action));
    for (const [links, label] of [[frame.citations, ""], [frame.related, t("related_articles")]]) {
      if (!Array.isArray(links) || !links.length) continue;
      const chips = document.createElement("div");
      chips.className = "citations";
      if (label) chips.setAttribute("aria-label", label);
      for (const c of links) {
        const chip = document.createElement(safeUrl(c.url) ? "a" : "span");
        chip.className = "chip";
        chip.textContent = c.title || c.url || t("source");
        if (chip.tagName === "A") {
          chip.href = safeUrl(c.url);
          chip.target = "_blank";
          chip.rel = "noopener noreferrer";
        }
        chips.appendChild(chip);
      }
      body.appendChild(chips);
    }
    if (frame.role === "bot" && frame.seq && !pending) body.appendChild(buildFeedback(frame.seq));
    const meta = document.createElement("div");
    meta.className = "meta";
    const time = document.createElement("time");
    time.dateTime = frame.created_at;
    time.textContent = relativeTime(frame.created_at);
    meta.appendChild(time);
    const stateLabel = document.createElement("span");
    stateLabel.className = "meta-state";
    stateLabel.textContent = pending ? ` · ${t("sending")}` : "";
    meta.appendChild(stateLabel);
    body.appendChild(meta);
    row.appendChild(body);
    return row;
  }

  function insertMessage(frame) {
    const row = buildRow(frame);
    // Keep seq order even when broadcasts from concurrent senders arrive out of order.
    const rows = [...list.querySelectorAll(".row[data-seq]:not(.pending)")];
    const next = rows.find((r) => Number(r.dataset.seq) > frame.seq);
    const firstPending = list.querySelector(".row.pending");
    list.insertBefore(row, next || firstPending || null);
    regroup();
    scrollToEnd();
  }

  function renderPending(item) {
    const row = buildRow({ role: "customer", text: item.text, created_at: item.created_at, client_id: item.client_id,
      ...(item.attachment ? { attachments: [item.attachment] } : {}) }, { pending: true });
    list.appendChild(row);
    regroup();
    scrollToEnd();
  }

  function regroup() {
    let previous = null;
    for (const row of list.querySelectorAll(".row")) {
      row.classList.toggle("continued", previous !== null && previous.dataset.sender === row.dataset.sender && !row.classList.contains("role-system"));
      previous = row;
    }
  }

  function renderBadge() {
    badge.hidden = state.unread === 0;
    badge.textContent = state.unread > 9 ? "9+" : String(state.unread);
    launcher.setAttribute("aria-label", state.unread ? t("open_chat_unread", { count: state.unread })
      : t(state.open ? "close_chat" : "open_chat"));
  }

  function showConnection(text, kind) {
    connectionBar.textContent = text;
    connectionBar.dataset.kind = kind;
    connectionBar.hidden = false;
    $(".dot").dataset.kind = kind;
  }

  function hideConnection() {
    connectionBar.hidden = true;
    $(".dot").dataset.kind = "online";
  }

  function scrollToEnd() {
    requestAnimationFrame(() => {
      list.scrollTop = list.scrollHeight;
    });
  }

  function initials(name) {
    const parts = String(name).trim().split(/\s+/).filter(Boolean);
    return (parts.slice(0, 2).map((p) => p[0]).join("") || "?").toUpperCase();
  }

  function relativeTime(iso) {
    const then = new Date(iso);
    if (Number.isNaN(then.getTime())) return "";
    const seconds = (Date.now() - then.getTime()) / 1000;
    if (seconds < 45) return t("just_now");
    if (seconds < 3600) return t("minutes_ago", { minutes: Math.round(seconds / 60) });
    if (seconds < 86400 && then.getDate() === new Date().getDate()) {
      return then.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    }
    return then.toLocaleDateString([], { month: "short", day: "numeric" });
  }

  setInterval(() => {
    for (const t of list.querySelectorAll("time")) t.textContent = relativeTime(t.dateTime);
  }, 30000);

  function safeUrl(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      const u = new URL(url, apiBase);
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch (_) {
      return null;
    }
  }

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/"/g, '\\"');
  }

  // ---- attachments ----------------------------------------------------------------------
  // A paperclip picks an image or PDF; it is uploaded over HTTP (with progress), then sent as a
  // message carrying the upload's id (docs/protocol.md). File names are text, never markup.
  function mountAttachments() {
    const input = document.createElement("input");
    input.type = "file";
    input.accept = "image/png,image/jpeg,image/gif,image/webp,application/pdf";
    input.className = "attach-input";
    input.hidden = true;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "attach";
    button.setAttribute("aria-label", t("attach"));
    button.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7L14 4.5a3.5 3.5 0 0 1 5 5L10.5 18a2 2 0 0 1-3-3L15 7.5"/></svg>';
    const status = document.createElement("p");
    status.className = "attach-status";
    status.setAttribute("role", "status");
    status.hidden = true;
    const row = $(".composer-row");
    row.insertBefore(button, textarea);
    row.appendChild(input);
    row.parentNode.insertBefore(status, row);
    button.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = "";
      if (file) uploadAttachment(file, status, button);
    });
  }

  function uploadAttachment(file, status, button) {
    const fail = (message) => {
      status.textContent = message;
      status.dataset.kind = "error";
      button.disabled = false;
    };
    if (!state.conversationId || !state.token) {
      fail(t("connecting_retry"));
      if (!state.reconnectTimer) start();
      return;
    }
    const data = new FormData();
    data.append("conversation_id", state.conversationId);
    data.append("token", state.token);
    data.append("file", file);
    // XMLHttpRequest rather than fetch: it reports upload progress.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${apiBase}/api/widget/attachments`);
    status.hidden = false;
    status.dataset.kind = "pending";
    status.textContent = t("uploading", { name: file.name });
    button.disabled = true;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) status.textContent = `${t("uploading", { name: file.name })} ${Math.round((100 * e.loaded) / e.total)}%`;
    });
    xhr.addEventListener("error", () => fail(t("upload_failed")));
    xhr.addEventListener("load", () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || "{}") || {};
      } catch (_) {
        body = {};
      }
      if (xhr.status !== 201 || typeof body.id !== "string") {
        fail((body.error && body.error.message) || t("upload_failed_status", { status: xhr.status }));
        return;
      }
      status.hidden = true;
      button.disabled = false;
      const text = textarea.value.length <= state.maxChars ? textarea.value : "";
      if (text) {
        textarea.value = "";
        autosize();
        stopTyping();
      }
      queueMessage(text, body);
    });
    xhr.send(data);
  }

  function buildAttachments(attachments) {
    const box = document.createElement("div");
    box.className = "attachments";
    for (const a of attachments) {
      const url = a && safeUrl(a.url);
      if (!url) continue;
      const link = document.createElement("a");
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      const thumbnail = safeUrl(a.thumbnail_url);
      if (thumbnail) {
        link.className = "attachment-image";
        const img = document.createElement("img");
        img.src = thumbnail;
        img.alt = String(a.name || "image");
        img.loading = "lazy";
        link.appendChild(img);
      } else {
        link.className = "chip attachment-file";
        link.textContent = `${a.name || "file"} (${Math.max(1, Math.round((a.size || 0) / 1024))} KB)`;
      }
      box.appendChild(link);
    }
    return box;
  }

  function messageFrame(item) {
    const frame = { type: "message", client_id: item.client_id, text: item.text };
    if (item.attachment && item.attachment.id) frame.attachment = item.attachment.id;
    return frame;
  }

  function attachmentStyles() {
    return `
      .attach { width: 40px; height: 40px; border-radius: 50%; border: 1px solid var(--sb-border); background: transparent;
        color: var(--sb-muted); display: grid; place-items: center; flex: none; cursor: pointer; }
      .attach:hover { border-color: var(--sb-accent); color: var(--sb-fg); }
      .attach:disabled { opacity: .5; cursor: progress; }
      .attach svg { width: 18px; height: 18px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; }
      .attach-status { margin: 0 2px 6px; font-size: 12px; color: var(--sb-muted); }
      .attach-status[data-kind="error"] { color: #dc2626; }
      .attachments { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 4px; }
      .role-customer .attachments { justify-content: flex-end; }
      .attachment-image img { display: block; max-width: 200px; max-height: 200px; border-radius: 12px; border: 1px solid var(--sb-border); }
      .attachment-file { text-decoration: none; }
    `;
  }

  function styles() {
    return `
      :host { all: initial; --sb-accent: #4f46e5; --sb-bg: #ffffff; --sb-fg: #111827; --sb-muted: #6b7280;
        --sb-soft: #f3f4f6; --sb-border: #e5e7eb; --sb-customer-fg: #ffffff;
        font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
        font-size: 15px; line-height: 1.4; color: var(--sb-fg); }
      @media (prefers-color-scheme: dark) {
        :host { --sb-bg: #111827; --sb-fg: #f9fafb; --sb-muted: #9ca3af; --sb-soft: #1f2937; --sb-border: #374151; }
      }
      *, *::before, *::after { box-sizing: border-box; }
      [hidden] { display: none !important; }
      button { font: inherit; cursor: pointer; }
      :focus-visible { outline: 3px solid color-mix(in srgb, var(--sb-accent) 55%, white); outline-offset: 2px; }
      svg { width: 22px; height: 22px; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
      .launcher { position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; width: 56px; height: 56px;
        border-radius: 50%; border: 0; background: var(--sb-accent); color: #fff; display: grid; place-items: center;
        box-shadow: 0 6px 20px rgba(0,0,0,.22); transition: transform .15s ease; }
      :host([data-position="left"]) .launcher { right: auto; left: 20px; }
      .launcher:hover { transform: scale(1.06); }
      .launcher .icon-close, .launcher.is-open .icon-chat { display: none; }
      .launcher.is-open .icon-close { display: block; }
      .badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 5px; border-radius: 10px;
        background: #ef4444; color: #fff; font-size: 12px; font-weight: 700; display: grid; place-items: center; }
      .panel { position: fixed; bottom: 88px; right: 20px; z-index: 2147483000; width: 380px; height: min(600px, calc(100vh - 110px));
        background: var(--sb-bg); border-radius: 16px; box-shadow: 0 12px 48px rgba(0,0,0,.25); display: flex; flex-direction: column;
        overflow: hidden; border: 1px solid var(--sb-border); }
      :host([data-position="left"]) .panel { right: auto; left: 20px; }
      @media (max-width: 480px) {
        .panel { inset: 0; width: 100vw; height: 100%; border-radius: 0; bottom: 0; right: 0; }
        .launcher.is-open { display: none; }
      }
      .header { display: flex; align-items: center; gap: 10px; padding: 14px 14px 14px 16px; background: var(--sb-accent); color: #fff; }
      .header-text { flex: 1; min-width: 0; }
      .title { margin: 0; font-size: 16px; font-weight: 650; }
      .subtitle { margin: 2px 0 0; font-size: 13px; opacity: .9; display: flex; align-items: center; gap: 6px; }
      .dot { width: 8px; height: 8px; border-radius: 50%; background: #fbbf24; flex: none; }
      .dot[data-kind="online"] { background: #34d399; }
      .dot[data-kind="offline"], .dot[data-kind="error"] { background: #f87171; }
      .close { background: transparent; border: 0; color: #fff; padding: 6px; border-radius: 8px; display: grid; }
      .close:hover { background: rgba(255,255,255,.15); }
      .avatar { width: 32px; height: 32px; border-radius: 50%; flex: none; display: grid; place-items: center; font-size: 12px;
        font-weight: 700; background: var(--sb-soft); color: var(--sb-fg); }
      .header-avatar { background: rgba(255,255,255,.2); color: #fff; width: 36px; height: 36px; }
      .connection { padding: 8px 14px; font-size: 13px; background: #fef3c7; color: #92400e; }
      .connection[data-kind="error"] { background: #fee2e2; color: #991b1b; }
      .messages { flex: 1; overflow-y: auto; padding: 16px 14px 8px; display: flex; flex-direction: column; gap: 2px;
        overscroll-behavior: contain; }
      .greeting { margin: 0 0 12px; padding: 10px 12px; background: var(--sb-soft); border-radius: 12px; color: var(--sb-fg); }
      .greeting:empty { display: none; }
      .row { display: flex; align-items: flex-end; gap: 8px; margin-top: 10px; max-width: 100%; }
      .row.continued { margin-top: 2px; }
      .row.continued .avatar { visibility: hidden; }
      .row.continued .name { display: none; }
      .row.role-customer { justify-content: flex-end; }
      .body { display: flex; flex-direction: column; max-width: 78%; min-width: 0; }
      .role-customer .body { align-items: flex-end; }
      .name { font-size: 12px; color: var(--sb-muted); margin: 0 0 3px 2px; }
      .bubble { padding: 9px 12px; border-radius: 16px; background: var(--sb-soft); white-space: pre-wrap; overflow-wrap: anywhere; }
      .role-customer .bubble { background: var(--sb-accent); color: var(--sb-customer-fg); border-bottom-right-radius: 6px; }
      .role-agent .bubble, .role-bot .bubble { border-bottom-left-radius: 6px; }
      .pending .bubble { opacity: .65; }
      .meta { font-size: 11px; color: var(--sb-muted); margin: 3px 4px 0; min-height: 14px; }
      .row.continued + .row.continued .meta { }
      .system-note { margin: 6px auto; font-size: 12.5px; color: var(--sb-muted); text-align: center; max-width: 90%; }
      .role-system { justify-content: center; }
      .citations { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
      .chip { font-size: 12px; padding: 3px 9px; border-radius: 999px; border: 1px solid var(--sb-border); color: var(--sb-fg);
        text-decoration: none; background: var(--sb-bg); max-width: 100%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
      a.chip:hover { border-color: var(--sb-accent); }
      .streaming .meta { visibility: hidden; }
      .action-card { margin-top: 8px; padding: 10px 12px; border: 1px solid var(--sb-border); border-radius: 12px; background: var(--sb-bg); }
      .action-summary { margin: 0 0 6px; font-weight: 600; overflow-wrap: anywhere; }
      .action-status { margin: 0 0 8px; font-size: 12px; color: var(--sb-muted); }
      .action-card[data-status="succeeded"] .action-status { color: #15803d; }
      .action-card[data-status="failed"] .action-status { color: #b91c1c; }
      .action-buttons { display: flex; gap: 8px; }
      .action-buttons button { flex: 1; padding: 7px 10px; border-radius: 8px; font: inherit; font-size: 13px; cursor: pointer;
        border: 1px solid var(--sb-border); background: var(--sb-bg); color: var(--sb-fg); }
      .action-buttons .action-confirm { background: var(--sb-accent); color: var(--sb-customer-fg); border-color: var(--sb-accent); }
      .action-buttons button:disabled { opacity: .45; cursor: default; }
      .action-buttons button:focus-visible { outline: 2px solid var(--sb-accent); outline-offset: 2px; }
      .feedback { display: flex; flex-wrap: wrap; align-items: center; gap: 4px; margin-top: 4px; font-size: 12px; color: var(--sb-muted); }
      .feedback > button { background: transparent; border: 1px solid transparent; border-radius: 8px; padding: 3px 5px; color: var(--sb-muted); display: grid; place-items: center; }
      .feedback > button svg { width: 15px; height: 15px; }
      .feedback > button:hover { color: var(--sb-fg); border-color: var(--sb-border); }
      .feedback > button[aria-pressed="true"] { color: var(--sb-accent); border-color: var(--sb-accent); }
      .feedback > button[aria-pressed="true"] svg { fill: color-mix(in srgb, var(--sb-accent) 20%, transparent); }
      .feedback-comment { display: flex; gap: 6px; align-items: flex-end; width: 100%; margin-top: 4px; }
      .feedback-comment label { display: grid; gap: 4px; flex: 1; }
      .feedback-comment input { font: inherit; border: 1px solid var(--sb-border); border-radius: 8px; padding: 5px 8px; background: transparent; color: var(--sb-fg); width: 100%; }
      .feedback-comment .small-button { margin-top: 0; }
      .typing { display: flex; align-items: center; gap: 8px; padding: 2px 16px 8px; font-size: 12.5px; color: var(--sb-muted); min-height: 22px; }
      .bubble-dots { display: inline-flex; gap: 3px; }
      .bubble-dots i { width: 6px; height: 6px; border-radius: 50%; background: var(--sb-muted); animation: sb-blink 1.2s infinite ease-in-out; }
      .bubble-dots i:nth-child(2) { animation-delay: .2s; } .bubble-dots i:nth-child(3) { animation-delay: .4s; }
      @keyframes sb-blink { 0%, 80%, 100% { opacity: .25; } 40% { opacity: 1; } }
      @media (prefers-reduced-motion: reduce) { .bubble-dots i { animation: none; } .launcher { transition: none; } }
      .csat { margin: 0 14px 10px; padding: 12px; border: 1px solid var(--sb-border); border-radius: 12px; text-align: center; }
      .csat-q, .csat-thanks { margin: 0 0 8px; font-weight: 600; }
      .csat-thanks { margin: 0; }
      .csat-scores { display: flex; justify-content: center; gap: 6px; }
      .csat-score { font-size: 24px; line-height: 1; background: transparent; border: 0; color: var(--sb-border); width: 40px; height: 40px; border-radius: 8px; }
      .csat-score.lit { color: #f59e0b; }
      .csat-comment, .transcript { margin-top: 10px; text-align: left; }
      .csat-comment-label, .transcript-label { display: grid; gap: 6px; font-size: 13px; color: var(--sb-muted); }
      .csat-comment textarea, .transcript input { font: inherit; border: 1px solid var(--sb-border); border-radius: 8px; padding: 6px 8px; background: transparent; color: var(--sb-fg); width: 100%; box-sizing: border-box; }
      .transcript-row { display: flex; gap: 6px; }
      .small-button { font: inherit; font-size: 13px; border: 1px solid var(--sb-border); border-radius: 8px; background: transparent; color: var(--sb-fg); padding: 5px 10px; cursor: pointer; margin-top: 6px; }
      .transcript-row .small-button { margin-top: 0; }
      .transcript-done { margin: 6px 0 0; font-size: 13px; }
      .composer { border-top: 1px solid var(--sb-border); padding: 8px 12px 10px; background: var(--sb-bg); }
      .human { background: transparent; border: 1px solid var(--sb-border); color: var(--sb-fg); border-radius: 999px;
        padding: 4px 12px; font-size: 12.5px; margin-bottom: 8px; }
      .human:hover { border-color: var(--sb-accent); }
      .composer-row { display: flex; align-items: flex-end; gap: 8px; }
      textarea { flex: 1; resize: none; border: 1px solid var(--sb-border); border-radius: 12px; padding: 9px 12px; font: inherit;
        color: var(--sb-fg); background: var(--sb-bg); max-height: 120px; min-height: 40px; }
      textarea:focus { outline: none; border-color: var(--sb-accent); box-shadow: 0 0 0 3px color-mix(in srgb, var(--sb-accent) 25%, transparent); }
      .send { width: 40px; height: 40px; border-radius: 50%; border: 0; background: var(--sb-accent); color: #fff; display: grid; place-items: center; flex: none; }
      .send svg { width: 18px; height: 18px; }
      .hint { margin: 6px 2px 0; font-size: 11px; color: var(--sb-muted); }
      ${attachmentStyles()}
    `;
  }

  // A returning visitor with a conversation reconnects at once, so replies that arrived while
  // they were away show up as unread on the launcher.
  loadConfig();
  if (state.conversationId || state.outbox.length) start();
})();
