// Workspace behaviour that htmx attributes do not cover: Enter to send, keyboard shortcuts, keeping
// the transcript scrolled to the newest message, reply/note modes, the /shortcut menu of saved
// replies, inserting suggested answers, toasts. Every text is set with textContent or .value.
(() => {
  "use strict";

  const transcript = () => document.getElementById("transcript");
  const scrollToEnd = () => {
    const t = transcript();
    if (t) t.scrollTop = t.scrollHeight;
  };

  // Reconnect quickly (capped at 10 s, with jitter); a restarted server closes with 1001, which
  // the ws extension does not retry by itself, so retry every close except a refusal.
  if (window.htmx) htmx.config.wsReconnectDelay = (n) => Math.min(10000, 500 * 2 ** n) * (0.5 + Math.random() / 2);
  let retries = 0;
  document.addEventListener("htmx:wsOpen", () => {
    retries = 0;
    document.body.classList.remove("ws-offline");
  });
  document.addEventListener("htmx:wsClose", (event) => {
    const code = event.detail.event && event.detail.event.code;
    document.body.classList.add("ws-offline");
    if (code === 4401) return location.assign("/inbox/login/?next=" + encodeURIComponent(location.pathname));
    if ([1006, 1011, 1012, 1013].includes(code)) return; // the extension retries these itself
    const delay = htmx.config.wsReconnectDelay(retries++);
    setTimeout(() => event.detail.socketWrapper.reconnect(), delay);
  });

  document.addEventListener("DOMContentLoaded", scrollToEnd);
  document.addEventListener("htmx:oobAfterSwap", (event) => {
    const target = event.detail && event.detail.target;
    if (target && (target.id === "transcript" || target.closest?.("#transcript"))) {
      scrollToEnd();
      const last = target.id === "transcript" ? target.lastElementChild : target;
      if (last && last.classList.contains("role-customer")) document.body.dispatchEvent(new Event("refresh-suggestions"));
    }
    if (target && target.id === "toasts") {
      const toast = target.lastElementChild;
      if (toast) setTimeout(() => toast.remove(), 10000);
    }
  });

  // ---- reply / note modes -------------------------------------------------------------------
  const box = () => document.getElementById("reply-text");
  function setMode(mode) {
    const form = box() && box().form;
    if (!form) return;
    form.querySelector(`input[name=mode][value=${mode}]`).checked = true;
    form.classList.toggle("note-mode", mode === "note");
    const hint = form.querySelector(".hint");
    hint.textContent = mode === "note" ? hint.dataset.noteHint : hint.dataset.replyHint;
    box().placeholder = mode === "note" ? "Write an internal note… (only your team sees it)"
      : "Reply to the customer… (Enter to send, Shift+Enter for a new line, / for saved replies)";
  }
  document.addEventListener("change", (event) => {
    if (event.target.name === "mode") setMode(event.target.value);
  });
  document.addEventListener("composer-reset", () => setMode("reply"), true);

  // ---- attachments: a file makes the text optional; a refused upload says why ----------------
  function showAttachment(form) {
    const input = form.querySelector("[data-attach]");
    const file = input && input.files[0];
    form.querySelector("[data-attach-name]").textContent = file ? file.name : "";
    box().required = !file;
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches && event.target.matches("[data-attach]")) showAttachment(event.target.form);
  });
  document.addEventListener("composer-reset", (event) => {
    if (event.target.querySelector && event.target.querySelector("[data-attach]")) showAttachment(event.target);
  }, true);
  document.addEventListener("htmx:afterRequest", (event) => {
    const form = event.detail.elt;
    if (!form || !form.classList || !form.classList.contains("composer")) return;
    const error = form.querySelector(".composer-error");
    if (!error) return;
    error.hidden = event.detail.successful;
    error.textContent = event.detail.successful ? "" : (event.detail.xhr.responseText || "That could not be sent.");
  });

  // ---- saved replies: "/shortcut" ------------------------------------------------------------
  const canned = () => {
    const data = document.getElementById("canned-responses");
    return data ? JSON.parse(data.textContent) : [];
  };
  let menuIndex = 0;
  function cannedMatches() {
    const text = box().value;
    const match = /^\/([\w-]*)$/.exec(text.trim() === text ? text : "");
    if (!match) return null;
    const word = match[1].toLowerCase();
    return canned().filter((c) => c.shortcut.startsWith(word) || c.title.toLowerCase().includes(word)).slice(0, 8);
  }
  function renderMenu() {
    const menu = document.getElementById("canned-menu");
    if (!menu) return;
    const matches = cannedMatches();
    menu.replaceChildren();
    menu.hidden = !matches || !matches.length;
    if (menu.hidden) return;
    menuIndex = Math.min(menuIndex, matches.length - 1);
    matches.forEach((c, i) => {
      const li = document.createElement("li");
      li.role = "option";
      li.dataset.shortcut = c.shortcut;
      li.setAttribute("aria-selected", String(i === menuIndex));
      const key = document.createElement("strong");
      key.textContent = "/" + c.shortcut;
      const title = document.createElement("span");
      title.textContent = " " + c.title;
      li.append(key, title);
      li.addEventListener("mousedown", (e) => { e.preventDefault(); insertCanned(c); });
      menu.appendChild(li);
    });
  }
  function insertCanned(c) {
    box().value = c.text;
    document.getElementById("canned-menu").hidden = true;
    box().focus();
  }
  document.addEventListener("input", (event) => {
    if (event.target.id === "reply-text") { menuIndex = 0; renderMenu(); }
  });

  // ---- suggested answers ---------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    const button = event.target.closest(".insert-suggestion");
    if (!button || !box()) return;
    box().value = box().value ? `${box().value}\n\n${button.dataset.text}` : button.dataset.text;
    box().focus();
  });

  document.addEventListener("keydown", (event) => {
    const el = event.target;
    const menu = document.getElementById("canned-menu");
    if (el.id === "reply-text" && menu && !menu.hidden) {
      const matches = cannedMatches() || [];
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        menuIndex = (menuIndex + (event.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
        renderMenu();
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && matches[menuIndex]) {
        event.preventDefault();
        insertCanned(matches[menuIndex]);
        return;
      }
      if (event.key === "Escape") { menu.hidden = true; return; }
    }
    if (el.id === "reply-text" && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (el.value.trim()) el.form.requestSubmit();
      return;
    }
    if (event.metaKey || event.ctrlKey || event.altKey) return;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) || el.isContentEditable) {
      if (event.key === "Escape") el.blur();
      return;
    }
    if (event.key === "j" || event.key === "k") {
      const links = [...document.querySelectorAll("#conversation-list a.conv")];
      if (!links.length) return;
      const current = links.findIndex((a) => a.classList.contains("selected"));
      const next = event.key === "j" ? Math.min(links.length - 1, current + 1) : Math.max(0, current - 1);
      if (next !== current || current === -1) links[next === -1 ? 0 : next].click();
    } else if (event.key === "r") {
      if (box()) {
        event.preventDefault();
        setMode("reply");
        box().focus();
      }
    } else if (event.key === "n") {
      if (box()) { event.preventDefault(); setMode("note"); box().focus(); }
    } else if (event.key === "c") {
      const claim = document.querySelector("[data-shortcut='c']");
      if (claim) claim.click();
    } else if (event.key === "/") {
      const search = document.getElementById("search");
      if (search) { event.preventDefault(); search.focus(); }
    } else if (event.key === "e") {
      const resolve = document.querySelector("[data-shortcut='e']");
      if (resolve) resolve.click();
    }
  });
})();
