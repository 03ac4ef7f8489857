// The admin screen (/admin): sign-in, documents, conversation log, audit — over the admin JSON API.
//
// Everything shown here may come from strangers (document titles, citizens' questions and
// comments), so this script never parses HTML: every element is made with createElement and every
// text is set with textContent. The page's CSP allows no inline script and no eval besides.
// State-changing requests send the session's CSRF token in X-CSRF-Token (from /api/admin/me).
(function () {
  "use strict";

  var csrf = "";
  var docSort = { key: "published_at", order: "desc" };
  var $ = function (id) { return document.getElementById(id); };

  // ---- small DOM helpers (text only) -------------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function button(label, onClick, className) {
    var b = el("button", className || null, label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function when(epoch) {
    if (!epoch) return "";
    var d = new Date(epoch * 1000);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes());
  }
  function table(headers, rows) {
    var t = el("table", "grid");
    var tr = el("tr");
    headers.forEach(function (h) { tr.appendChild(el("th", null, h)); });
    t.appendChild(el("thead")).appendChild(tr);
    var body = t.appendChild(el("tbody"));
    rows.forEach(function (cells) {
      var row = body.appendChild(el("tr"));
      cells.forEach(function (c) {
        var td = row.appendChild(el("td"));
        if (c instanceof Node) td.appendChild(c); else td.textContent = c == null ? "" : String(c);
      });
    });
    if (!rows.length) body.appendChild(el("tr")).appendChild(el("td", "empty", "暂无 / none")).colSpan = headers.length;
    return t;
  }
  function notice(message, ok) {
    var n = $("notice");
    n.textContent = message || "";
    n.hidden = !message;
    n.className = "notice" + (ok ? " ok" : "");
  }

  // ---- the API --------------------------------------------------------------------------------
  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (method !== "GET") options.headers["X-CSRF-Token"] = csrf;
    if (body instanceof FormData) options.body = body;
    else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 401 && path !== "/api/admin/login") { showLogin(); }
        if (!response.ok) {
          var message = (data.error && data.error.message) || ("HTTP " + response.status);
          throw new Error(message);
        }
        return data;
      });
    });
  }
  function failed(err) { notice(err.message || String(err)); }

  // ---- sign-in ---------------------------------------------------------------------------------
  function showLogin() {
    csrf = "";
    ["tabs", "who", "documents", "log", "audit"].forEach(function (id) { $(id).hidden = true; });
    $("login").hidden = false;
  }
  function signedIn(me) {
    csrf = me.csrf_token || "";
    $("login").hidden = true;
    $("tabs").hidden = false;
    $("who").hidden = false;
    $("who-name").textContent = me.name;
    show(location.hash.slice(1) || "documents");
  }
  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var fields = event.target.elements;  // not form.name: that is the form's own name attribute
    api("POST", "/api/admin/login", { name: fields.namedItem("name").value, password: fields.namedItem("password").value })
      .then(function (me) { fields.namedItem("password").value = ""; notice(""); signedIn(me); }, failed);
  });
  $("logout").addEventListener("click", function () {
    api("POST", "/api/admin/logout").then(showLogin, failed);
  });

  // ---- tabs ----------------------------------------------------------------------------------
  var loaders = { documents: loadDocuments, log: loadLog, audit: loadAudit };
  function show(tab) {
    if (!loaders[tab]) tab = "documents";
    Object.keys(loaders).forEach(function (name) { $(name).hidden = name !== tab; });
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (b) {
      b.setAttribute("aria-current", b.getAttribute("data-tab") === tab ? "page" : "false");
    });
    if (location.hash !== "#" + tab) history.replaceState(null, "", "#" + tab);
    loaders[tab]();
  }
  Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (b) {
    b.addEventListener("click", function () { notice(""); show(b.getAttribute("data-tab")); });
  });

  // ---- documents -------------------------------------------------------------------------------
  var searchTimer = null;
  $("doc-search").addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(loadDocuments, 250);
  });
  Array.prototype.forEach.call(document.querySelectorAll("#doc-table th[data-sort]"), function (th) {
    th.tabIndex = 0;
    var sortBy = function () {
      var key = th.getAttribute("data-sort");
      docSort = { key: key, order: docSort.key === key && docSort.order === "asc" ? "desc" : "asc" };
      loadDocuments();
    };
    th.addEventListener("click", sortBy);
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") sortBy(); });
  });
  $("reindex").addEventListener("click", function () {
    notice("正在重建索引…… / Re-indexing…", true);
    api("POST", "/api/admin/reindex").then(function (r) {
      notice("已重建索引：" + r.detail.documents + " 份文档。/ Re-indexed.", true);
      loadDocuments();
    }, failed);
  });
  $("upload-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var files = $("files").files;
    if (!files.length) return;
    var data = new FormData();
    Array.prototype.forEach.call(files, function (f) { data.append("files", f, f.name); });
    data.append("publish", $("publish-now").checked ? "true" : "false");
    notice("正在上传和解析…… / Uploading and parsing…", true);
    api("POST", "/api/admin/documents", data).then(function (result) {
      event.target.reset();
      notice("已上传 " + result.uploads.length + " 个文件。/ Uploaded.", true);
      showPreviews(result.uploads);
      loadDocuments();
    }, failed);
  });

  function loadDocuments() {
    var q = $("doc-search").value.trim();
    var query = "?sort=" + docSort.key + "&order=" + docSort.order + (q ? "&q=" + encodeURIComponent(q) : "");
    Array.prototype.forEach.call(document.querySelectorAll("#doc-table th[data-sort]"), function (th) {
      var key = th.getAttribute("data-sort");
      th.setAttribute("aria-sort", key === docSort.key ? (docSort.order === "asc" ? "ascending" : "descending") : "none");
    });
    api("GET", "/api/admin/documents" + query).then(function (data) {
      var body = clear(document.querySelector("#doc-table tbody"));
      data.documents.forEach(function (d) { body.appendChild(documentRow(d)); });
      if (!data.documents.length) body.appendChild(el("tr")).appendChild(el("td", "empty", "没有文档 / no documents")).colSpan = 10;
    }, failed);
  }

  function documentRow(d) {
    var tr = el("tr");
    tr.setAttribute("data-doc-id", d.doc_id);
    var title = el("td", "title");
    title.appendChild(el("div", null, d.title || d.doc_id));
    if (d.filename) title.appendChild(el("div", "sub", d.filename));
    tr.appendChild(title);
    [d.suggestion_no, d.issuer, d.doc_kind, d.date, d.sections].forEach(function (v) { tr.appendChild(el("td", null, v)); });
    tr.appendChild(el("td", "status " + d.status, d.status === "published" ? "已发布" : "草稿"));
    tr.appendChild(el("td", null, d.published_by || d.uploaded_by));
    tr.appendChild(el("td", null, when(d.published_at)));
    var actions = tr.appendChild(el("td", "actions"));
    if (d.upload_id) actions.appendChild(button("预览", function () { openPreview(d.upload_id); }));
    if (d.upload_id && d.status === "draft") actions.appendChild(button("发布", function () { act("publish", d); }, "primary"));
    if (d.upload_id && d.status === "published") actions.appendChild(button("撤回", function () { act("unpublish", d); }));
    actions.appendChild(button("删除", function () { remove(d); }, "danger"));
    return tr;
  }

  function act(action, d) {
    api("POST", "/api/admin/documents/" + encodeURIComponent(d.upload_id) + "/" + action).then(function (u) {
      notice((action === "publish" ? "已发布：" : "已撤回：") + (u.preview.title || u.doc_id), true);
      $("preview").hidden = true;
      loadDocuments();
    }, failed);
  }

  function remove(d) {
    if (!window.confirm("删除“" + (d.title || d.doc_id) + "”？它将从索引中移除。/ Delete it from the index?")) return;
    api("DELETE", "/api/admin/documents/" + encodeURIComponent(d.upload_id || d.doc_id)).then(function () {
      notice("已删除：" + (d.title || d.doc_id), true);
      $("preview").hidden = true;
      loadDocuments();
    }, failed);
  }

  function openPreview(uploadId) {
    api("GET", "/api/admin/documents/" + encodeURIComponent(uploadId)).then(function (u) { showPreviews([u]); }, failed);
  }

  function showPreviews(uploads) {
    var box = clear($("preview"));
    box.hidden = false;
    box.appendChild(el("h2", null, "解析预览 / Parse preview"));
    uploads.forEach(function (u) { box.appendChild(previewOf(u)); });
    box.scrollIntoView({ block: "nearest" });
  }

  function previewOf(u) {
    var p = u.preview || {};
    var part = el("article", "preview");
    part.setAttribute("data-upload-id", u.upload_id);
    part.appendChild(el("h3", null, p.title || u.filename));
    var fields = [["文件 / File", u.filename], ["文档编号 / Doc id", u.doc_id], ["建议编号 / No.", p.suggestion_no],
      ["届次 / Session", p.session], ["提出人 / Proposer", p.proposer], ["发文单位 / Issuer", p.issuer],
      ["类型 / Kind", p.doc_kind], ["日期 / Date", p.date], ["状态 / Status", u.status === "published" ? "已发布" : "草稿"]];
    var dl = part.appendChild(el("dl", "fields"));
    fields.forEach(function (f) {
      if (!f[1]) return;
      dl.appendChild(el("dt", null, f[0]));
      dl.appendChild(el("dd", null, f[1]));
    });
    var warnings = p.warnings || [];
    if (warnings.length) {
      var ul = part.appendChild(el("ul", "warnings"));
      warnings.forEach(function (w) { ul.appendChild(el("li", null, "⚠ " + w.message)); });
    }
    part.appendChild(el("h4", null, "章节结构（引用时的名称）/ Sections as cited"));
    part.appendChild(tree(p.sections || []));
    if (u.status === "draft") {
      part.appendChild(button("发布 / Publish", function () { act("publish", u); }, "primary"));
      part.appendChild(button("删除 / Delete", function () { remove({ upload_id: u.upload_id, title: p.title, doc_id: u.doc_id }); }, "danger"));
    }
    return part;
  }

  function tree(sections) {
    var ul = el("ul", "tree");
    sections.forEach(function (s) {
      var li = ul.appendChild(el("li"));
      li.appendChild(el("span", "label", s.path || s.label));
      if (s.heading && s.heading !== s.path) li.appendChild(el("span", "heading", " " + s.heading));
      li.appendChild(el("span", "chars", " · " + s.chars + " 字"));
      if (s.children && s.children.length) li.appendChild(tree(s.children));
    });
    return ul;
  }

  // ---- log -----------------------------------------------------------------------------------
  $("days").addEventListener("change", loadLog);

  function loadLog() {
    api("GET", "/api/admin/stats?days=" + $("days").value).then(function (s) {
      var figures = clear($("figures"));
      [["提问 / Questions", s.questions], ["未能回答 / Refused", s.refused],
        ["拒答率 / Refusal rate", (s.refusal_rate * 100).toFixed(1) + "%"],
        ["差评及说明 / Marked unhelpful", s.down_with_comments.length]].forEach(function (f) {
        var box = figures.appendChild(el("div", "figure"));
        box.appendChild(el("div", "value", f[1]));
        box.appendChild(el("div", "name", f[0]));
      });
      chart(clear($("chart")), everyDay(s.per_day, s.days));
      clear($("gaps")).appendChild(table(["次数 / Count", "例句 / Example", "相近的问法 / Similar wording"],
        s.refused_groups.map(function (g) { return [g.count, g.example, g.questions.slice(1).join(" ｜ ")]; })));
      clear($("down")).appendChild(table(["时间 / When", "问题 / Question", "回答 / Answer", "说明 / Comment"],
        s.down_with_comments.map(function (d) { return [when(d.at), d.question, d.answer, d.comment]; })));
      clear($("slowest")).appendChild(table(["耗时 / ms", "问题 / Question", "渠道 / Channel", "时间 / When"],
        s.slowest.map(function (d) { return [Math.round(d.latency_ms), d.question, d.channel, when(d.at)]; })));
    }, failed);
    api("GET", "/api/admin/log?limit=50").then(function (page) {
      clear($("recent")).appendChild(table(["时间 / When", "问题 / Question", "结果 / Result", "渠道 / Channel", "评价 / Feedback"],
        page.rows.map(function (r) {
          var fb = r.feedback.map(function (f) { return (f.rating === "up" ? "有帮助" : "没有帮助") + (f.comment ? " " + f.comment : ""); });
          return [when(r.at), r.question, r.refused ? "未能回答" : "已回答", r.channel, fb.join("；")];
        })));
    }, failed);
  }

  // Every day of the period (UTC, as the server counts), days without questions as zeros.
  function everyDay(perDay, days) {
    var known = {};
    perDay.forEach(function (d) { known[d.day] = d; });
    var out = [], today = Date.now();
    for (var i = days - 1; i >= 0; i--) {
      var day = new Date(today - i * 86400000).toISOString().slice(0, 10);
      out.push(known[day] || { day: day, questions: 0, refused: 0 });
    }
    return out;
  }

  // Questions per day as an SVG bar chart (answered and refused stacked), drawn with DOM calls.
  function chart(box, perDay) {
    if (!perDay.some(function (d) { return d.questions; })) {
      box.appendChild(el("p", "empty", "这段时间还没有提问。/ No questions yet."));
      return;
    }
    var NS = "http://www.w3.org/2000/svg";
    var W = 720, H = 150, pad = 28, max = Math.max.apply(null, perDay.map(function (d) { return d.questions; }));
    var bw = Math.max(4, Math.min(40, (W - pad - 24) / perDay.length - 4));  // room for the last date
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + (H + 24));
    svg.setAttribute("role", "img");
    var node = function (name, attrs, text) {
      var n = document.createElementNS(NS, name);
      Object.keys(attrs).forEach(function (k) { n.setAttribute(k, attrs[k]); });
      if (text != null) n.textContent = String(text);
      return svg.appendChild(n);
    };
    node("text", { x: 0, y: 12, "class": "axis" }, max);
    node("line", { x1: pad, y1: H, x2: W, y2: H, "class": "base" });
    perDay.forEach(function (d, i) {
      var x = pad + 4 + i * (bw + 4), h = (d.questions / max) * (H - 20), r = ((d.refused || 0) / max) * (H - 20);
      node("rect", { x: x, y: H - h, width: bw, height: h - r, "class": "answered" })
        .appendChild(document.createElementNS(NS, "title")).textContent = d.day + "：" + d.questions + " 问，" + (d.refused || 0) + " 未答";
      if (r > 0) node("rect", { x: x, y: H - r, width: bw, height: r, "class": "refused" });
      if (i % Math.ceil(perDay.length / 10) === 0 || i === perDay.length - 1) node("text", { x: x, y: H + 16, "class": "axis" }, d.day.slice(5));
    });
    box.appendChild(svg);
    var legend = box.appendChild(el("p", "legend"));
    legend.appendChild(el("span", "key answered", "已回答 / answered"));
    legend.appendChild(el("span", "key refused", "未能回答 / refused"));
  }

  // ---- audit ---------------------------------------------------------------------------------
  var ACTIONS = { sign_in: "登录", sign_out: "退出", sign_in_failed: "登录失败", upload: "上传", publish: "发布",
    unpublish: "撤回", "delete": "删除", reindex: "重建索引" };
  function loadAudit() {
    api("GET", "/api/admin/audit?limit=500").then(function (page) {
      clear($("audit-rows")).appendChild(table(["时间 / When", "账户 / Who", "操作 / Action", "对象 / Target", "详情 / Detail"],
        page.entries.map(function (e) { return [when(e.at), e.actor, (ACTIONS[e.action] || "") + " " + e.action, e.target, e.detail]; })));
    }, failed);
  }

  // ---- start -----------------------------------------------------------------------------------
  fetch("/api/admin/me", { credentials: "same-origin" }).then(function (r) {
    return r.ok ? r.json().then(signedIn) : showLogin();
  }, showLogin);
})();
