// Domains: the list with account counts, adding and removing one, and the DNS check of its mail
// records (MX, SPF, DKIM, DMARC, MTA-STS, TLS-RPT) with what to publish.
import { get, path, post, remove } from "./api.js";
import { append, confirmAction, field, h, pager, replace, state, table, when } from "./dom.js";

export async function domainsPage(page, _argument, context) {
  append(page, h("h1", {}, "Domains"));
  if (context.canWrite) {
    const name = field("Domain name", { name: "domain", required: true, autocomplete: "off", placeholder: "example.org" });
    const form = h("form", { class: "panel row", id: "add-domain" }, name.wrapper, h("button", { type: "submit" }, "Add domain"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const made = await post("/api/v1/domains", { name: name.control.value.trim() });
        context.say(`Domain ${made.name} added.`);
        context.go("#/domains");
      } catch (error) {
        context.fail(error);
      }
    });
    append(page, form);
  }
  const rows = h("tbody", {});
  const check = h("section", { "aria-live": "polite" });
  const list = h("div", { class: "table-wrap" },
    h("table", {}, h("caption", {}, "Domains"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Domain"), h("th", { scope: "col", class: "number" }, "Accounts"),
        h("th", { scope: "col" }, "Added"), h("th", { scope: "col" }, "Actions"))),
      rows));
  const more = h("div", {});
  append(page, [list, more, check]);

  async function load(cursor) {
    const result = await get("/api/v1/domains", { limit: 50, cursor });
    for (const domain of result.items) {
      const actions = h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => showCheck(domain.name) }, "Check DNS"),
        context.canWrite ? h("button", { type: "button", class: "danger", onclick: () => removeDomain(domain) }, "Remove") : null);
      append(rows, h("tr", {}, h("td", {}, h("a", { href: `#/accounts?domain=${encodeURIComponent(domain.name)}` }, domain.name)),
        h("td", { class: "number" }, domain.accountCount), h("td", {}, when(domain.createdAt)), h("td", {}, actions)));
    }
    replace(more, result.nextCursor ? pager(() => load(result.nextCursor).catch(context.fail)) : null);
  }

  async function removeDomain(domain) {
    const question = domain.accountCount > 0
      ? `Remove ${domain.name} with its ${domain.accountCount} accounts and all their mail?`
      : `Remove ${domain.name}?`;
    if (!(await confirmAction(question, "Remove"))) return;
    try {
      await remove(path`/api/v1/domains/${domain.name}`, { force: domain.accountCount > 0 ? "true" : undefined });
      context.say(`Domain ${domain.name} removed.`);
      context.go("#/domains");
    } catch (error) {
      context.fail(error);
    }
  }

  async function showCheck(name) {
    replace(check, h("p", { class: "muted" }, `Looking up the records of ${name}…`));
    try {
      const result = await get(path`/api/v1/domains/${name}/dns`);
      replace(check, h("h2", {}, `DNS of ${name}`),
        table(`What ${name} publishes`, [["Purpose"], ["Name"], ["Type"], ["State"], ["Publish"], ["Found"]],
          result.records.map((record) => h("tr", {},
            h("td", {}, record.purpose, record.selector ? ` (${record.selector})` : ""),
            h("td", {}, h("code", {}, record.name)), h("td", {}, record.type),
            h("td", {}, state(record.status), record.detail ? h("div", { class: "muted" }, record.detail) : null),
            h("td", {}, h("code", {}, record.expected)),
            h("td", {}, record.found.length ? record.found.map((value) => h("div", {}, h("code", {}, value))) : "—")))));
    } catch (error) {
      replace(check);
      context.fail(error);
    }
  }

  await load();
}
