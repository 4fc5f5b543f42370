// Inbox behaviour that htmx attributes do not cover: Enter to send, keyboard shortcuts, keeping
// the transcript scrolled to the newest message, relative times.
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
    if (target && (target.id === "transcript" || target.closest?.("#transcript"))) scrollToEnd();
  });

  document.addEventListener("keydown", (event) => {
    const el = event.target;
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
      const box = document.getElementById("reply-text");
      if (box) {
        event.preventDefault();
        box.focus();
      }
    } else if (event.key === "e") {
      const resolve = document.querySelector("[data-shortcut='e']");
      if (resolve) resolve.click();
    }
  });
})();
