// The overview: the queue at a glance, what was delivered and what failed hour by hour, whether the
// database answers and which of each service's processes report themselves.
import { get } from "./api.js";
import { append, duration, h, state, table, when } from "./dom.js";

const states = ["queued", "delivering", "deferred", "delivered", "bounced"];

export async function overviewPage(page, _argument, _context) {
  const [stats, activity, processes, ready] = await Promise.all([
    get("/api/v1/queue/stats"),
    get("/api/v1/queue/activity", { hours: 24 }),
    get("/api/v1/services"),
    get("/readyz", null, { authenticated: false }).then(() => "ready", () => "not-ready"),
  ]);
  append(page,
    h("h1", {}, "Overview"),
    h("h2", {}, "Queue"),
    h("ul", { class: "cards", "aria-label": "Recipients by state" },
      states.map((name) => h("li", {}, h("span", { class: "value", "data-state": name }, stats.counts?.[name] ?? 0), name))),
    h("p", {}, "Oldest pending message: ", h("strong", { id: "oldest-pending" }, stats.oldestPendingAgeSeconds == null ? "none" : duration(stats.oldestPendingAgeSeconds))),
    stats.deferralsByDomain?.length
      ? table("Deferred recipients by destination", [["Domain"], ["Deferred", "number"]],
        stats.deferralsByDomain.slice(0, 10).map((entry) =>
          h("tr", {}, h("td", {}, h("a", { href: `#/queue?recipientDomain=${encodeURIComponent(entry.domain)}` }, entry.domain)), h("td", { class: "number" }, entry.deferred))))
      : null,
    h("h2", {}, "Last 24 hours"),
    chart(activity.hours ?? []),
    h("h2", {}, "Health"),
    h("p", {}, "Database: ", state(ready)),
    table("Each service's processes, as they report themselves every 15 seconds", [["Service"], ["Host"], ["Process"], ["State"], ["Last report"], ["Started"]],
      processes.items.map((process) => h("tr", { "data-service": process.service },
        h("td", {}, process.service), h("td", {}, process.host), h("td", { class: "number" }, process.pid),
        h("td", {}, state(process.state)), h("td", {}, when(process.seenAt)), h("td", {}, when(process.startedAt)))),
      "No service has reported yet."),
  );
}

/** Delivered and bounced recipients per hour as bars, with the same numbers in a table for screen readers. */
function chart(hours) {
  const width = 720;
  const height = 170;
  const base = height - 22;
  const highest = Math.max(1, ...hours.map((hour) => hour.delivered + hour.bounced));
  const slot = width / Math.max(hours.length, 1);
  const bars = [];
  hours.forEach((hour, index) => {
    const x = index * slot + 2;
    const deliveredHeight = (hour.delivered / highest) * (base - 12);
    const bouncedHeight = (hour.bounced / highest) * (base - 12);
    bars.push(h("svg:rect", { class: "delivered", x, y: base - deliveredHeight, width: Math.max(slot - 4, 1), height: deliveredHeight },
      h("svg:title", {}, `${label(hour.start)}: ${hour.delivered} delivered`)));
    bars.push(h("svg:rect", { class: "bounced", x, y: base - deliveredHeight - bouncedHeight, width: Math.max(slot - 4, 1), height: bouncedHeight },
      h("svg:title", {}, `${label(hour.start)}: ${hour.bounced} bounced`)));
    if (index % 4 === 0) bars.push(h("svg:text", { x, y: height - 6 }, label(hour.start)));
  });
  const total = hours.reduce((sum, hour) => ({ delivered: sum.delivered + hour.delivered, bounced: sum.bounced + hour.bounced }), { delivered: 0, bounced: 0 });
  return h("figure", { class: "panel" },
    h("svg:svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": "chart-caption" },
      h("svg:line", { class: "axis", x1: 0, y1: base, x2: width, y2: base }),
      h("svg:text", { x: 2, y: 10 }, `${highest} per hour`),
      bars),
    h("figcaption", { id: "chart-caption" },
      `Recipients delivered (${total.delivered}) and bounced (${total.bounced}) per hour over the last ${hours.length} hours.`),
    h("ul", { class: "legend" }, h("li", { class: "delivered" }, "delivered"), h("li", { class: "bounced" }, "bounced")));
}

function label(start) {
  return new Date(start).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}
