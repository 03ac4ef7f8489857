/*!
 * 建议提案答复智能问答 · embeddable widget (plain JavaScript, no build step).
 *
 *   <script src="https://HOST/widget.js" data-lang="zh" data-title="智能问答" async></script>
 *
 * Adds a floating button and a chat panel inside a Shadow DOM. Answers stream from
 * HOST/api/chat/stream (the API base is derived from this script's own src). The limits it trims
 * to (question length, history policy, body size) and its example questions are the server's, read from
 * HOST/api/config.
 * Rules kept here:
 *  - every piece of answer or document text is inserted with textContent / createTextNode;
 *    this file never parses HTML;
 *  - no request goes anywhere but HOST, and none carries cookies;
 *  - styles live in a constructable stylesheet (not subject to the host page's CSP) and the
 *    host element is reset with `all: initial`, so styles leak neither in nor out.
 */
(function () {
  "use strict";

  if (window.__govReplyWidget) return;
  var script = document.currentScript;
  if (!script) {
    var candidates = document.querySelectorAll('script[src*="widget.js"]');
    script = candidates[candidates.length - 1];
  }
  if (!script || !window.fetch || !document.body || !document.body.attachShadow) return;
  window.__govReplyWidget = true;

  var API = (script.getAttribute("data-api") ||
    new URL(script.src, location.href).href.replace(/\/widget\.js(?:[?#].*)?$/, "")).replace(/\/+$/, "");
  var STORE_KEY = "gov-reply-widget:" + API;
  var MAX_TURNS_KEPT = 30;        // shown after a reload (sessionStorage); what is sent follows the server

  var TEXT = {
    zh: {
      title: "建议提案答复智能问答",
      subtitle: "依据政府正式答复原文作答，逐句标注出处",
      launcher: "问答",
      open: "打开智能问答",
      close: "关闭",
      closePanel: "关闭智能问答",
      clear: "清空",
      clearLabel: "清空对话",
      other: "EN",
      otherLabel: "Switch to English",
      placeholder: "请输入您的问题…",
      inputLabel: "您的问题（Enter 发送，Shift+Enter 换行）",
      send: "发送",
      welcome: "您好！我可以根据已公开的建议提案答复原文回答问题，答案中的 [1]、[2] 等标记可点击查看原文出处。您可以试试：",
      you: "您的问题",
      bot: "智能问答",
      searching: "正在查找答复原文……",
      writing: "正在整理答案……",
      refusal: "未找到相关内容",
      sources: "出处",
      source: "出处",
      suggestion: "建议编号",
      section: "段落",
      whole: "全文概要",
      ready: "回答完成",
      notAllowed: "本网站未获授权使用智能问答服务，无法提问。请联系网站管理员将本网站加入允许列表。",
      network: "网络连接失败，请检查网络后重试。",
      rate: "提问太频繁了，请 {s} 秒后再试。",
      unavailable: "智能问答服务正在准备或维护中，请稍后再试。",
      server: "抱歉，系统暂时出现问题，请稍后再试。",
      invalid: "这个问题无法处理，请修改后再试。",
      tooLong: "问题太长了：最多 {n} 个字符。",
      disclaimer: "答案摘自正式答复原文，仅供参考，以正式公开的文件为准。",
      helpful: "有帮助",
      unhelpful: "没有帮助",
      comment: "补充说明（可选），再点 👍 或 👎",
      thanks: "感谢您的反馈！",
      feedbackFailed: "反馈未能提交，请稍后再试。"
    },
    en: {
      title: "Reply Assistant",
      subtitle: "Answers from the official replies, with a source for every sentence",
      launcher: "Ask",
      open: "Open the assistant",
      close: "Close",
      closePanel: "Close the assistant",
      clear: "Clear",
      clearLabel: "Clear the conversation",
      other: "中文",
      otherLabel: "切换到中文",
      placeholder: "Type your question…",
      inputLabel: "Your question (Enter to send, Shift+Enter for a new line)",
      send: "Send",
      welcome: "Hello! I answer questions from the published replies to deputies' suggestions. Click a marker such as [1] to read its source. Try:",
      you: "Your question",
      bot: "Assistant",
      searching: "Searching the replies…",
      writing: "Writing the answer…",
      refusal: "Not covered by the replies",
      sources: "Sources",
      source: "Source",
      suggestion: "Suggestion",
      section: "Section",
      whole: "Summary",
      ready: "Answer ready",
      notAllowed: "This site is not allowed to use the assistant service, so questions cannot be sent. Please ask the site administrator to add this site to the allowlist.",
      network: "Could not reach the service. Please check your connection and try again.",
      rate: "Too many questions — please try again in {s} s.",
      unavailable: "The assistant is being prepared or maintained. Please try again later.",
      server: "Sorry, something went wrong. Please try again later.",
      invalid: "This question cannot be handled; please rephrase it.",
      tooLong: "The question is too long: at most {n} characters.",
      disclaimer: "Answers quote the official replies for reference; the published documents prevail.",
      helpful: "Helpful",
      unhelpful: "Not helpful",
      comment: "Comment (optional), then 👍 or 👎",
      thanks: "Thank you for your feedback!",
      feedbackFailed: "The feedback could not be sent; please try later."
    }
  };

  var CSS = [
    ":host{all:initial}",
    "*,*::before,*::after{box-sizing:border-box}",
    ".root{font-family:'WenQuanYi Micro Hei','Noto Sans CJK SC','Microsoft YaHei','PingFang SC','Source Han Sans SC',system-ui,-apple-system,'Segoe UI',sans-serif;font-size:15px;line-height:1.6;color:#1f2328;-webkit-text-size-adjust:100%;text-align:left}",
    "button{font:inherit;color:inherit;cursor:pointer}",
    "button:focus-visible{outline:3px solid #f0b429;outline-offset:2px}",
    ".launcher{position:fixed;right:24px;bottom:24px;display:flex;align-items:center;gap:8px;height:54px;padding:0 22px 0 18px;border:0;border-radius:27px;background:#b5121b;color:#fff;font-size:17px;font-weight:700;letter-spacing:1px;box-shadow:0 8px 24px rgba(120,10,16,.35)}",
    ".launcher:hover{background:#9b0e16}",
    ".launcher svg{width:24px;height:24px;fill:currentColor;flex:none}",
    ".panel{position:fixed;right:24px;bottom:92px;width:410px;height:min(660px,calc(100vh - 116px));display:flex;flex-direction:column;background:#fff;border-radius:14px;overflow:hidden;box-shadow:0 18px 48px rgba(0,0,0,.3);border:1px solid #d9dbe0}",
    ".panel[hidden]{display:none}",
    ".head{display:flex;align-items:flex-start;gap:10px;padding:14px 12px 12px 16px;background:linear-gradient(180deg,#c8161d,#a5101a);color:#fff}",
    ".head-text{flex:1;min-width:0}",
    ".title{margin:0;font-size:17px;font-weight:700;line-height:1.35}",
    ".subtitle{margin:2px 0 0;font-size:12px;opacity:.92}",
    ".tools{display:flex;gap:6px;flex:none}",
    ".tool{height:30px;min-width:30px;padding:0 9px;border:1px solid rgba(255,255,255,.55);border-radius:6px;background:rgba(255,255,255,.1);color:#fff;font-size:13px;line-height:28px}",
    ".tool:hover{background:rgba(255,255,255,.22)}",
    ".tool svg{width:14px;height:14px;fill:currentColor;vertical-align:-2px}",
    ".notice{margin:0;padding:9px 16px;font-size:13px;background:#fdf0f0;color:#8e0c13;border-bottom:1px solid #f2c4c4}",
    ".notice[hidden]{display:none}",
    ".log{flex:1;overflow-y:auto;padding:14px 14px 6px;background:#f5f6f8;overscroll-behavior:contain}",
    ".msg{display:flex;margin:0 0 12px}",
    ".msg.user{justify-content:flex-end}",
    ".bubble{max-width:90%;padding:10px 12px;border-radius:12px;white-space:pre-wrap;overflow-wrap:anywhere}",
    ".user .bubble{background:#b5121b;color:#fff;border-bottom-right-radius:4px}",
    ".bot .bubble{background:#fff;border:1px solid #e1e4e8;border-bottom-left-radius:4px}",
    ".bot.refusal .bubble{background:#fffaf0;border-color:#efd8a2}",
    ".bot.error .bubble{background:#fdf0f0;border-color:#f2c4c4;color:#8e0c13}",
    ".badge{display:inline-block;margin:0 0 6px;padding:0 8px;border-radius:4px;font-size:12px;background:#fbe8c4;color:#7a4d00}",
    ".status{color:#57606a;font-size:13px}",
    ".dots{display:inline-flex;gap:4px;margin-left:6px;vertical-align:middle}",
    ".dots i{width:6px;height:6px;border-radius:50%;background:#b5121b;opacity:.3;animation:blink 1.2s infinite}",
    ".dots i:nth-child(2){animation-delay:.2s}.dots i:nth-child(3){animation-delay:.4s}",
    "@keyframes blink{50%{opacity:1}}",
    ".cite{display:inline-block;margin:0 1px;padding:0 4px;border:1px solid #efc2c5;border-radius:4px;background:#fbeaea;color:#a5101a;font-size:12px;font-weight:700;line-height:18px;vertical-align:1px}",
    ".cite:hover,.cite[aria-expanded=true]{background:#b5121b;border-color:#b5121b;color:#fff}",
    ".sources{margin-top:8px;padding-top:6px;border-top:1px dashed #e1e4e8;white-space:normal}",
    ".sources-label{font-size:12px;color:#57606a;margin-right:4px}",
    ".src-chip{margin:3px 4px 0 0;padding:1px 8px;border:1px solid #d0d7de;border-radius:12px;background:#fff;font-size:12px;color:#24292f}",
    ".src-chip:hover,.src-chip[aria-expanded=true]{border-color:#b5121b;color:#a5101a}",
    ".card{margin-top:8px;border:1px solid #e1e4e8;border-left:3px solid #b5121b;border-radius:8px;background:#fafbfc}",
    ".card[hidden]{display:none}",
    ".card-head{padding:8px 10px 2px}",
    ".card-title{display:block;font-size:13px;font-weight:700;color:#1f2328}",
    ".card-meta{display:block;font-size:12px;color:#57606a}",
    ".card-text{margin:0;padding:4px 10px 10px;font-size:13px;line-height:1.7;white-space:pre-wrap;max-height:240px;overflow:auto;color:#30363d}",
    "mark{background:#ffe28a;color:inherit;border-radius:2px;padding:0 1px}",
    ".welcome .bubble{white-space:normal}",
    ".chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:10px}",
    ".chip{padding:5px 12px;border:1px solid #d0d7de;border-radius:16px;background:#fff;font-size:13px;text-align:left}",
    ".chip:hover{border-color:#b5121b;color:#a5101a}",
    ".chip:disabled,.send:disabled{opacity:.55;cursor:default}",
    ".form{display:flex;gap:8px;padding:10px 12px 6px;border-top:1px solid #e1e4e8;background:#fff}",
    "textarea{flex:1;min-height:44px;max-height:120px;resize:none;padding:10px 12px;border:1px solid #c9ced6;border-radius:8px;font:inherit;font-size:15px;color:#1f2328;background:#fff}",
    "textarea:focus{outline:none;border-color:#b5121b;box-shadow:0 0 0 3px rgba(181,18,27,.15)}",
    "textarea:disabled{background:#f3f4f6;cursor:not-allowed}",
    ".send{flex:none;padding:0 18px;border:0;border-radius:8px;background:#b5121b;color:#fff;font-weight:700}",
    ".send:hover:not(:disabled){background:#9b0e16}",
    ".foot{margin:0;padding:0 12px 8px;background:#fff;font-size:11px;color:#6e7781}",
    ".rate{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-top:8px;padding-top:6px;border-top:1px dashed #e1e4e8;white-space:normal}",
    ".rate-btn{padding:0 9px;border:1px solid #d0d7de;border-radius:6px;background:#fff;font-size:14px;line-height:24px}",
    ".rate-btn:hover:not(:disabled),.rate-btn[aria-pressed=true]{border-color:#b5121b;background:#fbeaea}",
    ".rate-btn:disabled{cursor:default}",
    ".rate-comment{flex:1 1 120px;min-width:0;padding:2px 8px;border:1px solid #d0d7de;border-radius:6px;font:inherit;font-size:12px}",
    ".rate-status{flex-basis:100%;font-size:12px;color:#1a7f37}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}",
    "@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0;border:0}.root.is-open .launcher{display:none}.launcher{right:14px;bottom:14px}.bubble{max-width:94%}}",
    "@media (prefers-reduced-motion:reduce){.dots i{animation:none;opacity:.7}}"
  ].join("\n");

  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0-.01zm5 0a1.5 1.5 0 1 0 0-.01zm5 0a1.5 1.5 0 1 0 0-.01z";
  var ICON_CLOSE = "M5.3 4 4 5.3 10.7 12 4 18.7 5.3 20l6.7-6.7 6.7 6.7 1.3-1.3-6.7-6.7L20 5.3 18.7 4 12 10.7z";

  // ---------------------------------------------------------------------------------------
  // State (the conversation survives page navigation within the tab, via sessionStorage)
  // ---------------------------------------------------------------------------------------

  var stored = load();
  var state = {
    lang: stored.lang || (script.getAttribute("data-lang") === "en" ? "en" : "zh"),
    turns: Array.isArray(stored.turns) ? stored.turns.filter(function (t) { return t && t.kind !== "pending"; }) : [],
    busy: false,
    blocked: false,
    checked: false,
    controller: null
  };
  var customTitle = script.getAttribute("data-title");

  function load() {
    try { return JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}") || {}; } catch (e) { return {}; }
  }

  function save() {
    var turns = state.turns.filter(function (t) { return t.kind !== "pending"; }).slice(-MAX_TURNS_KEPT);
    try { sessionStorage.setItem(STORE_KEY, JSON.stringify({ lang: state.lang, turns: turns })); } catch (e) { /* storage off or full */ }
  }

  function t(key) { return TEXT[state.lang][key]; }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return values[k] == null ? "" : String(values[k]); });
  }

  // ---------------------------------------------------------------------------------------
  // DOM helpers: elements and text nodes only
  // ---------------------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function icon(path) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  }

  function clearNode(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // ---------------------------------------------------------------------------------------
  // Build the widget
  // ---------------------------------------------------------------------------------------

  var host = document.createElement("gov-reply-assistant");
  ["all:initial", "position:fixed", "z-index:2147483647", "right:0", "bottom:0", "width:0", "height:0",
    "display:block", "overflow:visible"].forEach(function (rule) {
    var i = rule.indexOf(":");
    host.style.setProperty(rule.slice(0, i), rule.slice(i + 1), "important");
  });
  var shadow = host.attachShadow({ mode: "open" });
  if ("adoptedStyleSheets" in shadow && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    shadow.appendChild(el("style", null, CSS));
  }

  var root = el("div", "root");
  var launcher = el("button", "launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-haspopup", "dialog");
  launcher.setAttribute("aria-expanded", "false");
  launcher.setAttribute("aria-controls", "grw-panel");
  var launcherIcon = icon(ICON_CHAT);
  var launcherText = el("span");
  launcher.appendChild(launcherIcon);
  launcher.appendChild(launcherText);

  var panel = el("div", "panel");
  panel.id = "grw-panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-modal", "true");
  panel.setAttribute("aria-labelledby", "grw-title");

  var head = el("div", "head");
  var headText = el("div", "head-text");
  var title = el("h2", "title");
  title.id = "grw-title";
  var subtitle = el("p", "subtitle");
  headText.appendChild(title);
  headText.appendChild(subtitle);
  var tools = el("div", "tools");
  var langButton = el("button", "tool lang");
  langButton.type = "button";
  var clearButton = el("button", "tool clear");
  clearButton.type = "button";
  var closeButton = el("button", "tool close");
  closeButton.type = "button";
  closeButton.appendChild(icon(ICON_CLOSE));
  tools.appendChild(langButton);
  tools.appendChild(clearButton);
  tools.appendChild(closeButton);
  head.appendChild(headText);
  head.appendChild(tools);

  var notice = el("p", "notice");
  notice.setAttribute("role", "alert");
  notice.hidden = true;

  var log = el("div", "log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  log.setAttribute("aria-relevant", "additions");
  log.tabIndex = -1;

  var form = el("form", "form");
  form.setAttribute("novalidate", "");
  var input = el("textarea", "input");
  input.rows = 1;
  var sendButton = el("button", "send");
  sendButton.type = "submit";
  form.appendChild(input);
  form.appendChild(sendButton);
  var foot = el("p", "foot");
  var live = el("div", "sr");
  live.setAttribute("role", "status");

  panel.appendChild(head);
  panel.appendChild(notice);
  panel.appendChild(log);
  panel.appendChild(form);
  panel.appendChild(foot);
  panel.appendChild(live);
  root.appendChild(panel);
  root.appendChild(launcher);
  shadow.appendChild(root);

  // ---------------------------------------------------------------------------------------
  // Rendering
  // ---------------------------------------------------------------------------------------

  function renderChrome() {
    var open = !panel.hidden;
    title.textContent = customTitle || t("title");
    subtitle.textContent = t("subtitle");
    launcherText.textContent = t("launcher");
    launcher.setAttribute("aria-label", open ? t("closePanel") : t("open"));
    langButton.textContent = t("other");
    langButton.setAttribute("aria-label", t("otherLabel"));
    langButton.setAttribute("lang", state.lang === "zh" ? "en" : "zh");
    clearButton.textContent = t("clear");
    clearButton.setAttribute("aria-label", t("clearLabel"));
    closeButton.setAttribute("aria-label", t("close"));
    closeButton.title = t("close");
    input.placeholder = t("placeholder");
    input.setAttribute("aria-label", t("inputLabel"));
    sendButton.textContent = t("send");
    foot.textContent = t("disclaimer");
    panel.setAttribute("lang", state.lang === "zh" ? "zh-CN" : "en");
    updateControls();
  }

  function updateControls() {
    var disabled = state.busy || state.blocked;
    sendButton.disabled = disabled;
    input.disabled = state.blocked;
    var chips = log.querySelectorAll(".chip");
    for (var i = 0; i < chips.length; i++) chips[i].disabled = disabled;
  }

  function showNotice(message) {
    notice.textContent = message || "";
    notice.hidden = !message;
  }

  function renderLog() {
    clearNode(log);
    if (!state.turns.length) log.appendChild(renderWelcome());
    state.turns.forEach(function (turn, index) {
      log.appendChild(renderQuestion(turn));
      log.appendChild(renderReply(turn, index));
    });
    updateControls();
    scrollToEnd();
  }

  function renderWelcome() {
    var msg = el("div", "msg bot welcome");
    var bubble = el("div", "bubble");
    bubble.appendChild(el("div", null, t("welcome")));
    var chips = el("div", "chips");
    exampleQuestions().forEach(function (q) {
      var chip = el("button", "chip", q);
      chip.type = "button";
      chip.addEventListener("click", function () { submit(q); });
      chips.appendChild(chip);
    });
    bubble.appendChild(chips);
    msg.appendChild(bubble);
    return msg;
  }

  // The corpus's example questions in the widget's language, from the server (GET /api/config).
  function exampleQuestions() {
    var zh = state.lang === "zh";
    return (limits && limits.examples || []).filter(function (q) { return /[\u3400-\u9fff]/.test(q) === zh; });
  }

  function renderQuestion(turn) {
    var msg = el("div", "msg user");
    var bubble = el("div", "bubble", turn.q);
    bubble.setAttribute("aria-label", t("you"));
    msg.appendChild(bubble);
    return msg;
  }

  function renderReply(turn, index) {
    var msg = el("div", "msg bot " + turn.kind);
    msg.setAttribute("data-turn", String(index));
    var bubble = el("div", "bubble");
    msg.appendChild(bubble);
    fillReply(bubble, turn, index);
    return msg;
  }

  function fillReply(bubble, turn, index) {
    clearNode(bubble);
    bubble.parentNode.className = "msg bot " + turn.kind;
    if (turn.kind === "pending" && !turn.a) {
      var status = el("span", "status", turn.status || t("searching"));
      bubble.appendChild(status);
      bubble.appendChild(dots());
      return;
    }
    if (turn.kind === "refusal") bubble.appendChild(el("div", "badge", t("refusal")));
    var body = el("div", "answer");
    appendAnswerText(body, turn.a || "", turn.citations || [], index);
    bubble.appendChild(body);
    if (turn.kind === "pending") bubble.appendChild(dots());
    if (turn.kind === "answer" && turn.citations && turn.citations.length) {
      bubble.appendChild(renderSources(turn.citations, index));
    }
    if (turn.id && (turn.kind === "answer" || turn.kind === "refusal")) bubble.appendChild(renderRating(turn));
  }

  // 👍/👎 with an optional comment, sent once to HOST/api/feedback (no cookies, like every request).
  function renderRating(turn) {
    var box = el("div", "rate");
    var comment = el("input", "rate-comment");
    comment.type = "text";
    comment.maxLength = 500;
    comment.placeholder = t("comment");
    comment.setAttribute("aria-label", t("comment"));
    var status = el("span", "rate-status");
    status.setAttribute("role", "status");
    var buttons = [["up", "👍", "helpful"], ["down", "👎", "unhelpful"]].map(function (spec) {
      var b = el("button", "rate-btn", spec[1] + " " + t(spec[2]));
      b.type = "button";
      b.setAttribute("data-rating", spec[0]);
      b.setAttribute("aria-label", t(spec[2]));
      b.title = t(spec[2]);
      b.addEventListener("click", function () { rate(turn, spec[0], comment.value.trim(), box); });
      box.appendChild(b);
      return b;
    });
    box.appendChild(comment);
    box.appendChild(status);
    if (turn.rated) {
      buttons.forEach(function (b) {
        b.disabled = true;
        if (b.getAttribute("data-rating") === turn.rated) b.setAttribute("aria-pressed", "true");
      });
      comment.disabled = true;
      comment.value = turn.comment || "";
      status.textContent = t("thanks");
    }
    return box;
  }

  function rate(turn, rating, comment, box) {
    if (turn.rated) return;
    fetch(API + "/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ answer_id: turn.id, rating: rating, comment: comment }),
      credentials: "omit",
      cache: "no-store"
    }).then(function (response) {
      if (!response.ok) throw response;
      turn.rated = rating;
      turn.comment = comment;
      save();
      box.parentNode.replaceChild(renderRating(turn), box);
    }).catch(function () {
      box.querySelector(".rate-status").textContent = t("feedbackFailed");
    });
  }

  function dots() {
    var d = el("span", "dots");
    d.setAttribute("aria-hidden", "true");
    d.appendChild(el("i"));
    d.appendChild(el("i"));
    d.appendChild(el("i"));
    return d;
  }

  // "[n]" markers become buttons that open source n; everything else is a text node.
  function appendAnswerText(parent, text, citations, index) {
    var known = {};
    citations.forEach(function (c) { known[c.marker] = c; });
    var pattern = /\[(\d{1,3})\]/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text))) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var marker = parseInt(match[1], 10);
      if (known[marker] && index != null) {
        parent.appendChild(citeButton(marker, index, "cite", "[" + marker + "]"));
      } else {
        parent.appendChild(document.createTextNode(match[0]));
      }
      last = pattern.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function cardId(index, marker) { return "grw-src-" + index + "-" + marker; }

  function citeButton(marker, index, className, label) {
    var button = el("button", className, label);
    button.type = "button";
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", cardId(index, marker));
    button.setAttribute("aria-label", t("source") + " " + marker);
    button.setAttribute("data-marker", String(marker));
    button.addEventListener("click", function () { toggleSource(index, marker); });
    return button;
  }

  function renderSources(citations, index) {
    var box = el("div", "sources");
    box.appendChild(el("span", "sources-label", t("sources") + ":"));
    citations.forEach(function (c) {
      box.appendChild(citeButton(c.marker, index, "src-chip", "[" + c.marker + "] " + (c.section || t("whole"))));
    });
    citations.forEach(function (c) { box.appendChild(renderCard(c, index)); });
    return box;
  }

  function renderCard(c, index) {
    var card = el("div", "card");
    card.id = cardId(index, c.marker);
    card.hidden = true;
    card.setAttribute("data-marker", String(c.marker));
    var headBox = el("div", "card-head");
    headBox.appendChild(el("span", "card-title", "[" + c.marker + "] " + (c.doc_title || "")));
    var meta = [];
    if (c.suggestion_no) meta.push(t("suggestion") + " " + c.suggestion_no);
    meta.push(t("section") + " " + (c.section || t("whole")));
    headBox.appendChild(el("span", "card-meta", meta.join(" · ")));
    card.appendChild(headBox);
    var text = el("p", "card-text");
    appendHighlighted(text, c.text || "", c.highlights || []);
    card.appendChild(text);
    return card;
  }

  // Highlights are offsets in code points (they come from Python); slice an array of code
  // points so characters outside the BMP do not shift them.
  function appendHighlighted(parent, text, spans) {
    var chars = Array.from(text);
    var merged = spans
      .map(function (s) { return [Math.max(0, s[0] | 0), Math.min(chars.length, s[1] | 0)]; })
      .filter(function (s) { return s[1] > s[0]; })
      .sort(function (a, b) { return a[0] - b[0]; })
      .reduce(function (out, s) {
        var prev = out[out.length - 1];
        if (prev && s[0] <= prev[1]) prev[1] = Math.max(prev[1], s[1]); else out.push(s);
        return out;
      }, []);
    var pos = 0;
    merged.forEach(function (s) {
      if (s[0] > pos) parent.appendChild(document.createTextNode(chars.slice(pos, s[0]).join("")));
      parent.appendChild(el("mark", null, chars.slice(s[0], s[1]).join("")));
      pos = s[1];
    });
    if (pos < chars.length) parent.appendChild(document.createTextNode(chars.slice(pos).join("")));
  }

  function toggleSource(index, marker) {
    var card = shadow.getElementById(cardId(index, marker));
    if (!card) return;
    card.hidden = !card.hidden;
    var buttons = log.querySelectorAll('[aria-controls="' + cardId(index, marker) + '"]');
    for (var i = 0; i < buttons.length; i++) buttons[i].setAttribute("aria-expanded", String(!card.hidden));
    if (!card.hidden && card.scrollIntoView) card.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  // ---------------------------------------------------------------------------------------
  // Talking to the API
  // ---------------------------------------------------------------------------------------

  // Server messages are "中文 / English"; show the half in the interface language.
  function localized(message) {
    if (!message) return "";
    var cut = message.indexOf(" / ");
    if (cut < 0) return message;
    return state.lang === "zh" ? message.slice(0, cut) : message.slice(cut + 3);
  }

  // A failed fetch cannot tell a CORS refusal from a network error. A no-cors request can:
  // it succeeds (opaquely) when the server is reachable, so the refusal was about this origin.
  function diagnose() {
    return fetch(API + "/healthz", { mode: "no-cors", cache: "no-store", credentials: "omit" })
      .then(function () { return "notAllowed"; }, function () { return "network"; });
  }

  function explainResponse(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      var error = (body && body.error) || {};
      if (response.status === 429) {
        var wait = parseInt(response.headers.get("Retry-After") || error.retry_after || "30", 10);
        return fill(t("rate"), { s: wait });
      }
      if (response.status === 503) return t("unavailable");
      if (response.status === 403 && error.code === "origin_not_allowed") return t("notAllowed");
      if (response.status === 422 || response.status === 413) {
        if (error.message) return localized(error.message);
        return error.limit ? fill(t("tooLong"), { n: error.limit }) : t("invalid");
      }
      return t("server");
    });
  }

  function checkService() {
    if (state.checked) return;
    state.checked = true;
    fetch(API + "/readyz", { cache: "no-store", credentials: "omit" }).then(function (response) {
      if (response.status === 503) showNotice(t("unavailable"));
    }, function () {
      return diagnose().then(function (reason) {
        if (reason === "notAllowed") block();
        else showNotice(t("network"));
      });
    });
  }

  function block() {
    var hadFocus = shadow.activeElement === input;
    state.blocked = true;
    showNotice(t("notAllowed"));
    updateControls();
    if (hadFocus) closeButton.focus();
  }

  // The server's limits (GET /api/config), read once per page; a failed read is retried.
  var limits = null;
  var limitsRequest = null;

  function loadLimits() {
    if (!limitsRequest) {
      limitsRequest = fetch(API + "/api/config", { credentials: "omit" }).then(function (response) {
        if (!response.ok) throw response;
        return response.json();
      }).then(function (config) {
        limits = config;
        input.maxLength = config.max_question_chars;
        if (!state.turns.length) renderLog();  // the welcome now has the example questions
        return config;
      }, function (err) {
        limitsRequest = null;
        throw err;
      });
    }
    return limitsRequest;
  }

  // The conversation within the server's history policy, as assistant/history.py trims it: the
  // latest messages, never starting with an answer, each cut to length.
  function history(config) {
    var messages = [];
    state.turns.forEach(function (turn) {
      if (turn.kind !== "answer" && turn.kind !== "refusal") return;
      messages.push({ role: "user", content: turn.q });
      messages.push({ role: "assistant", content: turn.a || "" });
    });
    messages = config.max_history_messages > 0 ? messages.slice(-config.max_history_messages) : [];
    if (messages.length && messages[0].role === "assistant") messages.shift();
    return messages.map(function (m) {
      return { role: m.role, content: m.content.slice(0, config.max_history_message_chars) };
    });
  }

  // The request body; past the body limit (a Chinese character is 3 bytes) the oldest pairs go.
  function requestBody(question, config) {
    var body = { question: question, history: history(config) };
    var text = JSON.stringify(body);
    while (body.history.length && config.max_body_bytes > 0 &&
           new TextEncoder().encode(text).length > config.max_body_bytes) {
      body.history.splice(0, 2);
      text = JSON.stringify(body);
    }
    return text;
  }

  function slimCitation(c) {
    return {
      marker: c.marker, doc_title: c.doc_title || "", suggestion_no: c.suggestion_no || "",
      section: c.section || "", text: c.text || "", highlights: c.highlights || []
    };
  }

  function submit(raw) {
    var question = (raw == null ? input.value : raw).trim();
    if (!question || state.busy || state.blocked) return;
    if (limits && question.length > limits.max_question_chars) {
      showNotice(fill(t("tooLong"), { n: limits.max_question_chars }));
      return;
    }
    showNotice("");
    var turn = { q: question, a: "", kind: "pending", citations: [] };
    state.turns.push(turn);
    var index = state.turns.length - 1;
    input.value = "";
    state.busy = true;
    if (state.turns.length === 1) renderLog();
    else {
      log.appendChild(renderQuestion(turn));
      log.appendChild(renderReply(turn, index));
    }
    var bubble = log.querySelector('[data-turn="' + index + '"] .bubble');
    log.setAttribute("aria-busy", "true");
    updateControls();
    scrollToEnd();

    var controller = window.AbortController ? new AbortController() : null;
    state.controller = controller;

    function update() {
      if (state.turns[index] !== turn) return;  // cleared meanwhile
      var nearEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 60;
      fillReply(bubble, turn, index);
      if (nearEnd) scrollToEnd();
    }

    function finish(kind, message) {
      if (kind === "error") { turn.kind = "error"; turn.a = message; turn.citations = []; }
      else if (turn.kind === "pending") turn.kind = turn.a ? "answer" : "error";
      if (turn.kind === "error" && !turn.a) turn.a = t("server");
      state.busy = false;
      state.controller = null;
      log.removeAttribute("aria-busy");
      update();
      updateControls();
      save();
      live.textContent = turn.kind === "error" ? turn.a : t("ready");
    }

    function onEvent(name, data) {
      if (name === "meta") { turn.status = t("writing"); update(); }
      else if (name === "delta") { turn.a += data.text || ""; update(); }
      else if (name === "citations") { turn.citations = (data.citations || []).map(slimCitation); }
      else if (name === "done") {
        turn.a = data.answer != null ? data.answer : turn.a;
        turn.citations = data.refused ? [] : (data.citations || turn.citations).map(slimCitation);
        turn.kind = data.refused ? "refusal" : "answer";
        turn.id = data.answer_id || null;
      } else if (name === "error") {
        turn.kind = "error";
        turn.a = localized(data.message) || t("server");
      }
    }

    loadLimits().then(function (config) {
      return fetch(API + "/api/chat/stream?channel=widget", {  // the log counts the widget apart
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
        body: requestBody(question, config),
        credentials: "omit",
        cache: "no-store",
        signal: controller ? controller.signal : undefined
      });
    }).then(function (response) {
      if (!response.ok) return explainResponse(response).then(function (msg) { finish("error", msg); });
      return readEvents(response, onEvent).then(function () { finish(); }, function (err) {
        if (err && err.name === "AbortError") return;
        finish("error", t("network"));
      });
    }, function (err) {
      if (err && err.name === "AbortError") return;
      if (err instanceof Response) return explainResponse(err).then(function (msg) { finish("error", msg); });
      return diagnose().then(function (reason) {
        if (reason === "notAllowed") { finish("error", t("notAllowed")); block(); }
        else finish("error", t("network"));
      });
    });
  }

  // Server-sent events over fetch: blocks separated by a blank line, "event:" and "data:"
  // fields, ":" comment lines (heartbeats) ignored.
  function readEvents(response, onEvent) {
    if (!response.body || !response.body.getReader) {
      return response.text().then(function (all) { parseBlocks(all + "\n\n", onEvent); });
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder("utf-8");
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) {
          buffer += decoder.decode();
          parseBlocks(buffer + "\n\n", onEvent);
          return;
        }
        buffer = parseBlocks(buffer + decoder.decode(chunk.value, { stream: true }), onEvent);
        return pump();
      });
    }
    return pump();
  }

  function parseBlocks(buffer, onEvent) {
    buffer = buffer.replace(/\r\n?/g, "\n");
    var cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      var block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      var name = "message";
      var data = [];
      block.split("\n").forEach(function (line) {
        if (!line || line.charAt(0) === ":") return;
        var colon = line.indexOf(":");
        var field = colon < 0 ? line : line.slice(0, colon);
        var value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      });
      if (!data.length) continue;
      var payload;
      try { payload = JSON.parse(data.join("\n")); } catch (e) { continue; }
      onEvent(name, payload || {});
    }
    return buffer;
  }

  // ---------------------------------------------------------------------------------------
  // Opening, closing, focus, keys
  // ---------------------------------------------------------------------------------------

  function openPanel() {
    panel.hidden = false;
    root.classList.add("is-open");
    launcher.setAttribute("aria-expanded", "true");
    renderChrome();
    scrollToEnd();
    checkService();
    loadLimits().catch(function () { /* asking reads them again and explains a failure */ });
    (state.blocked ? closeButton : input).focus();
  }

  function closePanel() {
    panel.hidden = true;
    root.classList.remove("is-open");
    launcher.setAttribute("aria-expanded", "false");
    renderChrome();
    launcher.focus();
  }

  function focusables() {
    var nodes = panel.querySelectorAll("button, textarea, [tabindex]:not([tabindex='-1'])");
    return Array.prototype.filter.call(nodes, function (n) {
      return !n.disabled && !n.closest("[hidden]") && n.getClientRects().length > 0;
    });
  }

  root.addEventListener("keydown", function (event) {
    if (panel.hidden) return;
    if (event.key === "Escape") {
      event.stopPropagation();
      closePanel();
      return;
    }
    if (event.key !== "Tab") return;
    var items = focusables();
    if (!items.length) return;
    var first = items[0];
    var last = items[items.length - 1];
    var active = shadow.activeElement;
    if (event.shiftKey && (active === first || items.indexOf(active) < 0)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || items.indexOf(active) < 0)) {
      event.preventDefault();
      first.focus();
    }
  });

  // Focus that escapes the panel while it is open (a click on the page) is not pulled back:
  // only the keyboard is trapped, so the host page stays usable with a mouse.
  launcher.addEventListener("click", function () { if (panel.hidden) openPanel(); else closePanel(); });
  closeButton.addEventListener("click", closePanel);
  clearButton.addEventListener("click", function () {
    if (state.controller) state.controller.abort();
    state.busy = false;
    state.turns = [];
    save();
    if (!state.blocked) showNotice("");
    renderLog();
    input.focus();
  });
  langButton.addEventListener("click", function () {
    state.lang = state.lang === "zh" ? "en" : "zh";
    save();
    renderChrome();
    renderLog();
    if (state.blocked) showNotice(t("notAllowed"));
    langButton.focus();
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", function () {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
  });

  renderChrome();
  renderLog();
  document.body.appendChild(host);
})();
