/* The storefront widget: a member's points, tier, progress and the rewards they can afford,
   on the store's own pages; an invitation to join for anyone else.

   Run with `config` in scope: /widget/v1/{store}.js wraps this file in a function given the
   store's program, brand colours, texts and URLs (integrations/widget/views.py).

   - The store's script tag carries the member token in data-token (its backend signs it);
     without one nothing is requested and the invitation shows.
   - It draws into the first [data-loyalty-widget] element, or just before its script tag.
   - Everything lives in a shadow root: the store's CSS cannot break it, and its CSS stays
     inside. The styles are a constructed stylesheet, which a store's CSP allows without
     'unsafe-inline' (a <style> element where a browser has none).
   - Nodes are made with createElement and filled with textContent: no data is ever read
     as markup. */

var script = document.currentScript;
var token = script && script.getAttribute("data-token");
var HEX = /^#[0-9a-f]{6}$/i;
var colours = config.colours || {};
var brand = HEX.test(colours.brand) ? colours.brand : "#1d4ed8";
var brandText = HEX.test(colours.brand_text) ? colours.brand_text : "#ffffff";
var brandSoft = HEX.test(colours.brand_soft) ? colours.brand_soft : "#e8eefc";
var locale = tag(document.documentElement.lang) || config.language;
var INK = "#172033";
var SOFT = "#4a5568";
var LINE = "#d5dbe5";

var CSS = [
  ":host{all:initial;display:block}",
  ".card{box-sizing:border-box;max-width:30em;padding:1.25em 1.25em 1.5em;background:#fff;" +
    "color:" + INK + ";border:1px solid " + LINE + ";border-top:4px solid " + brand + ";" +
    "border-radius:.75em;box-shadow:0 1px 2px rgba(23,32,51,.08),0 2px 8px rgba(23,32,51,.06);" +
    "font:1em/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif;" +
    "text-align:start;overflow-wrap:break-word}",
  ".card *{box-sizing:border-box}",
  "h2,h3,p,ul{margin:0}",
  ".head{display:flex;flex-wrap:wrap;align-items:flex-start;justify-content:space-between;" +
    "gap:.5em 1em}",
  "h2{font-size:1.25em;line-height:1.3;font-weight:700;color:" + INK + "}",
  "h3{margin:1.5em 0 .25em;font-size:1em;line-height:1.3;font-weight:700}",
  ".muted{color:" + SOFT + ";font-size:.875em}",
  ".badge{display:inline-block;padding:.2em .75em;border-radius:999px;background:" + brand +
    ";color:" + brandText + ";font-size:.8125em;font-weight:600;line-height:1.4}",
  ".balance{display:flex;flex-wrap:wrap;align-items:baseline;gap:0 .5em;margin-top:1em}",
  ".points{font-size:2.25em;font-weight:700;line-height:1.15;color:" + brand +
    ";font-variant-numeric:tabular-nums}",
  ".unit{font-weight:600}",
  ".pending{margin-top:.125em}",
  ".bar{height:.625em;margin-top:1.25em;border-radius:999px;background:" + brandSoft +
    ";overflow:hidden}",
  ".fill{width:0;height:100%;border-radius:inherit;background:" + brand +
    ";transition:width .8s ease-out}",
  ".progress{margin-top:.5em;font-size:.875em}",
  ".rewards{list-style:none;padding:0;border-top:1px solid " + LINE + "}",
  ".reward{display:flex;justify-content:space-between;align-items:baseline;gap:1em;" +
    "padding:.625em 0;border-bottom:1px solid " + LINE + "}",
  ".name{min-width:0}",
  ".brand{display:block;color:" + SOFT + ";font-size:.8125em}",
  ".price{flex:none;font-weight:600;font-variant-numeric:tabular-nums;white-space:nowrap}",
  ".more{margin-top:.5em}",
  ".text{margin-top:.75em}",
  ".button{display:inline-block;margin-top:1.25em;padding:.7em 1.25em;border-radius:.5em;" +
    "background:" + brand + ";color:" + brandText + ";font-weight:600;line-height:1.25;" +
    "text-decoration:none}",
  ".button:hover{text-decoration:underline;text-underline-offset:.15em}",
  ".button:focus-visible{outline:3px solid " + brand + ";outline-offset:3px}",
  ".vh{position:absolute;width:1px;height:1px;margin:-1px;padding:0;overflow:hidden;" +
    "clip:rect(0,0,0,0);white-space:nowrap;border:0}",
  "@media (max-width:30em){.button{display:block;text-align:center}}",
  "@media (prefers-reduced-motion:reduce){.fill{transition:none}}",
  "@media (forced-colors:active){.bar{border:1px solid CanvasText}.fill{background:Highlight}" +
    ".badge,.button{border:1px solid}}"
].join("\n");

// "fr_FR" and "pt-br" as BCP 47 tags; undefined when empty or not a tag Intl knows.
function tag(value) {
  if (!value) return undefined;
  try {
    return Intl.getCanonicalLocales(String(value).replace(/_/g, "-"))[0];
  } catch (error) {
    return undefined;
  }
}

function number(value) {
  try {
    return new Intl.NumberFormat(locale).format(value);
  } catch (error) {
    return String(value);
  }
}

function money(amount, currency) {
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency: currency }).format(amount);
  } catch (error) {
    return amount + " " + currency;
  }
}

function text(key, values) {
  values = values || {};
  values.points_name = values.points_name || config.points_name;
  values.program = values.program || config.program;
  return String(config.texts[key] || "").replace(/\{(\w+)\}/g, function (whole, name) {
    return name in values ? String(values[name]) : whole;
  });
}

