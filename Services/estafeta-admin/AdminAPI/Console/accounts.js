// Accounts: search and list, create; one account's page with its quota use, mailboxes and sizes, and
// the operator's changes (enable or disable, a new password, the quota, removal).
import { get, patch, path, post, remove } from "./api.js";
import { append, bytes, confirmAction, field, h, pager, replace, table, when } from "./dom.js";

const megabyte = 1024 * 1024;

export async function accountsPage(page, _argument, context) {
  const domain = context.query.get("domain") ?? "";
  const search = context.query.get("search") ?? "";
  append(page, h("h1", {}, "Accounts"));
  const searchField = field("Search addresses", { type: "search", name: "search", value: search, autocomplete: "off" });
  const domainField = field("Domain", { name: "domain", value: domain, autocomplete: "off", placeholder: "all domains" });
  const filter = h("form", { class: "panel row", role: "search" }, searchField.wrapper, domainField.wrapper, h("button", { type: "submit" }, "Search"));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    if (searchField.control.value.trim()) query.set("search", searchField.control.value.trim());
    if (domainField.control.value.trim()) query.set("domain", domainField.control.value.trim());
    context.go(`#/accounts${query.size ? `?${query}` : ""}`);
  });
  append(page, filter);

  const rows = h("tbody", {});
  const more = h("div", {});
  append(page, h("div", { class: "table-wrap" },
    h("table", {}, h("caption", {}, search || domain ? "Accounts found" : "Accounts"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Address"), h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "State"),
        h("th", { scope: "col" }, "Quota use"))),
      rows)), more);

  async function load(cursor) {
    const result = await get("/api/v1/accounts", { limit: 50, cursor, domain, search });
    for (const account of result.items) {
      append(rows, h("tr", {},
        h("td", {}, h("a", { href: `#/accounts/${encodeURIComponent(account.address)}` }, account.address)),
        h("td", { class: "display-name" }, account.displayName ?? ""),
        h("td", {}, account.enabled ? "enabled" : "disabled"),
        h("td", {}, usage(account))));
    }
    if (!result.items.length && !cursor) append(rows, h("tr", {}, h("td", { colspan: 4 }, "No accounts.")));
    replace(more, result.nextCursor ? pager(() => load(result.nextCursor).catch(context.fail)) : null);
  }
  await load();

  if (context.canWrite) {
    const address = field("Address", { name: "address", type: "email", required: true, autocomplete: "off" });
    const name = field("Display name", { name: "displayName", autocomplete: "off" });
    const password = field("Password", { name: "password", type: "password", required: true, autocomplete: "new-password" });
    const quota = field("Quota in MB (empty: none)", { name: "quota", type: "number", min: 1, step: 1 });
    const form = h("form", { class: "panel", id: "create-account" }, h("h2", {}, "New account"),
      address.wrapper, name.wrapper, password.wrapper, quota.wrapper, h("button", { type: "submit" }, "Create account"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = { address: address.control.value.trim(), password: password.control.value };
      if (name.control.value.trim()) body.displayName = name.control.value.trim();
      if (quota.control.value) body.quotaBytes = Math.round(Number(quota.control.value) * megabyte);
      try {
        const made = await post("/api/v1/accounts", body);
        context.say(`Account ${made.address} created.`);
        context.go(`#/accounts/${encodeURIComponent(made.address)}`);
      } catch (error) {
        context.fail(error);
      }
    });
    append(page, form);
  }
}

function usage(account) {
  const used = account.usage?.bytes ?? 0;
  if (!account.quotaBytes) return `${bytes(used)} (no quota)`;
  const share = Math.min(100, Math.round((used / account.quotaBytes) * 100));
  return h("div", {},
    h("meter", { min: 0, max: account.quotaBytes, value: used, low: account.quotaBytes * 0.8, high: account.quotaBytes * 0.95, optimum: 0,
      "aria-label": `${account.address}: ${share}% of the quota used` }),
    h("div", { class: "muted" }, `${bytes(used)} of ${bytes(account.quotaBytes)} (${share}%)`));
}

