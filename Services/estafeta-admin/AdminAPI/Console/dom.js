// Building the page from API data without ever parsing it as HTML: every value becomes a text node or
// an attribute value, so a display name such as `<img src=x onerror=...>` shows as the characters it is.

/** `h("a", { href: "#/x", onclick: handler }, "text", child)`: attribute names come from this code only. */
export function h(tag, attributes = {}, ...children) {
  const element = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, ...children);
  return element;
}

/** Appends each child (arrays flattened; null, undefined and false left out); strings become text nodes. */
export function append(element, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, ...children);
}

let fieldNumber = 0;

/** A labelled field: the label names the control for screen readers and for clicks. */
export function field(label, attributes = {}) {
  const id = attributes.id ?? `field-${++fieldNumber}`;
  const control = attributes.type === "select"
    ? h("select", { ...attributes, type: null, id, options: null }, (attributes.options ?? []).map(([value, text]) => h("option", { value }, text)))
    : h(attributes.type === "textarea" ? "textarea" : "input", { ...attributes, id, type: attributes.type === "textarea" ? null : attributes.type ?? "text" });
  return { wrapper: h("div", {}, h("label", { for: id }, label), control), control };
}

export function table(caption, headings, rows, empty = "Nothing here.") {
  if (rows.length === 0) return h("p", { class: "muted" }, empty);
  return h("div", { class: "table-wrap" },
    h("table", {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headings.map(([text, className]) => h("th", { scope: "col", class: className }, text)))),
      h("tbody", {}, rows)));
}

export function state(name) {
  return h("span", { class: `state state-${String(name).replace(/[^a-z-]/g, "")}` }, name);
}

export function bytes(count) {
  if (count === null || count === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(count);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function when(text) {
  if (!text) return "—";
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? String(text) : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

/** A modal question; resolves true only for the confirming button. */
export function confirmAction(question, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h("dialog", { "aria-labelledby": "confirm-question" });
    const finish = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    append(dialog,
      h("p", { id: "confirm-question" }, question),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "danger", "data-confirm": "yes", onclick: () => finish(true) }, confirmLabel),
        h("button", { type: "button", class: "secondary", onclick: () => finish(false) }, "Cancel")));
    dialog.addEventListener("cancel", () => finish(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A "Show more" button that appends the next page of a cursor-paged list. */
export function pager(load) {
  const button = h("button", { type: "button", class: "secondary" }, "Show more");
  button.addEventListener("click", () => load());
  return button;
}
