/*
 * The card console: pick a demo patient or paste a hook request, fire
 * order-select then order-sign, and see the cards as an EHR shows them.
 *
 * Everything goes through the service's public endpoints (GET /cds-services,
 * POST /cds-services/<id>, POST /cds-services/<id>/feedback, GET /demo/...).
 * Text from the service is only ever set with textContent (Markdown through
 * CdsMarkdown, which does the same), so nothing from a card can run here.
 */
(function () {
  "use strict";

  var HOOKS = ["order-select", "order-sign"];
  var TIMEOUT_MS = 30000;
  var SAFE_LINK = /^https?:\/\//i;
  var INDICATORS = {
    critical: { text: "Critical", icon: "\u25B2" },  // triangle: not colour alone
    warning: { text: "Warning", icon: "\u25C6" },    // diamond
    info: { text: "Info", icon: "\u25CF" }           // dot
  };

  var state = {
    services: {},                  // hook -> {id, title} from discovery
    patients: {},                  // demo patient id -> catalog entry
    patient: null,                 // the chosen demo patient, or null for a pasted request
    requests: { "order-select": null, "order-sign": null },
    changes: {},                   // "Type/id" -> "added" | "updated" | "removed": accepted suggestions' effect
    removed: [],                   // resources removed from the drafts, still listed (struck through)
    cardCount: 0
  };

  // --- small helpers ---------------------------------------------------------

  function $(id) { return document.getElementById(id); }

  /* An element with attributes and children (strings become text nodes). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key === "hidden" || key === "disabled" || key === "checked") node[key] = !!value;
      else node.setAttribute(key, value === true ? "" : String(value));
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function pretty(value) { return JSON.stringify(value, null, 2); }

  function clone(value) { return JSON.parse(JSON.stringify(value)); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function isObject(value) { return value !== null && typeof value === "object" && !Array.isArray(value); }

  function cardKind(card) { return (card.source && card.source.topic && card.source.topic.code) || "(no kind)"; }

  // --- HTTP ------------------------------------------------------------------

  /* One call to the service: never throws; the outcome says what happened. */
  function call(method, url, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var jwt = $("jwt").value.trim();
    if (jwt && url.indexOf("/cds-services/") === 0) headers["Authorization"] = "Bearer " + jwt;
    var controller = new AbortController();
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    var started = performance.now();
    var outcome = { method: method, url: url, body: body, sentAuth: !!headers["Authorization"] };
    return fetch(url, {
      method: method, headers: headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body), signal: controller.signal
    }).then(function (response) {
      outcome.status = response.status;
      outcome.requestId = response.headers.get("X-Request-ID");
      outcome.wwwAuthenticate = response.headers.get("WWW-Authenticate");
      outcome.retryAfter = response.headers.get("Retry-After");
      return response.text();
    }).then(function (text) {
      outcome.ms = performance.now() - started;
      outcome.text = text;
      try { outcome.json = text ? JSON.parse(text) : null; } catch (e) { outcome.json = undefined; }
      return outcome;
    }).catch(function (error) {
      outcome.ms = performance.now() - started;
      outcome.networkError = error && error.name === "AbortError"
        ? "no answer within " + TIMEOUT_MS / 1000 + " s" : String(error && error.message || error);
      return outcome;
    }).finally(function () { clearTimeout(timer); });
  }

  function ok(outcome) { return outcome.status >= 200 && outcome.status < 300 && outcome.json !== undefined; }

  /* "HTTP 200 · 35 ms · X-Request-ID abc" */
  function callMeta(outcome) {
    var parts = [
      el("span", { className: "status-code", text: outcome.networkError ? "no response" : "HTTP " + outcome.status }),
      " \u00B7 ", el("span", { className: "latency", text: Math.round(outcome.ms) + " ms" })
    ];
    if (outcome.requestId) {
      parts.push(" \u00B7 X-Request-ID ", el("code", { className: "request-id", text: outcome.requestId }));
    }
    return el("p", { className: "meta" }, parts);
  }

  /* Marshmallow-style errors ({"context.draftOrders": ["..."], "a": {"b": [...]}}) as path: message rows. */
  function flattenErrors(errors, prefix, rows) {
    if (Array.isArray(errors)) {
      var strings = errors.filter(function (e) { return typeof e === "string"; });
      if (strings.length) rows.push([prefix || "(body)", strings.join(" ")]);
      errors.forEach(function (e, i) { if (!(typeof e === "string")) flattenErrors(e, prefix + "[" + i + "]", rows); });
    } else if (isObject(errors)) {
      Object.keys(errors).forEach(function (key) {
        flattenErrors(errors[key], prefix ? prefix + "." + key : key, rows);
      });
    } else if (errors !== null && errors !== undefined) {
      rows.push([prefix || "(body)", String(errors)]);
    }
    return rows;
  }

  /* What went wrong, in a sentence a user can act on (null when the call succeeded). */
  function errorBlock(outcome) {
    if (!outcome.networkError && ok(outcome)) return null;
    var box = el("div", { className: "error", role: "alert" });
    var message = outcome.json && outcome.json.error ? outcome.json.error : "";
    if (outcome.networkError) {
      box.appendChild(el("p", { text: "Could not reach the service: " + outcome.networkError + "." }));
      return box;
    }
    var s = outcome.status;
    if (s === 400) {
      box.appendChild(el("p", { text: "The service refused the request (400): " + (message || "invalid request") }));
    } else if (s === 401) {
      box.appendChild(el("p", {
        text: "401 Unauthorized: this service checks a JWT on hook and feedback calls, and " +
          (outcome.sentAuth ? "it refused the token pasted under Authorization" : "the console sent none") +
          ". The console needs the service run with CDS_AUTH_DISABLED=true (as make run does) for a local demo, " +
          "or a fresh JWT from a trusted issuer pasted under Authorization."
      }));
      if (outcome.wwwAuthenticate) {
        box.appendChild(el("p", { className: "hint" }, ["WWW-Authenticate: ", el("code", { text: outcome.wwwAuthenticate })]));
      }
    } else if (s === 412) {
      box.appendChild(el("p", { text: "412 Precondition failed: " + (message ||
        "the patient's conditions were neither prefetched nor readable from a fhirServer.") }));
    } else if (s >= 500) {
      box.appendChild(el("p", {
        text: "The service failed (HTTP " + s + "): " + (message || "no details") +
          (outcome.retryAfter ? " Retry after " + outcome.retryAfter + " s." : "") +
          (outcome.requestId ? " Quote the X-Request-ID to find its log line." : "")
      }));
    } else if (outcome.json === undefined) {
      box.appendChild(el("p", { text: "HTTP " + s + ": the answer is not JSON." }));
    } else {
      box.appendChild(el("p", { text: "HTTP " + s + ": " + (message || "unexpected answer") }));
    }
    // The failing fields by path (400), or the missing prefetch keys (412).
    var rows = flattenErrors(outcome.json && outcome.json.errors, "", []);
    if (rows.length) {
      box.appendChild(el("ul", { className: "field-errors", "aria-label": "Errors by field" }, rows.map(function (row) {
        return el("li", {}, [el("code", { text: row[0] }), ": " + row[1]]);
      })));
    }
    return box;
  }

  function rawBlock(title, pairs) {
    var details = el("details", { className: "raw" }, [el("summary", { text: title })]);
    pairs.forEach(function (pair) {
      if (pair[1] === undefined) return;
      details.appendChild(el("h5", { text: pair[0] }));
      details.appendChild(el("pre", {}, [el("code", { text: typeof pair[1] === "string" ? pair[1] : pretty(pair[1]) })]));
    });
    return details;
  }

  function responseBody(outcome) {
    if (outcome.networkError) return "(no response: " + outcome.networkError + ")";
    return outcome.json !== undefined ? outcome.json : outcome.text;
  }

  // --- cards -------------------------------------------------------------------

  function indicatorOf(card) {
    return INDICATORS[card.indicator] ? card.indicator : "info";
  }

  function sourceLine(card) {
    var source = card.source || {};
    var label = source.label || "(no source label)";
    var parts = ["Source: "];
    if (source.url && SAFE_LINK.test(source.url)) {
      parts.push(el("a", { href: source.url, target: "_blank", rel: "noopener noreferrer", text: label }));
    } else {
      parts.push(label);
    }
    if (source.topic && source.topic.code) {
      parts.push(" \u00B7 card kind ", el("code", { className: "kind", text: source.topic.code }));
    }
    return el("p", { className: "source" }, parts);
  }

  function linkList(card) {
    if (!Array.isArray(card.links) || !card.links.length) return null;
    return el("ul", { className: "links", "aria-label": "Links" }, card.links.map(function (link) {
      var label = link.label || link.url;
      if (link.type === "smart") {
        return el("li", { className: "smart-link" }, [
          label + " ", el("span", { className: "tag", text: "SMART app" }),
          " not launched by this console: ", el("code", { text: link.url || "" })
        ]);
      }
      if (link.url && SAFE_LINK.test(link.url)) {
        return el("li", {}, [el("a", { href: link.url, target: "_blank", rel: "noopener noreferrer", text: label }),
          el("span", { className: "visually-hidden", text: " (opens in a new tab)" })]);
      }
      return el("li", { text: label + " (" + (link.url || "no URL") + ")" });
    }));
  }

  function actionList(suggestion) {
    var actions = Array.isArray(suggestion.actions) ? suggestion.actions : [];
    if (!actions.length) return el("p", { className: "hint", text: "This suggestion has no FHIR actions." });
    return el("ol", { className: "actions", "aria-label": "FHIR actions" }, actions.map(function (action) {
      var item = el("li", { className: "action" }, [
        el("span", { className: "action-type action-" + (action.type || "none"), text: action.type || "?" }),
        " ", el("span", { className: "action-description", text: action.description || "" })
      ]);
      if (action.resourceId) {
        item.appendChild(el("p", {}, ["Resource: ", el("code", { text: [].concat(action.resourceId).join(", ") })]));
      }
      if (action.resource) item.appendChild(el("pre", {}, [el("code", { text: pretty(action.resource) })]));
      return item;
    }));
  }

  /* Post one feedback item and show both the body sent and the service's answer. */
  function sendFeedback(service, item, log) {
    var body = { feedback: [item] };
    var entry = el("div", { className: "feedback-entry" }, [
      el("p", {}, ["Feedback posted to ", el("code", { text: "/cds-services/" + service.id + "/feedback" }), ":"]),
      el("pre", { className: "feedback-body" }, [el("code", { text: pretty(body) })])
    ]);
    log.appendChild(entry);
    return call("POST", "/cds-services/" + encodeURIComponent(service.id) + "/feedback", body).then(function (outcome) {
      entry.appendChild(el("p", { className: "feedback-answer-title", text: "The service answered:" }));
      entry.appendChild(callMeta(outcome));
      var problem = errorBlock(outcome);
      if (problem) entry.appendChild(problem);
      entry.appendChild(el("pre", { className: "feedback-answer" }, [el("code", { text:
        typeof responseBody(outcome) === "string" ? responseBody(outcome) : pretty(responseBody(outcome)) })]));
      return outcome;
    });
  }

  function resolveCard(article, text) {
    article.classList.add("resolved");
    Array.prototype.forEach.call(article.querySelectorAll("button, input, textarea"), function (control) {
      control.disabled = true;
    });
    var status = article.querySelector(".card-status");
    status.textContent = text;
  }

  function suggestionBlock(card, service, article, log) {
    if (!Array.isArray(card.suggestions) || !card.suggestions.length) return null;
    var box = el("div", { className: "suggestions" }, [el("h5", { text: "Suggestions" })]);
    card.suggestions.forEach(function (suggestion) {
      var actions = el("div", { className: "actions-box", hidden: true });
      var button = el("button", { type: "button", className: "accept", text: "Accept" });
      var row = el("div", { className: "suggestion" + (suggestion.isRecommended ? " recommended" : "") }, [
        el("div", { className: "suggestion-head" }, [
          el("span", { className: "suggestion-label", text: suggestion.label || "(no label)" }),
          suggestion.isRecommended ? el("span", { className: "tag", text: "recommended" }) : null,
          button
        ]),
        actions
      ]);
      button.setAttribute("aria-label", "Accept: " + (suggestion.label || "suggestion"));
      button.addEventListener("click", function () {
        actions.appendChild(el("p", { className: "actions-title", text: "FHIR actions, applied to the draft orders:" }));
        actions.appendChild(actionList(suggestion));
        var applied = applySuggestion(suggestion);
        actions.appendChild(el("ul", { className: "applied", "aria-label": "Applied to the draft orders" },
          applied.map(function (line) { return el("li", { className: line.ok ? "" : "bad", text: line.text }); })));
        actions.hidden = false;
        row.classList.add("accepted");
        resolveCard(article, "Accepted: " + (suggestion.label || "suggestion"));
        button.textContent = "Accepted \u2713";
        if (!suggestion.uuid) {
          log.appendChild(el("p", { className: "hint", text: "This suggestion has no uuid, so no feedback can name it." }));
          return;
        }
        sendFeedback(service, {
          card: card.uuid, outcome: "accepted", acceptedSuggestions: [{ id: suggestion.uuid }],
          outcomeTimestamp: new Date().toISOString()
        }, log);
      });
      box.appendChild(row);
    });
    return box;
  }

  function overrideBlock(card, service, article, log) {
    if (!Array.isArray(card.overrideReasons) || !card.overrideReasons.length) return null;
    var n = article.id;
    var toggle = el("button", { type: "button", className: "dismiss", "aria-expanded": "false",
      "aria-controls": n + "-override", text: "Dismiss with a reason\u2026" });
    var reasons = card.overrideReasons.map(function (coding, i) {
      var id = n + "-reason-" + i;
      return el("div", { className: "reason" }, [
        el("input", { type: "radio", name: n + "-reason", id: id, value: String(i), required: true }),
        el("label", { "for": id, text: coding.display || coding.code })
      ]);
    });
    var comment = el("textarea", { id: n + "-comment", rows: "2", maxlength: "2000" });
    // No reason is preselected: the clinician chooses one before the override can be sent.
    var submit = el("button", { type: "submit", className: "send-override", text: "Send override", disabled: true });
    var form = el("form", { id: n + "-override", className: "override-form", hidden: true }, [
      el("fieldset", {}, [el("legend", { text: "Why is this card not followed?" })].concat(reasons)),
      el("label", { "for": n + "-comment", text: "Comment (optional; the service stores only that there was one)" }),
      comment, el("div", { className: "row" }, [submit])
    ]);
    form.addEventListener("change", function () {
      submit.disabled = !form.querySelector("input[type=radio]:checked");
    });
    toggle.addEventListener("click", function () {
      form.hidden = !form.hidden;
      toggle.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) form.querySelector("input").focus();
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = form.querySelector("input[type=radio]:checked");
      if (!chosen) return;
      var coding = card.overrideReasons[Number(chosen.value)];
      var reason = { reason: { system: coding.system, code: coding.code } };
      if (coding.display) reason.reason.display = coding.display;
      if (comment.value.trim()) reason.userComment = comment.value.trim();
      resolveCard(article, "Overridden: " + (coding.display || coding.code));
      sendFeedback(service, {
        card: card.uuid, outcome: "overridden", overrideReason: reason, outcomeTimestamp: new Date().toISOString()
      }, log);
    });
    return el("div", { className: "override" }, [toggle, form]);
  }

  function renderCard(card, service) {
    state.cardCount += 1;
    var id = "card-" + state.cardCount;
    var level = indicatorOf(card);
    var indicator = INDICATORS[level];
    var article = el("article", { className: "card card-" + level, id: id, "aria-labelledby": id + "-summary",
      "data-kind": cardKind(card), "data-indicator": card.indicator || "" });
    article.appendChild(el("header", { className: "card-head" }, [
      el("span", { className: "badge badge-" + level }, [
        el("span", { className: "icon", "aria-hidden": "true", text: indicator.icon }),
        " " + (INDICATORS[card.indicator] ? indicator.text : "Indicator: " + String(card.indicator))
      ]),
      el("h4", { className: "summary", id: id + "-summary", text: card.summary || "(no summary)" })
    ]));
    if (card.detail) {
      var detail = el("div", { className: "detail" });
      detail.appendChild(window.CdsMarkdown.render(card.detail));
      article.appendChild(detail);
    }
    article.appendChild(sourceLine(card));
    var links = linkList(card);
    if (links) article.appendChild(links);
    var log = el("div", { className: "feedback-log" });
    var suggestions = suggestionBlock(card, service, article, log);
    if (suggestions) article.appendChild(suggestions);
    var override = overrideBlock(card, service, article, log);
    if (override) article.appendChild(override);
    article.appendChild(el("p", { className: "card-status", role: "status" }));
    article.appendChild(log);
    return article;
  }

  // --- hook calls --------------------------------------------------------------

  function dataGaps(json) {
    var gaps = json && json.extension && json.extension["org.example.spine-order-cds.data-gaps"];
    if (!Array.isArray(gaps) || !gaps.length) return null;
    return el("div", { className: "data-gaps", role: "note" }, [
      el("p", { text: "Part of the record could not be read, so the advice may be incomplete:" }),
      el("ul", {}, gaps.map(function (gap) {
        return el("li", {}, [el("code", { text: gap.prefetchKey }), ": " + gap.reason]);
      }))
    ]);
  }

  function expectedLine(hook, cards) {
    if (!state.patient || !state.patient.expected || !Array.isArray(state.patient.expected[hook])) return null;
    var expected = state.patient.expected[hook];
    var got = cards.map(cardKind);
    var same = expected.length === got.length && expected.every(function (k, i) { return k === got[i]; });
    var names = function (kinds) { return kinds.length ? kinds.join(", ") : "no card"; };
    return el("p", { className: "expected " + (same ? "match" : "mismatch") }, same
      ? ["\u2713 As expected for this demo patient: " + names(expected) + "."]
      : ["\u2717 Expected for this demo patient: " + names(expected) + "; got: " + names(got) +
         ". (A card overridden as already addressed is not shown to the same patient again for a while.)"]);
  }

  function selectedRefs() {
    return Array.prototype.map.call(document.querySelectorAll("#order-list input:checked"), function (box) {
      return box.value;
    });
  }

  function fire(hook) {
    var base = state.requests[hook];
    var service = state.services[hook];
    var target = $("result-" + hook);
    if (!base || !service) return;
    var body = clone(base);
    body.hook = hook;
    body.hookInstance = uuid();  // every invocation is a new hook instance
    if (hook === "order-select" && isObject(body.context) && document.querySelector("#order-list input")) {
      body.context.selections = selectedRefs();
    }
    var button = $(hook === "order-select" ? "fire-select" : "fire-sign");
    button.disabled = true;
    target.setAttribute("aria-busy", "true");
    $("results-empty").hidden = true;
    clear(target);
    target.appendChild(el("p", { className: "hint", text: "Calling " + service.id + "\u2026" }));
    return call("POST", "/cds-services/" + encodeURIComponent(service.id), body).then(function (outcome) {
      clear(target);
      var section = el("section", { className: "call", "aria-label": hook + " result" }, [
        el("h3", {}, [el("code", { text: hook }), " \u2192 ", el("code", { text: service.id })]),
        callMeta(outcome)
      ]);
      var problem = errorBlock(outcome);
      if (problem) {
        section.appendChild(problem);
      } else {
        var cards = Array.isArray(outcome.json.cards) ? outcome.json.cards : [];
        var expected = expectedLine(hook, cards);
        if (expected) section.appendChild(expected);
        var gaps = dataGaps(outcome.json);
        if (gaps) section.appendChild(gaps);
        if (!cards.length) {
          section.appendChild(el("p", { className: "no-cards",
            text: "No cards: the service has nothing specific to say about this order." }));
        }
        var list = el("div", { className: "cards" });
        cards.forEach(function (card) { list.appendChild(renderCard(card, service)); });
        section.appendChild(list);
      }
      section.appendChild(rawBlock("Raw request and response (JSON)", [
        ["Request: POST /cds-services/" + service.id, body], ["Response", responseBody(outcome)]
      ]));
      target.appendChild(section);
      return outcome;
    }).finally(function () {
      button.disabled = false;
      target.removeAttribute("aria-busy");
    });
  }

  // --- applying accepted suggestions to the draft orders ---------------------------

  function refOf(resource) { return resource.resourceType + "/" + resource.id; }

  /* A delete's resourceId names the order as "Type/id" (the service's form) or as the bare id. */
  function matchesId(resource, resourceId) {
    return refOf(resource) === resourceId || (resourceId.indexOf("/") < 0 && resource.id === resourceId);
  }

  function draftEntries(request) {
    var context = request && isObject(request.context) ? request.context : null;
    if (!context) return null;
    if (!isObject(context.draftOrders)) context.draftOrders = { resourceType: "Bundle", type: "collection", entry: [] };
    if (!Array.isArray(context.draftOrders.entry)) context.draftOrders.entry = [];
    return context.draftOrders.entry;
  }

  /* One action on one request's draft orders, as an EHR applies it: delete removes the order with that
     resourceId, create adds the resource, update replaces the resource with the same type and id.
     Returns the references changed (none: nothing matched). */
  function applyAction(request, action) {
    var entries = draftEntries(request);
    if (!entries || !isObject(action)) return [];
    var context = request.context;
    var changed = [];
    if (action.type === "delete") {
      [].concat(action.resourceId || []).forEach(function (rid) {
        for (var i = entries.length - 1; i >= 0; i--) {
          var res = entries[i] && entries[i].resource;
          if (isObject(res) && matchesId(res, String(rid))) {
            changed.push({ ref: refOf(res), resource: res });
            entries.splice(i, 1);
            if (Array.isArray(context.selections)) {
              context.selections = context.selections.filter(function (r) { return r !== refOf(res); });
            }
          }
        }
      });
    } else if (action.type === "create" && isObject(action.resource)) {
      entries.push({ resource: clone(action.resource) });
      // The clinician took it: on order-select it is among the orders being selected.
      if (Array.isArray(context.selections)) context.selections.push(refOf(action.resource));
      changed.push({ ref: refOf(action.resource), resource: action.resource });
    } else if (action.type === "update" && isObject(action.resource)) {
      entries.forEach(function (entry) {
        var res = entry && entry.resource;
        if (isObject(res) && refOf(res) === refOf(action.resource)) {
          entry.resource = clone(action.resource);
          changed.push({ ref: refOf(res), resource: action.resource });
        }
      });
    }
    return changed;
  }

  /* Apply an accepted suggestion's actions to both hooks' requests (they share the draft orders),
     re-list the draft orders with what changed, and say it. */
  function applySuggestion(suggestion) {
    var sel = state.requests["order-select"];
    if (sel && isObject(sel.context) && document.querySelector("#order-list input")) {
      sel.context.selections = selectedRefs();  // keep the ticks the user made
    }
    var lines = [];
    var verbs = { "delete": ["Removed", "removed"], "create": ["Added", "added"], "update": ["Updated", "updated"] };
    (Array.isArray(suggestion.actions) ? suggestion.actions : []).forEach(function (action) {
      var changed = [];
      HOOKS.forEach(function (hook) {
        applyAction(state.requests[hook], action).forEach(function (c) {
          if (!changed.some(function (x) { return x.ref === c.ref; })) changed.push(c);
        });
      });
      var verb = verbs[action && action.type];
      if (!verb) {
        lines.push({ ok: false, text: "Not applied: unknown action type " + JSON.stringify(action && action.type) + "." });
        return;
      }
      if (!changed.length) {
        var target = action.type === "delete" ? [].concat(action.resourceId || []).join(", ")
          : (isObject(action.resource) ? refOf(action.resource) : "(no resource)");
        lines.push({ ok: false, text: "Not applied: no draft order " + target + " to " + action.type + "." });
        return;
      }
      changed.forEach(function (c) {
        var before = state.changes[c.ref];
        if (action.type === "delete") {
          if (before === "added") delete state.changes[c.ref];  // added then removed: as if never there
          else { state.changes[c.ref] = "removed"; state.removed.push(c.resource); }
        } else if (action.type === "create") {
          state.changes[c.ref] = before === "removed" ? "updated" : "added";
          state.removed = state.removed.filter(function (r) { return refOf(r) !== c.ref; });
        } else if (before !== "added") {
          state.changes[c.ref] = "updated";
        }
        lines.push({ ok: true, text: verb[0] + " " + orderLabel(c.resource) + " (" + c.ref + ")." });
      });
    });
    showOrders(state.requests["order-select"] || state.requests["order-sign"]);
    var sign = state.requests["order-sign"];
    var count = draftRefs(sign && isObject(sign.context) ? sign.context : {}).length;
    var status = $("orders-status");
    status.textContent = "Accepted \u201C" + (suggestion.label || "suggestion") + "\u201D: " +
      lines.map(function (l) { return l.text; }).join(" ") + " Sign now sends " + count + " draft order" +
      (count === 1 ? "" : "s") + ".";
    return lines;
  }

  // --- choosing the request -------------------------------------------------------

  function orderLabel(resource) {
    var code = resource.code || {};
    var coding = Array.isArray(code.coding) && code.coding[0] || {};
    return code.text || coding.display || coding.code || resource.resourceType || "order";
  }

  function showOrders(request) {
    var list = $("order-list");
    clear(list);
    var context = isObject(request.context) ? request.context : {};
    var entries = isObject(context.draftOrders) && Array.isArray(context.draftOrders.entry) ? context.draftOrders.entry : [];
    var selections = Array.isArray(context.selections) ? context.selections : [];
    entries.forEach(function (entry, i) {
      var resource = entry && entry.resource;
      if (!isObject(resource)) return;
      var ref = resource.resourceType + "/" + resource.id;
      var id = "order-" + i;
      var change = state.changes[ref];
      list.appendChild(el("li", { className: change ? "changed order-" + change : "", "data-ref": ref }, [
        el("input", { type: "checkbox", id: id, value: ref, checked: selections.indexOf(ref) >= 0 }),
        el("label", { "for": id }, [orderLabel(resource) + " ", el("code", { text: ref }),
          resource.priority && resource.priority !== "routine" ? el("span", { className: "tag", text: resource.priority }) : null,
          change ? el("span", { className: "tag change", text: change }) : null])
      ]));
    });
    state.removed.forEach(function (resource) {
      var ref = refOf(resource);
      list.appendChild(el("li", { className: "changed order-removed", "data-ref": ref }, [
        el("del", {}, [orderLabel(resource) + " ", el("code", { text: ref })]),
        " ", el("span", { className: "tag change", text: "removed" })
      ]));
    });
    if (!entries.length) list.appendChild(el("li", { className: "hint", text: "The request has no draft orders." }));
    $("orders").hidden = false;
  }

  function draftRefs(context) {
    var entries = isObject(context.draftOrders) && Array.isArray(context.draftOrders.entry) ? context.draftOrders.entry : [];
    return entries.filter(function (e) { return e && isObject(e.resource); }).map(function (e) {
      return e.resource.resourceType + "/" + e.resource.id;
    });
  }

  /* The other hook's request from a pasted one: order-sign has the same draft
     orders and no selections; order-select selects every draft order. */
  function derive(request, hook) {
    var out = clone(request);
    out.hook = hook;
    out.hookInstance = uuid();
    if (!isObject(out.context)) return out;
    if (hook === "order-sign") delete out.context.selections;
    else out.context.selections = draftRefs(out.context);
    return out;
  }

  function resetResults() {
    HOOKS.forEach(function (hook) { clear($("result-" + hook)); });
    $("results-empty").hidden = false;
  }

  function setRequests(requests, patient) {
    state.requests = requests;
    state.patient = patient;
    state.changes = {};
    state.removed = [];
    $("orders-status").textContent = "";
    showOrders(requests["order-select"]);
    resetResults();
    updateButtons();
  }

  function updateButtons() {
    $("fire-select").disabled = !(state.requests["order-select"] && state.services["order-select"]);
    $("fire-sign").disabled = !(state.requests["order-sign"] && state.services["order-sign"]);
  }

  function usePasted() {
    var status = $("paste-status");
    status.className = "status";
    var request;
    try {
      request = JSON.parse($("request-text").value);
    } catch (e) {
      status.className = "status bad";
      status.textContent = "Not JSON: " + e.message;
      return;
    }
    if (!isObject(request) || HOOKS.indexOf(request.hook) < 0) {
      status.className = "status bad";
      status.textContent = "Expected a hook request object with \"hook\": \"order-select\" or \"order-sign\".";
      return;
    }
    $("request-text").value = pretty(request);
    var other = request.hook === "order-select" ? "order-sign" : "order-select";
    var requests = {};
    requests[request.hook] = request;
    requests[other] = derive(request, other);
    $("demo-patient").value = "";
    showStory(null);
    setRequests(requests, null);
    status.textContent = "Using the pasted " + request.hook + " request; " + other +
      " is derived from it (same draft orders" + (other === "order-sign" ? ", no selections" : ", all selected") + ").";
  }

  function showStory(patient) {
    var box = $("demo-story");
    clear(box);
    box.hidden = !patient;
    if (!patient) return;
    box.appendChild(el("p", { className: "story-text", text: patient.story || "" }));
    var expected = patient.expected || {};
    box.appendChild(el("p", { className: "hint" }, ["Expected cards: "].concat(HOOKS.map(function (hook, i) {
      var kinds = expected[hook] || [];
      return el("span", {}, [(i ? " \u00B7 " : ""), el("code", { text: hook }), ": " + (kinds.length ? kinds.join(", ") : "none")]);
    }))));
  }

  function choosePatient() {
    var id = $("demo-patient").value;
    var patient = state.patients[id];
    var status = $("paste-status");
    status.className = "status";
    status.textContent = "";
    if (!patient) { showStory(null); return; }
    showStory(patient);
    Promise.all(HOOKS.map(function (hook) { return call("GET", patient.requests[hook]); })).then(function (outcomes) {
      var failed = outcomes.filter(function (o) { return !ok(o); })[0];
      if (failed) {
        status.className = "status bad";
        status.textContent = "Could not load the demo request " + failed.url + " (" +
          (failed.networkError || "HTTP " + failed.status) + ").";
        return;
      }
      if ($("demo-patient").value !== id) return;  // another patient was chosen meanwhile
      $("request-text").value = pretty(outcomes[0].json);
      setRequests({ "order-select": outcomes[0].json, "order-sign": outcomes[1].json }, patient);
      status.textContent = "Loaded the demo requests of " + patient.id + " (shown above as order-select).";
    });
  }

  // --- start-up ----------------------------------------------------------------

  function loadServices() {
    return call("GET", "/cds-services").then(function (outcome) {
      var line = $("services");
      clear(line);
      if (!ok(outcome) || !outcome.json || !Array.isArray(outcome.json.services)) {
        line.appendChild(el("span", { className: "bad", text: "Discovery (GET /cds-services) failed: " +
          (outcome.networkError || "HTTP " + outcome.status) + (outcome.status === 401
            ? ". The service requires a JWT on discovery (auth_discovery); the console cannot list its services." : ".") }));
        return;
      }
      outcome.json.services.forEach(function (service) {
        if (HOOKS.indexOf(service.hook) >= 0 && !state.services[service.hook]) state.services[service.hook] = service;
      });
      line.appendChild(document.createTextNode("Services from discovery: "));
      HOOKS.forEach(function (hook, i) {
        var service = state.services[hook];
        if (i) line.appendChild(document.createTextNode(" \u00B7 "));
        line.appendChild(el("code", { text: hook }));
        line.appendChild(document.createTextNode(" \u2192 "));
        line.appendChild(service ? el("code", { text: service.id }) : el("span", { className: "bad", text: "none offered" }));
      });
      updateButtons();
    });
  }

  function loadPatients() {
    return call("GET", "/demo/patients").then(function (outcome) {
      var select = $("demo-patient");
      if (outcome.status === 404) {
        $("demo-picker").hidden = true;
        var off = $("demo-off");
        off.textContent = "Demo patients are switched off on this service (CDS_DEMO_ENABLED=false): " +
          "paste a hook request below instead.";
        off.hidden = false;
        return;
      }
      clear(select);
      if (!ok(outcome) || !outcome.json || !Array.isArray(outcome.json.patients)) {
        select.appendChild(el("option", { value: "", text: "Demo patients could not be loaded (" +
          (outcome.networkError || "HTTP " + outcome.status) + ")" }));
        return;
      }
      select.appendChild(el("option", { value: "", text: "Choose a demo patient\u2026" }));
      outcome.json.patients.forEach(function (patient) {
        state.patients[patient.id] = patient;
        select.appendChild(el("option", { value: patient.id, text: patient.title || patient.id }));
      });
      select.disabled = false;
    });
  }

  function start() {
    $("fire-select").addEventListener("click", function () { fire("order-select"); });
    $("fire-sign").addEventListener("click", function () { fire("order-sign"); });
    $("use-pasted").addEventListener("click", usePasted);
    $("demo-patient").addEventListener("change", choosePatient);
    $("request-text").addEventListener("input", function () {
      var status = $("paste-status");
      status.className = "status";
      status.textContent = "Edited: press \u201CUse the pasted request\u201D to use it.";
    });
    Promise.all([loadServices(), loadPatients()]).then(function () {
      document.body.setAttribute("data-ready", "true");  // for tests and scripts: start-up calls are done
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
