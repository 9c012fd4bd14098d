// Karta's dashboard: live regions, log streams, copy buttons, the project filter and the rollback
// dialog. Pages work without it; it only makes them update by themselves. Everything from the
// server is written with textContent or parsed as a whole page by DOMParser: no HTML is built here.
"use strict";

(function () {
  const REFRESH_MS = 2000;
  const MAX_LOG_LINES = 2000;

  // Live regions: [data-live][id] are replaced by the same regions of a fresh copy of this page.
  const served = new Map();
  let refreshing = false;
  let refreshTimer = null;

  function liveRegions() {
    return Array.from(document.querySelectorAll("[data-live][id]"));
  }

  async function refresh() {
    if (refreshing || document.hidden || document.querySelector("dialog[open]")) {
      return;
    }
    refreshing = true;
    try {
      const res = await fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (res.redirected && new URL(res.url).pathname === "/sign-in") {
        location.assign(res.url); // signed out: the sign-in form comes back here afterwards
        return;
      }
      if (!res.ok) {
        return;
      }
      const fresh = new DOMParser().parseFromString(await res.text(), "text/html");
      for (const region of liveRegions()) {
        const next = fresh.getElementById(region.id);
        if (!next || served.get(region.id) === next.outerHTML) {
          continue;
        }
        served.set(region.id, next.outerHTML);
        const focus = focusKey(region);
        for (const attr of Array.from(region.attributes)) {
          if (!next.hasAttribute(attr.name)) {
            region.removeAttribute(attr.name);
          }
        }
        for (const attr of Array.from(next.attributes)) {
          region.setAttribute(attr.name, attr.value);
        }
        region.replaceChildren(...Array.from(next.childNodes).map((n) => document.importNode(n, true)));
        restoreFocus(region, focus);
        renderTimes(region);
      }
      applyFilters();
      followBuildLog();
    } catch (e) {
      // Offline or the server restarting: the next tick tries again.
    } finally {
      refreshing = false;
    }
  }

  // A keyboard user's focus survives a region's refresh: the same link or button gets it back.
  function focusKey(region) {
    const el = document.activeElement;
    if (!el || el === region || !region.contains(el)) {
      return null;
    }
    for (const attr of ["id", "href", "data-copy", "action"]) {
      if (el.getAttribute(attr)) {
        return "[" + attr + "=\"" + CSS.escape(el.getAttribute(attr)) + "\"]";
      }
    }
    const form = el.closest("form[action]");
    return form ? "form[action=\"" + CSS.escape(form.getAttribute("action")) + "\"] " + el.tagName : null;
  }

  function restoreFocus(region, key) {
    const el = key && region.querySelector(key);
    if (el) {
      el.focus({ preventScroll: true });
    }
  }

  // A log line that may change what the page shows asks for a refresh: at most two a second,
  // however many lines arrive.
  function refreshSoon() {
    if (refreshTimer === null) {
      refreshTimer = setTimeout(() => {
        refreshTimer = null;
        refresh();
      }, 500);
    }
  }

  // Times are rendered by the server as absolute UTC, here as ages ("5 min ago"), kept current:
  // the server's HTML then stays the same from one refresh to the next unless something changed.
  function ago(iso) {
    const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (seconds < 10) {
      return "just now";
    }
    if (seconds < 60) {
      return seconds + " s ago";
    }
    if (seconds < 3600) {
      return Math.floor(seconds / 60) + " min ago";
    }
    if (seconds < 86400) {
      return Math.floor(seconds / 3600) + " h ago";
    }
    return Math.floor(seconds / 86400) + " d ago";
  }

  function renderTimes(root) {
    for (const time of root.querySelectorAll("time[data-ago][datetime]")) {
      time.textContent = ago(time.getAttribute("datetime"));
    }
  }

  // Log streams (Server-Sent Events). The browser reconnects by itself with Last-Event-ID.
  function formatEntry(entry) {
    const time = (entry.time || "").replace("T", " ").replace(/\.\d+Z$/, "Z");
    const where = entry.release || (entry.deploy_id || "");
    return time + "  " + (entry.source || "").padEnd(7) + "  " + where.padEnd(6) + "  " + (entry.message || "");
  }

  function stream(pane, url, onEnd) {
    pane.textContent = "";
    const source = new EventSource(url);
    source.addEventListener("log", (event) => {
      let entry;
      try {
        entry = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      const line = document.createElement("span");
      line.className = "line " + (entry.source || "");
      line.textContent = formatEntry(entry) + "\n";
      const atBottom = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
      pane.appendChild(line);
      while (pane.childNodes.length > MAX_LOG_LINES) {
        pane.removeChild(pane.firstChild);
      }
      if (atBottom) {
        pane.scrollTop = pane.scrollHeight;
      }
      if (entry.source !== "session") {
        refreshSoon();
      }
    });
    source.addEventListener("end", () => {
      source.close();
      refreshSoon();
      if (onEnd) {
        onEnd();
      }
    });
    source.addEventListener("error", (event) => {
      if (event.data) {
        // The server ended the stream with a reason (key revoked, project deleted): say it, stop.
        const line = document.createElement("span");
        line.className = "line error";
        try {
          line.textContent = JSON.parse(event.data).message + "\n";
        } catch (e) {
          line.textContent = event.data + "\n";
        }
        pane.appendChild(line);
        source.close();
      }
    });
    return source;
  }

  // The project page's build log follows its current deploy, and moves on to the next one.
  let buildLog = null;
  let buildLogUrl = null;

  function followBuildLog() {
    const region = document.getElementById("current-deploy");
    const pane = document.getElementById("build-log");
    if (!region || !pane || pane.hasAttribute("data-stream")) {
      return;
    }
    const url = region.getAttribute("data-build-log");
    if (url === buildLogUrl) {
      return;
    }
    if (buildLog) {
      buildLog.close();
    }
    buildLogUrl = url;
    buildLog = url ? stream(pane, url) : null;
  }

  // The project filter hides rows whose name lacks the typed text.
  function applyFilters() {
    for (const input of document.querySelectorAll("input[data-filter]")) {
      const text = input.value.trim().toLowerCase();
      for (const row of document.querySelectorAll(input.getAttribute("data-filter"))) {
        row.hidden = text !== "" && !(row.getAttribute("data-name") || "").includes(text);
      }
    }
  }

  async function copy(button) {
    const target = document.querySelector(button.getAttribute("data-copy"));
    if (!target) {
      return;
    }
    const text = target.textContent.trim();
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(target);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  }

  // The rollback confirm dialog: the confirm page's section, fetched and shown in a modal dialog.
  let dialog = null;

  async function openDialog(link) {
    const res = await fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (res.redirected && new URL(res.url).pathname === "/sign-in") {
      location.assign(res.url);
      return;
    }
    const page = new DOMParser().parseFromString(await res.text(), "text/html");
    const section = page.getElementById("confirm") || page.querySelector("main");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "dialog";
      dialog.setAttribute("aria-modal", "true");
      document.body.appendChild(dialog);
      dialog.addEventListener("close", () => {
        if (dialog.opener && document.contains(dialog.opener)) {
          dialog.opener.focus();
        }
      });
    }
    dialog.opener = link;
    dialog.replaceChildren(document.importNode(section, true));
    const title = dialog.querySelector("h1");
    if (title) {
      title.id = "dialog-title";
      dialog.setAttribute("aria-labelledby", "dialog-title");
    }
    dialog.showModal();
    const first = dialog.querySelector("[data-confirm-button], [data-close]");
    if (first) {
      first.focus();
    }
  }

  document.addEventListener("click", (event) => {
    const copyButton = event.target.closest("button[data-copy]");
    if (copyButton) {
      copy(copyButton);
      return;
    }
    const dialogLink = event.target.closest("a[data-dialog]");
    if (dialogLink) {
      event.preventDefault();
      openDialog(dialogLink).catch(() => location.assign(dialogLink.href));
      return;
    }
    const close = event.target.closest("dialog [data-close]");
    if (close) {
      event.preventDefault();
      close.closest("dialog").close();
    }
  });

  document.addEventListener("submit", (event) => {
    const message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target.matches("input[data-filter]")) {
      applyFilters();
    }
  });

  function start() {
    for (const region of liveRegions()) {
      served.set(region.id, region.outerHTML);
    }
    for (const pane of document.querySelectorAll("pre[data-stream]")) {
      stream(pane, pane.getAttribute("data-stream"));
    }
    followBuildLog();
    applyFilters();
    renderTimes(document);
    setInterval(() => renderTimes(document), 10000);
    if (liveRegions().length > 0) {
      setInterval(refresh, REFRESH_MS);
      document.addEventListener("visibilitychange", () => {
        if (!document.hidden) {
          refresh();
        }
      });
    }
  }

  start();
})();
