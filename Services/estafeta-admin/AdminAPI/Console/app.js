// The console: sign-in, the section links and a page per section, all from the admin API. The hash is
// the address (#/accounts/alice%40example.org), so the back button and bookmarks work without a server.
import { APIError, get, token } from "./api.js";
import { h, replace } from "./dom.js";
import { accountsPage, accountPage } from "./accounts.js";
import { aliasesPage } from "./aliases.js";
import { auditPage } from "./audit.js";
import { domainsPage } from "./domains.js";
import { overviewPage } from "./overview.js";
import { queuePage, queueMessagePage } from "./queue.js";

const pages = {
  overview: overviewPage,
  domains: domainsPage,
  accounts: accountsPage,
  account: accountPage,
  aliases: aliasesPage,
  queue: queuePage,
  message: queueMessagePage,
  audit: auditPage,
};

const element = (id) => document.getElementById(id);
let session = null;
let shown = 0;
// A page that reports and then moves on (a new account, say) keeps its message over the move.
let keepMessage = false;

/** What every page is given: whether this token may write, and a way to report. */
function context() {
  return {
    canWrite: session?.scope === "write",
    say: (text) => say(text, "info"),
    fail: (error) => say(error instanceof Error ? error.message : String(error)),
    go: (hash) => {
      if (location.hash === hash) return route();
      keepMessage = true;
      location.hash = hash;
    },
  };
}

function say(text, kind = "error") {
  const box = element("message");
  if (!text) return box.replaceChildren();
  box.className = kind === "info" ? "message info" : "message";
  box.setAttribute("role", kind === "info" ? "status" : "alert");
  replace(box, text);
}

function showSignIn() {
  session = null;
  element("navigation").hidden = true;
  element("session").hidden = true;
  element("sign-in").hidden = false;
  replace(element("page"));
  element("token-field").focus();
}

async function startSession() {
  // The API says what the token is; a wrong one comes back as its 401 problem.
  session = await get("/api/v1/token");
  element("sign-in").hidden = true;
  element("navigation").hidden = false;
  element("session").hidden = false;
  replace(element("scope"), session.scope === "write" ? `Token: ${session.id}` : `Token: ${session.id} (read only)`);
}

async function route() {
  if (!session) return;
  const [address, query] = location.hash.replace(/^#\/?/, "").split("?", 2);
  const [name, ...rest] = address.split("/");
  let page = pages[name] ? name : "overview";
  const argument = rest.length ? decodeURIComponent(rest.join("/")) : null;
  if (page === "accounts" && argument) page = "account";
  if (page === "queue" && argument) page = "message";
  const section = page === "account" ? "accounts" : page === "message" ? "queue" : page;
  for (const link of document.querySelectorAll("#navigation a")) {
    if (link.getAttribute("href") === `#/${section}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const number = ++shown;
  const target = h("div", {});
  try {
    await pages[page](target, argument, { ...context(), query: new URLSearchParams(query ?? "") });
  } catch (error) {
    if (error instanceof APIError && error.status === 401) {
      token.clear();
      showSignIn();
      say(`${error.message}. Sign in again.`);
      return;
    }
    context().fail(error);
  }
  // A slower earlier page does not replace a later one.
  if (number !== shown) return;
  replace(element("page"), target);
  document.title = `${target.querySelector("h1")?.textContent ?? "Console"} · Estafeta`;
}

/** Each table cell gets its column's heading as data-label, which narrow screens show beside it. */
function labelCells(root) {
  for (const table of root.querySelectorAll("table")) {
    const headings = [...table.querySelectorAll("thead th")].map((cell) => cell.textContent);
    for (const row of table.querySelectorAll("tbody tr")) {
      [...row.children].forEach((cell, index) => {
        if (headings[index] && cell.dataset.label !== headings[index]) cell.dataset.label = headings[index];
      });
    }
  }
}
// Rows also arrive later ("Show more"), so every change to the page is labelled.
new MutationObserver(() => labelCells(element("page"))).observe(element("page"), { childList: true, subtree: true });

element("sign-in").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = element("token-field");
  token.set(field.value.trim());
  try {
    await startSession();
    field.value = "";
    say("");
    await route();
    element("main").focus();
  } catch (error) {
    token.clear();
    session = null;
    say(error.message);
    field.select();
  }
});

element("sign-out").addEventListener("click", () => {
  token.clear();
  say("Signed out.", "info");
  location.hash = "";
  showSignIn();
});

window.addEventListener("hashchange", () => {
  if (!keepMessage) say("");
  keepMessage = false;
  route();
});

(async () => {
  if (!token.get()) return showSignIn();
  try {
    await startSession();
    await route();
  } catch (error) {
    token.clear();
    showSignIn();
    say(error.message);
  }
})();