function make(name, className, content) {
  var node = document.createElement(name);
  if (className) node.className = className;
  if (content !== undefined && content !== null) node.textContent = content;
  return node;
}

function link(card, href, label) {
  // Only a web address: the portal's, from our own server.
  if (!/^https?:\/\//i.test(href || "")) return;
  var anchor = make("a", "button", label);
  anchor.href = href;
  card.appendChild(anchor);
}

function heading(card, content) {
  var title = make("h2", null, content);
  title.id = "title";
  card.setAttribute("aria-labelledby", "title");
  return title;
}

function progress(card, next) {
  var amount = next.basis === "spend"
    ? money(next.remaining, next.currency)
    : number(Number(next.remaining));
  var says = text(next.basis === "spend" ? "progress_spend" : "progress_points", {
    amount: amount,
    tier: next.name
  });
  var bar = make("div", "bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-label", text("progress_label", { tier: next.name }));
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.setAttribute("aria-valuenow", String(next.percent));
  bar.setAttribute("aria-valuetext", says);
  var fill = make("div", "fill");
  bar.appendChild(fill);
  card.appendChild(bar);
  card.appendChild(make("p", "progress", says));
  // Grows to its share once drawn (at once when the reader prefers less motion).
  window.requestAnimationFrame(function () {
    window.requestAnimationFrame(function () {
      fill.style.width = Math.max(2, Math.min(100, next.percent)) + "%";
    });
  });
}

function rewardList(card, heading, items) {
  card.appendChild(make("h3", null, heading));
  var list = make("ul", "rewards");
  items.forEach(function (reward) {
    var item = make("li", "reward");
    var name = make("span", "name", reward.name);
    if (reward.brand && reward.name.indexOf(reward.brand) === -1) {
      name.appendChild(make("span", "brand", reward.brand));
    }
    item.appendChild(name);
    item.appendChild(
      make("span", "price", text(reward.from ? "reward_from" : "reward_price", {
        points: number(reward.points)
      }))
    );
    list.appendChild(item);
  });
  card.appendChild(list);
}

function rewards(card, data) {
  if (data.rewards && data.rewards.length) {
    rewardList(card, text("rewards_heading"), data.rewards);
    var more = data.rewards_affordable - data.rewards.length;
    if (more > 0) card.appendChild(make("p", "muted more", text("more_rewards", { count: number(more) })));
  } else if (data.next_reward) {
    rewardList(card, text("next_reward_heading"), [data.next_reward]);
    card.appendChild(make("p", "muted more", text("next_reward", {
      points: number(data.next_reward.remaining)
    })));
  }
}

function member(card, data) {
  var person = data.member;
  var head = make("div", "head");
  var names = make("div");
  names.appendChild(heading(card, config.program));
  if (person.first_name) names.appendChild(make("p", "muted", text("greeting", { name: person.first_name })));
  head.appendChild(names);
  if (data.tier) {
    var tier = make("p");
    tier.appendChild(make("span", "vh", text("tier_label") + ": "));
    tier.appendChild(make("span", "badge", data.tier.name));
    head.appendChild(tier);
  }
  card.appendChild(head);

  var balance = make("p", "balance");
  balance.appendChild(make("span", "points", number(person.points)));
  balance.appendChild(make("span", "unit", text("balance_label")));
  card.appendChild(balance);
  if (person.pending_points > 0) {
    card.appendChild(make("p", "muted pending", text("pending", { points: number(person.pending_points) })));
  }
  if (data.next_tier) progress(card, data.next_tier);
  else if (data.at_top_tier) card.appendChild(make("p", "muted text", text("top_tier")));
  rewards(card, data);
  link(card, data.portal || config.portal, text("portal_link"));
}

function draw(root, data) {
  var state = (data && data.state) || "join";
  if (data && data.member) locale = tag(data.member.locale) || locale;
  var card = make("section", "card");
  if (state === "member") {
    member(card, data);
  } else if (state === "join") {
    card.appendChild(heading(card, text("join_heading")));
    card.appendChild(make("p", "text", text("join_text")));
    link(card, (data && data.portal) || config.portal, text("join_link"));
  } else {
    card.appendChild(heading(card, config.program));
    card.appendChild(make("p", "text", text(state === "on_hold" ? "on_hold_text" : "unavailable_text")));
    link(card, (data && data.portal) || config.portal, text("portal_link"));
  }
  root.appendChild(card);
}

function style(root) {
  try {
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch (error) {
    root.appendChild(make("style", null, CSS));
  }
}

function start() {
  var host = document.querySelector("[data-loyalty-widget]");
  if (!host) {
    host = document.createElement("div");
    if (script && script.parentNode && script.parentNode !== document.head) {
      script.parentNode.insertBefore(host, script);
    } else {
      document.body.appendChild(host);
    }
  }
  if (host.shadowRoot || !host.attachShadow) return;
  var root = host.attachShadow({ mode: "open" });
  style(root);
  if (!token) {
    draw(root, null);
    return;
  }
  // A simple GET (no custom header, no cookie): no preflight, nothing of the store's sent.
  window
    .fetch(config.endpoint + "?token=" + encodeURIComponent(token), {
      credentials: "omit",
      headers: { Accept: "application/json" }
    })
    .then(function (response) {
      return response.ok ? response.json() : { state: "unavailable" };
    })
    .catch(function () {
      return { state: "unavailable" };
    })
    .then(function (data) {
      draw(root, data);
    });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
