"use strict";
(function () {
  const data = JSON.parse(document.getElementById("mas-data").textContent);
  const panel = document.getElementById("details");

  function field(list, name, value) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    const pre = document.createElement("pre");
    pre.textContent = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    dd.appendChild(pre);
    list.append(dt, dd);
  }

  function show(heading, record) {
    const h = document.createElement("h3");
    h.textContent = heading;
    const close = document.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.setAttribute("aria-label", "close");
    close.addEventListener("click", function () { panel.hidden = true; });
    const list = document.createElement("dl");
    Object.keys(record).forEach(function (k) { field(list, k, record[k]); });
    panel.replaceChildren(h, close, list);
    panel.hidden = false;
  }

  function select(el) {
    document.querySelectorAll(".call.sel").forEach(function (c) { c.classList.remove("sel"); });
    el.classList.add("sel");
    const call = (data.calls || [])[Number(el.getAttribute("data-call"))];
    if (!call) return;
    const what = call.kind === "llm" ? "model call " + call.model : "tool call " + call.tool;
    show(what + " · " + (call.task || "") + " turn " + (call.turn || ""), call);
  }

  function highlight(index) {
    document.querySelectorAll(".band.hl, tr.hl").forEach(function (b) { b.classList.remove("hl"); });
    const band = document.getElementById("band-" + index);
    const row = document.getElementById("finding-" + index);
    if (row) row.classList.add("hl");
    if (!band) return;
    band.classList.add("hl");
    band.scrollIntoView({ block: "center", inline: "center" });
  }

  document.addEventListener("click", function (e) {
    const target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    const call = target.closest("[data-call]");
    if (call) { select(call); return; }
    const link = target.closest("[data-finding-link]");
    if (link) { e.preventDefault(); highlight(link.getAttribute("data-finding-link")); return; }
    const band = target.closest(".band");
    if (band) {
      const row = document.getElementById("finding-" + band.getAttribute("data-finding"));
      if (row) { highlight(band.getAttribute("data-finding")); row.scrollIntoView({ block: "center" }); }
    }
  });
  document.addEventListener("keydown", function (e) {
    const el = document.activeElement;
    if (e.key === "Escape") panel.hidden = true;
    if (e.key === "Enter" && el && el.hasAttribute("data-call")) select(el);
  });
})();
