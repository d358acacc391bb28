// Aliases and catch-alls (an alias of `@domain` takes every address of the domain no account has).
import { get, path, post, remove } from "./api.js";
import { append, confirmAction, field, h, pager, replace } from "./dom.js";

export async function aliasesPage(page, _argument, context) {
  const domain = context.query.get("domain") ?? "";
  append(page, h("h1", {}, "Aliases and catch-alls"));
  const domainField = field("Domain", { name: "domain", value: domain, autocomplete: "off", placeholder: "all domains" });
  const filter = h("form", { class: "panel row", role: "search" }, domainField.wrapper, h("button", { type: "submit" }, "Show"));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = domainField.control.value.trim();
    context.go(value ? `#/aliases?domain=${encodeURIComponent(value)}` : "#/aliases");
  });
  append(page, filter);

  const rows = h("tbody", {});
  const more = h("div", {});
  append(page, h("div", { class: "table-wrap" },
    h("table", {}, h("caption", {}, "Aliases"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Address"), h("th", { scope: "col" }, "Delivers to"),
        context.canWrite ? h("th", { scope: "col" }, "Actions") : null)),
      rows)), more);

  async function load(cursor) {
    const result = await get("/api/v1/aliases", { limit: 100, cursor, domain });
    for (const alias of result.items) {
      append(rows, h("tr", {},
        h("td", {}, alias.address, alias.catchAll ? h("span", { class: "muted" }, " (catch-all)") : null),
        h("td", {}, alias.targets.map((target) => h("div", {}, target))),
        context.canWrite ? h("td", {}, h("button", { type: "button", class: "danger", onclick: () => removeAlias(alias.address) }, "Remove")) : null));
    }
    if (!result.items.length && !cursor) append(rows, h("tr", {}, h("td", { colspan: 3 }, "No aliases.")));
    replace(more, result.nextCursor ? pager(() => load(result.nextCursor).catch(context.fail)) : null);
  }

  async function removeAlias(address) {
    if (!(await confirmAction(`Remove the alias ${address}?`, "Remove"))) return;
    try {
      await remove(path`/api/v1/aliases/${address}`);
      context.say(`Alias ${address} removed.`);
      context.go(location.hash);
    } catch (error) {
      context.fail(error);
    }
  }

  await load();

  if (context.canWrite) {
    const address = field("Alias address (@domain for a catch-all)", { name: "address", required: true, autocomplete: "off" });
    const targets = field("Delivers to (one address a line)", { name: "targets", type: "textarea", required: true });
    const form = h("form", { class: "panel", id: "create-alias" }, h("h2", {}, "New alias"), address.wrapper, targets.wrapper,
      h("button", { type: "submit" }, "Create alias"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const made = await post("/api/v1/aliases", {
          address: address.control.value.trim(),
          targets: targets.control.value.split(/[\s,]+/).filter(Boolean),
        });
        context.say(`Alias ${made.address} created.`);
        context.go(location.hash);
      } catch (error) {
        context.fail(error);
      }
    });
    append(page, form);
  }
}
