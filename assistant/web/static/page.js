// Behaviour of the chat page, run once by Gradio as the header's `js_on_load`.
//
// * Turns the [n] markers in answers into links to the matching source (#src-<turn>-<n>) in the
//   sources panel; a click (or Enter) opens that <details>, scrolls to it and focuses it.
// * Marks each answer bubble with its kind (answer / refusal / notice) so refusals look different.
// * Keeps <html lang> in step with the interface language, and keeps the light look.
// * Sends 👍/👎 (with the optional comment) under an answer to /api/feedback, once per answer.
//
// Message text arrives HTML-escaped and is rendered by Gradio as text; this script only ever
// creates elements with DOM calls and sets textContent, never innerHTML, so nothing a document
// contains can become markup here.
(function () {
  if (window.__replyAssistantPage) return;
  window.__replyAssistantPage = true;

  var MARKER = /\[(\d{1,3})\]/g;
  var LABELS = {
    zh: { open: "查看出处", refusal: "未找到相关内容", notice: "提示", thanks: "感谢您的反馈！",
          failed: "反馈未能提交，请稍后再试。" },
    en: { open: "Open source", refusal: "Not found in the replies", notice: "Notice",
          thanks: "Thank you for your feedback!", failed: "The feedback could not be sent; please try later." },
  };

  function panel() {
    return document.querySelector("#sources-panel .sources-panel");
  }

  function currentLang() {
    var p = panel();
    return (p && p.getAttribute("data-lang")) || "zh";
  }

  function botMessages() {
    return Array.prototype.slice.call(document.querySelectorAll('#chat [data-testid="bot"]'));
  }

  function sourceId(turn, marker) {
    return "src-" + turn + "-" + marker;
  }

  // Wrap every [n] in a text node of `root` whose source exists in a link to it.
  function linkMarkers(root, turn, labels) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        if (node.parentElement && node.parentElement.closest("a.cite-link")) return NodeFilter.FILTER_REJECT;
        MARKER.lastIndex = 0;
        return MARKER.test(node.nodeValue) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP;
      },
    });
    var nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach(function (node) {
      var text = node.nodeValue;
      var frag = document.createDocumentFragment();
      var last = 0;
      var changed = false;
      var match;
      MARKER.lastIndex = 0;
      while ((match = MARKER.exec(text)) !== null) {
        var id = sourceId(turn, match[1]);
        if (!document.getElementById(id)) continue; // no such source (yet): leave the text alone
        frag.appendChild(document.createTextNode(text.slice(last, match.index)));
        var a = document.createElement("a");
        a.className = "cite-link";
        a.href = "#" + id;
        a.setAttribute("data-turn", String(turn));
        a.setAttribute("data-marker", match[1]);
        a.setAttribute("aria-label", labels.open + " " + match[1]);
        a.textContent = match[0];
        frag.appendChild(a);
        last = match.index + match[0].length;
        changed = true;
      }
      if (!changed) return;
      frag.appendChild(document.createTextNode(text.slice(last)));
      node.parentNode.replaceChild(frag, node);
    });
  }

  function enhance() {
    var p = panel();
    var lang = currentLang();
    var labels = LABELS[lang] || LABELS.zh;
    var langAttr = lang === "en" ? "en" : "zh-CN";
    if (document.documentElement.lang !== langAttr) document.documentElement.lang = langAttr;
    var kinds = ((p && p.getAttribute("data-turn-kinds")) || "").split(" ");
    botMessages().forEach(function (msg, turn) {
      var row = msg.closest(".message-row") || msg;
      var kind = kinds[turn] || "answer";
      if (row.getAttribute("data-kind") !== kind) row.setAttribute("data-kind", kind);
      var label = kind === "refusal" ? labels.refusal : kind === "notice" ? labels.notice : "";
      if (msg.getAttribute("data-kind-label") !== label) msg.setAttribute("data-kind-label", label);
      linkMarkers(msg, turn, labels);
    });
    markSentFeedback(labels);
  }

  // answer_id → the rating sent; the panel is re-rendered on every update, so the sent state is
  // applied again each time.
  var sentFeedback = {};

  function markSentFeedback(labels) {
    var boxes = document.querySelectorAll("#sources-panel .feedback[data-answer-id]");
    Array.prototype.forEach.call(boxes, function (box) {
      var rating = sentFeedback[box.getAttribute("data-answer-id")];
      if (!rating || box.getAttribute("data-sent") === rating) return;
      box.setAttribute("data-sent", rating);
      Array.prototype.forEach.call(box.querySelectorAll("button, input"), function (c) { c.disabled = true; });
      var chosen = box.querySelector('.fb-btn[data-rating="' + rating + '"]');
      if (chosen) chosen.setAttribute("aria-pressed", "true");
      box.querySelector(".fb-status").textContent = labels.thanks;
    });
  }

  function sendFeedback(button) {
    var box = button.closest(".feedback[data-answer-id]");
    var answerId = box.getAttribute("data-answer-id");
    if (sentFeedback[answerId]) return;
    var labels = LABELS[currentLang()] || LABELS.zh;
    var comment = box.querySelector(".fb-comment");
    button.disabled = true;
    fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      credentials: "omit",
      body: JSON.stringify({ answer_id: answerId, rating: button.getAttribute("data-rating"),
                             comment: comment ? comment.value.trim() : "" }),
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      sentFeedback[answerId] = button.getAttribute("data-rating");
      markSentFeedback(labels);
    }).catch(function () {
      button.disabled = false;
      box.querySelector(".fb-status").textContent = labels.failed;
    });
  }

  var scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(function () {
      scheduled = false;
      enhance();
    });
  }

  function openSource(turn, marker) {
    var el = document.getElementById(sourceId(turn, marker));
    if (!el) return false;
    for (var d = el.parentElement; d; d = d.parentElement) {
      if (d.tagName === "DETAILS") d.open = true; // an earlier turn folded away
    }
    el.open = true;
    el.classList.remove("is-flashing");
    void el.offsetWidth; // restart the highlight animation
    el.classList.add("is-flashing");
    var summary = el.querySelector("summary");
    if (summary) summary.focus({ preventScroll: true });
    el.scrollIntoView({ behavior: "smooth", block: "nearest" });
    return true;
  }

  // From a source back to the marker that opened it (phones show the panel below the chat).
  function backToAnswer(turn, marker) {
    var msg = botMessages()[Number(turn)];
    if (!msg) return;
    var link = msg.querySelector('a.cite-link[data-marker="' + marker + '"]');
    (link || msg).scrollIntoView({ behavior: "smooth", block: "center" });
    if (link) link.focus({ preventScroll: true });
  }

  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    var link = event.target.closest("a.cite-link");
    if (link) {
      event.preventDefault();
      openSource(link.getAttribute("data-turn"), link.getAttribute("data-marker"));
      return;
    }
    var rate = event.target.closest("#sources-panel .fb-btn");
    if (rate) {
      sendFeedback(rate);
      return;
    }
    var back = event.target.closest("a.back-to-answer");
    if (back) {
      event.preventDefault();
      backToAnswer(back.getAttribute("data-turn"), back.getAttribute("data-marker"));
    }
  });

  // The page is designed light; follow a dark system theme only when asked with ?__theme=dark.
  function keepLight() {
    var wantsDark = new URLSearchParams(window.location.search).get("__theme") === "dark";
    if (!wantsDark && document.body.classList.contains("dark")) document.body.classList.remove("dark");
  }

  new MutationObserver(schedule).observe(document.body, { childList: true, subtree: true, characterData: true });
  new MutationObserver(keepLight).observe(document.body, { attributes: true, attributeFilter: ["class"] });
  keepLight();
  schedule();
})();
