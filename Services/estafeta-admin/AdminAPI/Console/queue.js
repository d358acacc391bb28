// The queue: messages filtered by state, sender and recipient domain; each recipient's state, attempts,
// next attempt and the remote server's last reply; retry, bounce and delete a message, or flush all.
import { get, path, post, remove } from "./api.js";
import { append, bytes, confirmAction, field, h, pager, replace, state, when } from "./dom.js";

const states = ["queued", "delivering", "deferred", "delivered", "bounced"];

export async function queuePage(page, _argument, context) {
  const chosen = { state: context.query.get("state") ?? "", sender: context.query.get("sender") ?? "",
    recipientDomain: context.query.get("recipientDomain") ?? "" };
  append(page, h("h1", {}, "Queue"));
  const stateField = field("State", { type: "select", name: "state", options: [["", "any"], ...states.map((name) => [name, name])] });
  stateField.control.value = chosen.state;
  const senderField = field("Sender", { name: "sender", value: chosen.sender, autocomplete: "off" });
  const domainField = field("Recipient domain", { name: "recipientDomain", value: chosen.recipientDomain, autocomplete: "off" });
  const filter = h("form", { class: "panel row", role: "search", id: "queue-filter" },
    stateField.wrapper, senderField.wrapper, domainField.wrapper, h("button", { type: "submit" }, "Filter"));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, control] of [["state", stateField.control], ["sender", senderField.control], ["recipientDomain", domainField.control]]) {
      if (control.value.trim()) query.set(name, control.value.trim());
    }
    context.go(`#/queue${query.size ? `?${query}` : ""}`);
  });
  append(page, filter);
  if (context.canWrite) {
    append(page, h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "flush", onclick: async () => {
      if (!(await confirmAction("Try every queued and deferred recipient now?", "Flush the queue"))) return;
      try {
        const result = await post("/api/v1/queue/flush");
        context.say(`${result.affectedRecipients} recipients will be tried now.`);
        context.go(location.hash);
      } catch (error) {
        context.fail(error);
      }
    } }, "Flush the queue")));
  }

  const list = h("div", { id: "queue-messages" });
  const more = h("div", {});
  append(page, list, more);
  async function load(cursor) {
    const result = await get("/api/v1/queue", { limit: 50, cursor, ...chosen });
    for (const message of result.items) append(list, messageSection(message, context, 2));
    if (!result.items.length && !cursor) append(list, h("p", { class: "muted" }, "No messages match."));
    replace(more, result.nextCursor ? pager(() => load(result.nextCursor).catch(context.fail)) : null);
  }
  await load();
}

export async function queueMessagePage(page, id, context) {
  const message = await get(path`/api/v1/queue/${id}`);
  append(page, h("p", {}, h("a", { href: "#/queue" }, "The whole queue")), h("h1", {}, `Queued message ${message.id}`), messageSection(message, context, 2));
}

/** One message: its envelope, a table of its recipients, and the actions a write token may take. */
function messageSection(message, context, level) {
  const heading = h(`h${level}`, {}, h("a", { href: `#/queue/${message.id}` }, `Message ${message.id}`), ` from ${message.sender || "<>"}`);
  const act = (label, run, question, className = "secondary") => h("button", { type: "button", class: className, "data-action": label.toLowerCase(), onclick: async () => {
    if (question && !(await confirmAction(question, label))) return;
    try {
      context.say(await run());
      context.go(location.hash);
    } catch (error) {
      context.fail(error);
    }
  } }, label);
  const pending = message.recipients.some((recipient) => ["queued", "deferred", "delivering"].includes(recipient.state));
  return h("section", { class: "panel", "aria-label": `Message ${message.id}`, "data-message": message.id },
    heading,
    h("p", { class: "muted" }, `Received ${when(message.receivedAt)}, ${bytes(message.size)}`,
      message.authenticatedAs ? `, submitted by ${message.authenticatedAs}` : ""),
    h("div", { class: "table-wrap" }, h("table", {}, h("caption", {}, `Recipients of message ${message.id}`),
      h("thead", {}, h("tr", {}, ["Recipient", "State", "Attempts", "Next attempt", "Last reply"].map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, message.recipients.map((recipient) => h("tr", {},
        h("td", {}, recipient.address), h("td", {}, state(recipient.state)), h("td", { class: "number" }, recipient.attempts),
        h("td", {}, ["queued", "deferred"].includes(recipient.state) ? when(recipient.nextAttemptAt) : "—"),
        h("td", { class: "last-reply" }, recipient.lastReply ? h("code", {}, recipient.lastReply) : "—")))))),
    context.canWrite ? h("div", { class: "actions" },
      pending ? act("Retry", async () => `${(await post(path`/api/v1/queue/${message.id}/retry`)).affectedRecipients} recipients will be tried now.`) : null,
      pending ? act("Bounce", async () => `${(await post(path`/api/v1/queue/${message.id}/bounce`, {})).affectedRecipients} recipients bounced.`,
        `Bounce message ${message.id}? Its sender gets a failure notice for each pending recipient.`, "danger") : null,
      act("Delete", async () => (await remove(path`/api/v1/queue/${message.id}`), `Message ${message.id} deleted.`),
        `Delete message ${message.id} without a notice to its sender?`, "danger")) : null);
}