export async function accountPage(page, address, context) {
  const [account, mailboxes] = await Promise.all([
    get(path`/api/v1/accounts/${address}`),
    get(path`/api/v1/accounts/${address}/mailboxes`, { limit: 500 }),
  ]);
  append(page, [
    h("p", {}, h("a", { href: "#/accounts" }, "All accounts")),
    h("h1", {}, account.address),
    h("dl", { class: "facts" },
      h("dt", {}, "Display name"), h("dd", { class: "display-name" }, account.displayName ?? "—"),
      h("dt", {}, "State"), h("dd", { id: "account-state" }, account.enabled ? "enabled" : "disabled"),
      h("dt", {}, "Messages"), h("dd", {}, account.usage?.messages ?? 0),
      h("dt", {}, "Quota use"), h("dd", {}, usage(account)),
      h("dt", {}, "Created"), h("dd", {}, when(account.createdAt))),
    h("h2", {}, "Mailboxes"),
    table(`Mailboxes of ${account.address}`, [["Mailbox"], ["Special use"], ["Messages", "number"], ["Unseen", "number"], ["Size", "number"]],
      mailboxes.items.map((mailbox) => h("tr", {},
        h("td", {}, mailbox.name), h("td", {}, mailbox.specialUse ?? ""), h("td", { class: "number" }, mailbox.messages),
        h("td", { class: "number" }, mailbox.unseen), h("td", { class: "number" }, bytes(mailbox.sizeBytes))))),
  ]);
  if (!context.canWrite) return;

  const reload = () => context.go(`#/accounts/${encodeURIComponent(account.address)}`);
  const change = async (body, done) => {
    try {
      await patch(path`/api/v1/accounts/${account.address}`, body);
      context.say(done);
      reload();
    } catch (error) {
      context.fail(error);
    }
  };

  const password = field("New password", { name: "password", type: "password", required: true, autocomplete: "new-password" });
  const passwordForm = h("form", { class: "panel row", id: "reset-password" }, password.wrapper, h("button", { type: "submit" }, "Set password"));
  passwordForm.addEventListener("submit", (event) => {
    event.preventDefault();
    change({ password: password.control.value }, `The password of ${account.address} was changed.`);
  });

  const quota = field("Quota in MB (empty: none)", { name: "quota", type: "number", min: 1, step: 1,
    value: account.quotaBytes ? Math.round(account.quotaBytes / megabyte) : "" });
  const quotaForm = h("form", { class: "panel row", id: "set-quota" }, quota.wrapper, h("button", { type: "submit" }, "Set quota"));
  quotaForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = quota.control.value ? Math.round(Number(quota.control.value) * megabyte) : null;
    change({ quotaBytes: value }, `The quota of ${account.address} was changed.`);
  });

  append(page, [
    h("h2", {}, "Change"),
    h("div", { class: "actions panel" },
      h("button", { type: "button", class: account.enabled ? "danger" : "", id: "toggle-account",
        onclick: async () => {
          if (account.enabled && !(await confirmAction(`Disable ${account.address}? It can no longer sign in or receive mail.`, "Disable"))) return;
          change({ enabled: !account.enabled }, `${account.address} ${account.enabled ? "disabled" : "enabled"}.`);
        } }, account.enabled ? "Disable account" : "Enable account"),
      h("button", { type: "button", class: "danger", onclick: async () => {
        if (!(await confirmAction(`Delete ${account.address} and all its mail?`, "Delete"))) return;
        try {
          await remove(path`/api/v1/accounts/${account.address}`);
          context.say(`Account ${account.address} deleted.`);
          context.go("#/accounts");
        } catch (error) {
          context.fail(error);
        }
      } }, "Delete account")),
    passwordForm,
    quotaForm,
  ]);
}
