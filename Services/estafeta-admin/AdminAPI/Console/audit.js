// The audit log: which token changed what, and when, newest first.
import { get } from "./api.js";
import { append, h, pager, replace, when } from "./dom.js";

export async function auditPage(page, _argument, context) {
  append(page, h("h1", {}, "Audit log"));
  const rows = h("tbody", {});
  const more = h("div", {});
  append(page, h("div", { class: "table-wrap" },
    h("table", { id: "audit" }, h("caption", {}, "Changes made through the admin API"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "When"), h("th", { scope: "col" }, "Token"), h("th", { scope: "col" }, "Action"),
        h("th", { scope: "col" }, "Target"), h("th", { scope: "col" }, "Detail"))),
      rows)), more);

  async function load(cursor) {
    const result = await get("/api/v1/audit", { limit: 100, cursor, order: "newest" });
    for (const entry of result.items) {
      append(rows, h("tr", {}, h("td", {}, when(entry.at)), h("td", {}, entry.token), h("td", {}, h("code", {}, entry.action)),
        h("td", {}, entry.target), h("td", {}, entry.detail ?? "")));
    }
    if (!result.items.length && !cursor) append(rows, h("tr", {}, h("td", { colspan: 5 }, "Nothing changed yet.")));
    replace(more, result.nextCursor ? pager(() => load(result.nextCursor).catch(context.fail)) : null);
  }
  await load();
}
