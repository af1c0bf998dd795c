/*
 * A small Markdown renderer for card details, safe by construction.
 *
 * It builds DOM nodes with createElement and textContent only: no string of the
 * card ever goes through an HTML parser, so HTML in a card (or in record text quoted
 * by a card) is shown as text and never runs. It covers the subset the cards
 * use (docs/cards.md): paragraphs, bullet and numbered lists, **bold**,
 * *italic*, `code`, [links](https://...), headings, fenced code and hard line
 * breaks. Anything else is shown as the literal text. Links keep only http(s)
 * and mailto URLs; they open in a new tab without access to this page.
 */
(function (global) {
  "use strict";

  var SAFE_URL = /^(https?:\/\/|mailto:)/i;

  // Inline patterns, tried at each position; the earliest match wins.
  var INLINE = [
    { kind: "escape", re: /\\([\\`*_{}\[\]()#+\-.!|<>])/ },
    { kind: "code", re: /`([^`\n]+)`/ },
    { kind: "link", re: /\[([^\]\n]+)\]\(([^()\s]+)\)/ },
    { kind: "strong", re: /\*\*(?=\S)([\s\S]*?\S)\*\*/ },
    { kind: "strong", re: /__(?=\S)([\s\S]*?\S)__/ },
    { kind: "em", re: /\*(?=[^\s*])([^*]*?[^\s*])\*/ },
    { kind: "em", re: /(^|[^A-Za-z0-9_])_(?=\S)([^_]*?\S)_(?![A-Za-z0-9_])/ },
    { kind: "br", re: / {2,}\n|\\\n/ }
  ];

  function earliest(text) {
    var best = null;
    for (var i = 0; i < INLINE.length; i++) {
      var m = INLINE[i].re.exec(text);
      if (!m) continue;
      var start = m.index, lead = "";
      if (INLINE[i].kind === "em" && m.length === 3) { lead = m[1]; start += lead.length; }
      if (best === null || start < best.start) best = { p: INLINE[i], m: m, start: start, lead: lead };
    }
    return best;
  }

  function inline(parent, text) {
    while (text) {
      var hit = earliest(text);
      if (hit === null) { parent.appendChild(document.createTextNode(text)); return; }
      if (hit.start > 0) parent.appendChild(document.createTextNode(text.slice(0, hit.start)));
      var m = hit.m, kind = hit.p.kind, el;
      if (kind === "escape") {
        parent.appendChild(document.createTextNode(m[1]));
      } else if (kind === "code") {
        el = document.createElement("code"); el.textContent = m[1]; parent.appendChild(el);
      } else if (kind === "br") {
        parent.appendChild(document.createElement("br"));
      } else if (kind === "link") {
        if (SAFE_URL.test(m[2])) {
          el = document.createElement("a");
          el.href = m[2]; el.target = "_blank"; el.rel = "noopener noreferrer";
          inline(el, m[1]); parent.appendChild(el);
        } else {
          parent.appendChild(document.createTextNode(m[0]));  // not a URL we open: literal text
        }
      } else {
        el = document.createElement(kind);
        inline(el, m.length === 3 ? m[2] : m[1]);
        parent.appendChild(el);
      }
      text = text.slice(m.index + m[0].length);
    }
  }

  var BULLET = /^ {0,3}[-*+] +(.*)$/;
  var NUMBER = /^ {0,3}(\d{1,9})[.)] +(.*)$/;
  var HEADING = /^ {0,3}(#{1,6}) +(.*?)(?: +#+)? *$/;
  var FENCE = /^ {0,3}(```|~~~)/;
  var RULE = /^ {0,3}([-*_])( *\1){2,} *$/;

  function isBlockStart(line) {
    return BULLET.test(line) || NUMBER.test(line) || HEADING.test(line) || FENCE.test(line) || RULE.test(line);
  }

  /* Render ``source`` into a new <div class="md">; headings are shifted down so
     a card's "# Title" does not outrank the page's own headings. */
  function render(source) {
    var root = document.createElement("div");
    root.className = "md";
    var lines = String(source == null ? "" : source).replace(/\r\n?/g, "\n").split("\n");
    var i = 0;
    while (i < lines.length) {
      var line = lines[i], m;
      if (!line.trim()) { i++; continue; }
      if ((m = FENCE.exec(line))) {
        var fence = m[1], code = [];
        i++;
        while (i < lines.length && lines[i].trim().indexOf(fence) !== 0) code.push(lines[i++]);
        i++;
        var pre = document.createElement("pre"), c = document.createElement("code");
        c.textContent = code.join("\n"); pre.appendChild(c); root.appendChild(pre);
        continue;
      }
      if ((m = HEADING.exec(line))) {
        var h = document.createElement("h" + Math.min(6, m[1].length + 3));
        inline(h, m[2]); root.appendChild(h); i++;
        continue;
      }
      if (RULE.test(line)) { root.appendChild(document.createElement("hr")); i++; continue; }
      if (BULLET.test(line) || NUMBER.test(line)) {
        var ordered = !BULLET.test(line), pattern = ordered ? NUMBER : BULLET;
        var list = document.createElement(ordered ? "ol" : "ul");
        if (ordered) {
          var first = parseInt(NUMBER.exec(line)[1], 10);
          if (first !== 1) list.start = first;
        }
        var items = [];
        while (i < lines.length && lines[i].trim()) {
          var lm = pattern.exec(lines[i]);
          if (lm) {
            items.push([ordered ? lm[2] : lm[1]]);
          } else if (isBlockStart(lines[i])) {
            break;  // a list of the other kind, a heading...: ends this list
          } else {
            items[items.length - 1].push(lines[i].trim());  // continuation of the item (lazy line)
          }
          i++;
        }
        for (var k = 0; k < items.length; k++) {
          inline(list.appendChild(document.createElement("li")), items[k].join("\n"));
        }
        root.appendChild(list);
        continue;
      }
      var para = [];
      while (i < lines.length && lines[i].trim() && (para.length === 0 || !isBlockStart(lines[i]))) {
        para.push(lines[i].replace(/^ +/, ""));
        i++;
      }
      var p = document.createElement("p");
      inline(p, para.join("\n"));
      root.appendChild(p);
    }
    return root;
  }

  global.CdsMarkdown = { render: render };
})(window);
