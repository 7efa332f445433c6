// vmdns admin UI: small progressive enhancements. Every page works without this script except the
// "Test connection" toasts, the live reverse-zone hint and the live job log.
// Text from the server is only ever put into the page with textContent, never as HTML.
"use strict";

(function () {
  const csrf = () => {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };

  // POSTs an urlencoded form carrying the CSRF token, answers the parsed JSON (or throws).
  async function postForm(url, fields) {
    const body = new URLSearchParams(fields || {});
    body.set("_csrf", csrf());
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      body,
    });
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      data = null;
    }
    if (!res.ok && !(data && "ok" in data)) {
      throw new Error((data && data.error) || res.status + " " + res.statusText);
    }
    return data;
  }

  // A toast: green (ok) or red, with a title and the message as given.
  function toast(ok, title, message) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const t = document.createElement("div");
    t.className = "toast " + (ok ? "toast-ok" : "toast-err");
    t.setAttribute("role", ok ? "status" : "alert");
    const h = document.createElement("strong");
    h.className = "toast-title";
    h.textContent = title;
    const p = document.createElement("div");
    p.className = "toast-message";
    p.textContent = message;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => t.remove());
    t.append(h, p, close);
    box.append(t);
    setTimeout(() => t.remove(), ok ? 8000 : 20000);
  }

  // Forms that need a confirmation (Delete, Terminate).
  document.addEventListener("submit", (ev) => {
    const form = ev.target;
    const text = form.getAttribute && form.getAttribute("data-confirm");
    if (text && !window.confirm(text)) ev.preventDefault();
  });

  // Test connection buttons.
  document.querySelectorAll("[data-test-url]").forEach((btn) => {
    btn.addEventListener("click", async () => {
      const label = btn.getAttribute("data-label") || "";
      const before = btn.textContent;
      btn.disabled = true;
      btn.setAttribute("aria-busy", "true");
      btn.textContent = "Testing…";
      try {
        const r = await postForm(btn.getAttribute("data-test-url"));
        toast(!!r.ok, (r.ok ? "Connection OK: " : "Connection failed: ") + label, r.message || "");
      } catch (e) {
        toast(false, "Connection failed: " + label, e.message);
      } finally {
        btn.disabled = false;
        btn.removeAttribute("aria-busy");
        btn.textContent = before;
      }
    });
  });

  // The zone form: show the selected provider's settings only (hidden ones are disabled, so not sent).
  document.querySelectorAll("[data-provider-select]").forEach((select) => {
    const form = select.form;
    const sync = () => {
      form.querySelectorAll("fieldset[data-provider]").forEach((fs) => {
        const on = fs.getAttribute("data-provider") === select.value;
        fs.hidden = !on;
        fs.disabled = !on;
      });
    };
    select.addEventListener("change", sync);
    sync();
  });

  // The pool form: the reverse zone the pool needs, live as the prefix is typed.
  document.querySelectorAll("[data-pool-form]").forEach((form) => {
    const first = form.querySelector("#first_ip");
    const len = form.querySelector("#prefix_len");
    const out = form.querySelector("#rdns-hint");
    const more = form.querySelector("#rdns-hint-more");
    if (!first || !len || !out) return;
    let timer = null;
    let seq = 0;
    const show = (text, lines, bad) => {
      out.textContent = text;
      out.classList.toggle("bad", !!bad);
      if (more) {
        more.replaceChildren();
        (lines || []).slice(0, 40).forEach((l) => {
          const li = document.createElement("li");
          li.className = "mono";
          li.textContent = l;
          more.append(li);
        });
      }
    };
    const update = async () => {
      const ip = first.value.trim();
      const n = len.value.trim();
      if (!ip || !n) {
        show("— type the first address and the prefix length —", [], false);
        return;
      }
      const mine = ++seq;
      try {
        const res = await fetch("/ui/rdns-zone?prefix=" + encodeURIComponent(ip + "/" + n), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        const data = await res.json();
        if (mine !== seq) return;
        if (res.ok) show(data.lines[0], data.lines.slice(1), false);
        else show(data.error || "cannot tell yet", [], true);
      } catch (e) {
        if (mine === seq) show("cannot tell yet: " + e.message, [], true);
      }
    };
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(update, 150);
    };
    first.addEventListener("input", soon);
    len.addEventListener("input", soon);
  });

  // A running job's output, live.
  const log = document.querySelector("#job-output[data-events]");
  if (log && window.EventSource) {
    const state = document.getElementById("job-state");
    const live = document.getElementById("job-live");
    const src = new EventSource(log.getAttribute("data-events"));
    src.addEventListener("line", (ev) => {
      const div = document.createElement("div");
      const words = ev.data.trim().split(/\s+/);
      div.className =
        "line " + (words[1] === "OK" ? "ok" : words[1] === "ERR" ? "err" : ev.data.startsWith("summary:") ? "summary" : "");
      div.textContent = ev.data;
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(div);
      if (atBottom) log.scrollTop = log.scrollHeight;
      if (state && state.textContent === "queued") {
        state.textContent = "running";
      }
    });
    src.addEventListener("end", (ev) => {
      src.close();
      if (state) {
        state.textContent = ev.data;
        const tone =
          ev.data === "done" ? "ok" : ev.data === "done_with_errors" ? "warn" : ev.data === "failed" ? "err" : "same";
        state.className = "state state-" + tone;
      }
      if (live) live.textContent = "Job finished: " + ev.data + ".";
      log.setAttribute("data-finished", ev.data);
    });
  }
})();
