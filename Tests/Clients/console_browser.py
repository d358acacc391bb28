#!/usr/bin/env python3
"""The web console in a real browser: Debian's headless Chromium driven by Selenium against a running
`estafeta serve` whose relay sends scripted.test to a scripted MX (tempfail@ is deferred with 451 once).

  console_browser.py ADMIN_PORT WRITE_TOKEN READ_TOKEN SUBMISSION_PORT SCREENSHOT_DIR

Signs in (a wrong token first), adds a domain and an account with a hostile display name, sends a
message that the remote MX defers, finds the deferral and the remote reply on the queue page, retries
it, reads the audit log, signs out; then signs in with a read-only token and finds no write controls
(a request forced past the page is refused). Checks the security headers, the browser's console, page
width at 360 px, labels and keyboard focus. Screenshots of every page at 360 and 1280 px wide go to
SCREENSHOT_DIR. Prints "console: ok" at the end; any failed check stops it with a message.
Loopback only; every wait is bounded.
"""
import os
import smtplib
import ssl
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException, NoSuchElementException, StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

admin_port, write_token, read_token, submission_port, screenshots = sys.argv[1:6]
base = f"http://127.0.0.1:{admin_port}"
HOSTILE = '<img src=x onerror=alert(1)>'
os.makedirs(screenshots, exist_ok=True)


def check(condition, message):
    if not condition:
        raise SystemExit(f"console: FAILED {message}")


# Headers first, as any client sees them.
with urllib.request.urlopen(base + "/", timeout=10) as response:
    headers = response.headers
    page = response.read().decode()
csp = headers.get("Content-Security-Policy", "")
check("script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, f"CSP: {csp!r}")
check(headers.get("X-Frame-Options") == "DENY", "X-Frame-Options")
check(headers.get("X-Content-Type-Options") == "nosniff", "nosniff")
check(headers.get("Set-Cookie") is None, "a cookie was set")
check("<script>" not in page and " style=" not in page and "onclick" not in page, "inline script or style in index.html")
# The same Host check as the API: a rebinding page's host name gets 421.
request = urllib.request.Request(base + "/", headers={"Host": "attacker.example"})
try:
    urllib.request.urlopen(request, timeout=10)
    check(False, "a foreign Host was answered")
except urllib.error.HTTPError as error:
    check(error.code == 421, f"foreign Host: {error.code}")

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900",
                 "--no-first-run", "--disable-extensions", "--disable-background-networking"]:
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_page_load_timeout(60)
driver.set_script_timeout(60)
# Generous: the whole test suite runs beside it. A page replaced while it is read is read again.
wait = WebDriverWait(driver, 60, ignored_exceptions=[NoSuchElementException, StaleElementReferenceException])


def console_errors(allowed=()):
    """Errors in the browser's console since the last call, but for resource failures with an allowed status."""
    errors = []
    for entry in driver.get_log("browser"):
        if entry["level"] != "SEVERE":
            continue
        if any(f"status of {status}" in entry["message"] for status in allowed):
            continue
        errors.append(entry["message"])
    return errors


def heading():
    return wait.until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "#page h1"))).text


loads = 0


def go(hash_, title):
    """A fresh load each time (a query the server ignores), so a page asked for again is fetched again."""
    global loads
    loads += 1
    driver.get(f"{base}/?load={loads}#/{hash_}")
    try:
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#page h1") and d.find_element(By.CSS_SELECTOR, "#page h1").text.startswith(title))
    except TimeoutException:
        raise SystemExit(f"console: FAILED #/{hash_} did not show {title!r}; message: {message_text()!r}; "
                         f"console: {[entry['message'] for entry in driver.get_log('browser')]}")


def message_text():
    return driver.find_element(By.ID, "message").text


def shoot(name):
    """Both widths; at 360 px the page must not be wider than the window (tables scroll in their box)."""
    contrast(name)
    for width in (1280, 360):
        driver.set_window_size(width, 900)
        time.sleep(0.3)
        overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        check(overflow <= 0, f"{name} at {width} px is {overflow} px wider than the window")
        height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")
        # The window's size includes the browser's own frame: room for it, so the whole page is in the shot.
        driver.set_window_size(width, max(height + 200, 600))
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(os.path.join(screenshots, f"{name}-{width}.png"))
    driver.set_window_size(1280, 900)


CONTRAST = """
const channel = (value) => { const c = value / 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
const parse = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
const background = (element) => {
  for (let node = element; node && node.nodeType === 1; node = node.parentElement) {
    const [r, g, b, a = 1] = parse(getComputedStyle(node).backgroundColor);
    if (a > 0) return [r, g, b];
  }
  return [255, 255, 255];
};
const failures = [];
for (const element of document.body.querySelectorAll("*")) {
  if (element.namespaceURI !== "http://www.w3.org/1999/xhtml" || !element.offsetParent && element.tagName !== "BODY") continue;
  const own = [...element.childNodes].some((node) => node.nodeType === 3 && node.textContent.trim());
  if (!own) continue;
  const style = getComputedStyle(element);
  if (style.visibility !== "visible" || element.closest("[disabled]")) continue;
  const one = luminance(parse(style.color)), two = luminance(background(element));
  const ratio = (Math.max(one, two) + 0.05) / (Math.min(one, two) + 0.05);
  const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
  const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
  if (ratio < needed) failures.push(`${element.tagName} "${element.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
}
return failures;
"""


def contrast(name):
    """WCAG AA: 4.5:1 for text, 3:1 for large text, measured from the computed colours of every text on the page."""
    failures = driver.execute_script(CONTRAST)
    check(not failures, f"{name}: text below the WCAG AA contrast: {failures}")


def labelled():
    unlabelled = driver.execute_script(
        "return [...document.querySelectorAll('#page input, #page select, #page textarea, #sign-in input')]"
        ".filter(c => c.offsetParent !== null && c.labels.length === 0).map(c => c.name)")
    check(not unlabelled, f"fields without a label: {unlabelled}")


def deferred_section(domain, failure):
    """The queue page's first deferred message to `domain` once it shows the remote 451 (polled, 60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        go(f"queue?state=deferred&recipientDomain={domain}", "Queue")
        sections = driver.find_elements(By.CSS_SELECTOR, "section[data-message]")
        if sections and "451" in sections[0].text:
            return sections[0]
        check(time.monotonic() < deadline, failure)
        time.sleep(0.5)


def confirm():
    button = wait.until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "dialog[open] button[data-confirm]")))
    button.click()


def sign_in(token):
    field = wait.until(expected_conditions.visibility_of_element_located((By.ID, "token-field")))
    field.clear()
    field.send_keys(token)
    field.send_keys(Keys.ENTER)


# Sign-in: a wrong token shows the API's own problem title; the page stays on the form.
driver.get(base + "/")
labelled()
# Keyboard: the token field has the focus; Tab goes on to its button and Shift+Tab back before it reaches
# the skip link, each with a visible focus ring.
check(driver.switch_to.active_element.get_attribute("id") == "token-field", "the token field has no focus")
ActionChains(driver).send_keys(Keys.TAB).perform()
check(driver.switch_to.active_element.get_attribute("type") == "submit", "Tab did not reach the sign-in button")
check(driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle") != "none", "no focus ring on the button")
ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
focused = driver.switch_to.active_element
check(focused.get_attribute("class") == "skip", f"first Tab reached {focused.tag_name}.{focused.get_attribute('class')}")
check(driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle") != "none", "no focus ring on the skip link")
sign_in("est_wrong.not-a-token")
wait.until(lambda d: "A valid bearer token is required" in message_text())
contrast("sign-in with its error")
check(driver.find_element(By.ID, "sign-in").is_displayed(), "the form left after a wrong token")
check(not console_errors(allowed=(401,)), "console errors at sign-in")

sign_in(write_token)
check(heading() == "Overview", "overview after sign-in")
check(driver.find_element(By.CSS_SELECTOR, "[data-state='queued']").text.isdigit(), "queue counts")
check(driver.find_element(By.CSS_SELECTOR, "svg.chart"), "the activity chart")
check("Database" in driver.find_element(By.ID, "page").text, "health")
# `estafeta serve` runs every service in one process, and each reports itself.
services = {row.get_attribute("data-service"): row.text for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-service]")}
check(sorted(services) == ["admin", "imap", "pop3", "relay", "smtp"] and all("running" in text for text in services.values()),
      f"services on the overview: {services}")
check(driver.execute_script("return sessionStorage.length") == 1 and not driver.get_cookies(), "token in session storage only")
shoot("overview")

# A domain, then an account whose display name is markup.
go("domains", "Domains")
driver.find_element(By.CSS_SELECTOR, "#add-domain input").send_keys("console.test")
driver.find_element(By.CSS_SELECTOR, "#add-domain button").click()
wait.until(lambda d: "console.test" in d.find_element(By.ID, "page").text)
labelled()
shoot("domains")
# The DNS check of the new domain (its look-ups go to a loopback port nobody answers),
# on a fresh load of the list (the one the addition brought may still be on its way).
go("domains", "Domains")
wait.until(lambda d: "console.test" in d.find_element(By.ID, "page").text)
row = next(row for row in driver.find_elements(By.CSS_SELECTOR, "#page tbody tr") if row.text.startswith("console.test"))
row.find_element(By.XPATH, ".//button[text()='Check DNS']").click()
wait.until(lambda d: "What console.test publishes" in d.find_element(By.ID, "page").text)
check_text = driver.find_element(By.ID, "page").text
# (A resolver that does not answer comes back as records missing, not unknown: the check's own affair.)
check("MX console.test" in check_text.replace("\n", " ") or ("MX" in check_text and "v=spf1" in check_text),
      f"the DNS check: {check_text!r}")
check(driver.find_elements(By.CSS_SELECTOR, "#page section .state"), "no state on the DNS check's records")
go("accounts", "Accounts")
form = driver.find_element(By.ID, "create-account")
form.find_element(By.NAME, "address").send_keys("ops@console.test")
form.find_element(By.NAME, "displayName").send_keys(HOSTILE)
form.find_element(By.NAME, "password").send_keys("console password 1")
form.find_element(By.NAME, "quota").send_keys("10")
labelled()
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#page h1").text == "ops@console.test")
check(driver.find_element(By.CSS_SELECTOR, "#page dd.display-name").text == HOSTILE, "the display name shown as text")
check(not driver.find_elements(By.CSS_SELECTOR, "#page img"), "the display name became an element")
check(driver.find_element(By.CSS_SELECTOR, "#page meter"), "the quota bar")
check("INBOX" in driver.find_element(By.ID, "page").text, "the mailboxes")
shoot("account")
# A new password (the submission below logs in with it) and a larger quota.
form = driver.find_element(By.ID, "reset-password")
form.find_element(By.NAME, "password").send_keys("console password 2")
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
wait.until(lambda d: "The password of ops@console.test was changed" in message_text())
form = wait.until(expected_conditions.visibility_of_element_located((By.ID, "set-quota")))
quota = form.find_element(By.NAME, "quota")
quota.clear()
quota.send_keys("20")
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
wait.until(lambda d: "of 20.0 MB" in d.find_element(By.ID, "page").text)
go("accounts?search=ops", "Accounts")
wait.until(lambda d: "ops@console.test" in d.find_element(By.ID, "page").text)
check(driver.find_element(By.CSS_SELECTOR, "#page td.display-name").text == HOSTILE, "the display name in the list")
shoot("accounts")
go("aliases", "Aliases")
form = driver.find_element(By.ID, "create-alias")
form.find_element(By.NAME, "address").send_keys("postmaster@console.test")
form.find_element(By.NAME, "targets").send_keys("ops@console.test")
form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
wait.until(lambda d: "postmaster@console.test" in d.find_element(By.ID, "page").text)
shoot("aliases")

# A message the remote MX defers (451 the first time): the queue page shows the deferral and the reply.
client = smtplib.SMTP("127.0.0.1", int(submission_port), timeout=30)
client.starttls(context=ssl._create_unverified_context())
client.login("ops@console.test", "console password 2")
client.sendmail("ops@console.test", ["tempfail@scripted.test"], "From: ops@console.test\r\nSubject: deferred\r\n\r\nhello\r\n")
client.sendmail("ops@console.test", ["tempfail@bounce.test"], "From: ops@console.test\r\nSubject: to bounce\r\n\r\nhello\r\n")
client.quit()
section = deferred_section("scripted.test", "no deferred message with the remote reply on the queue page")
check("tempfail@scripted.test" in section.text and "deferred" in section.text, f"queue entry: {section.text}")
check(Select(driver.find_element(By.NAME, "state")).first_selected_option.text == "deferred", "the filter shows its state")
shoot("queue")
message_id = section.get_attribute("data-message")
section.find_element(By.CSS_SELECTOR, "button[data-action=retry]").click()
wait.until(lambda d: "will be tried now" in message_text())
deadline = time.monotonic() + 60
while True:
    go(f"queue/{message_id}", "Queued message")
    if "delivered" in driver.find_element(By.CSS_SELECTOR, "section[data-message]").text:
        break
    check(time.monotonic() < deadline, "the retried message was not delivered")
    time.sleep(0.5)

# The other deferred message is bounced, after the confirmation; then the whole queue is flushed.
section = deferred_section("bounce.test", "the second message was not deferred")
bounced_id = section.get_attribute("data-message")
section.find_element(By.CSS_SELECTOR, "button[data-action=bounce]").click()
confirm()
wait.until(lambda d: "1 recipients bounced" in message_text())
go(f"queue/{bounced_id}", "Queued message")
check("bounced" in driver.find_element(By.CSS_SELECTOR, "section[data-message]").text, "the bounced message")
go("queue", "Queue")
driver.find_element(By.ID, "flush").click()
confirm()
wait.until(lambda d: "will be tried now" in message_text())

# The audit log has the retry, by this token.
go("audit", "Audit log")
rows = [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#audit tbody tr")]
check(any("queue.retry" in row and message_id in row for row in rows), f"audit rows: {rows}")
check(any("account.create" in row and "ops@console.test" in row for row in rows), f"audit rows: {rows}")
check(any("queue.bounce" in row and bounced_id in row for row in rows) and any("queue.flush" in row for row in rows), f"audit rows: {rows}")
check("queue.flush" in rows[0], f"not newest first: {rows[:2]}")
shoot("audit")

# The overview again, with the day's delivery in its counts and chart.
go("overview", "Overview")
# (The relayed message, and the bounce's failure notice filed in ops@'s INBOX.)
delivered = driver.find_element(By.CSS_SELECTOR, "[data-state='delivered']").text
check(delivered.isdigit() and int(delivered) >= 1 and "bounced" in driver.find_element(By.ID, "page").text, f"the overview after: {delivered}")
shoot("overview-after")

# A deleted message needs a confirmation; the dialog's Cancel leaves it.
go(f"queue/{message_id}", "Queued message")
driver.find_element(By.CSS_SELECTOR, "button[data-action=delete]").click()
wait.until(expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, "dialog[open]")))
driver.find_element(By.CSS_SELECTOR, "dialog[open] button.secondary").click()
check(driver.find_elements(By.CSS_SELECTOR, "section[data-message]"), "cancel removed the message")

# A long list pages with the API's cursor: 55 more accounts, 50 to a page, then "Show more".
for number in range(55):
    body = f'{{"address":"user{number:02d}@console.test","password":"console password {number}"}}'.encode()
    request = urllib.request.Request(base + "/api/v1/accounts", data=body, method="POST", headers={
        "Authorization": f"Bearer {write_token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        check(response.status == 201, f"account {number}: {response.status}")
go("accounts?domain=console.test", "Accounts")
check(len(driver.find_elements(By.CSS_SELECTOR, "#page tbody tr")) == 50, "the first page is not 50 accounts")
driver.find_element(By.XPATH, "//button[text()='Show more']").click()
wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#page tbody tr")) == 56)
check(not driver.find_elements(By.XPATH, "//button[text()='Show more']"), "Show more after the last page")
rows = [row.find_element(By.TAG_NAME, "a").text for row in driver.find_elements(By.CSS_SELECTOR, "#page tbody tr")]
check(rows == sorted(rows) and len(set(rows)) == 56, "the pages overlap or are out of order")
# Disabling an account asks first.
go("accounts/user00%40console.test", "user00@console.test")
driver.find_element(By.ID, "toggle-account").click()
confirm()
wait.until(lambda d: d.find_element(By.ID, "account-state").text == "disabled")

# Sign out: the token is gone from the tab.
driver.find_element(By.ID, "sign-out").click()
wait.until(expected_conditions.visibility_of_element_located((By.ID, "token-field")))
check(driver.execute_script("return sessionStorage.length") == 0, "the token stayed after sign-out")
check(not console_errors(), "console errors while working")

# Read only: no write controls anywhere, and a request forced past the page is refused.
sign_in(read_token)
check(heading() == "Overview", "overview for a read token")
check("read only" in driver.find_element(By.ID, "scope").text, "the read-only mark")
for hash_, title in [("domains", "Domains"), ("accounts", "Accounts"), ("accounts/ops%40console.test", "ops@console.test"),
                     ("aliases", "Aliases"), ("queue", "Queue"), (f"queue/{message_id}", "Queued message")]:
    go(hash_, title)
    writes = driver.find_elements(By.CSS_SELECTOR, "#page form:not([role=search]), #page button.danger, #flush, button[data-action]")
    check(not writes, f"{hash_}: write controls for a read token: {[w.text for w in writes]}")
status = driver.execute_async_script("""
    const done = arguments[arguments.length - 1];
    fetch("/api/v1/domains", {method: "POST", headers: {"Authorization": "Bearer " + sessionStorage.getItem("estafeta.console.token"),
        "Content-Type": "application/json"}, body: JSON.stringify({name: "forced.test"})}).then(r => done(r.status), e => done(String(e)));
""")
check(status == 403, f"a forced write with the read token: {status}")
check(not console_errors(allowed=(403,)), "console errors for the read token")
try:
    driver.switch_to.alert
    check(False, "an alert opened: markup from the API ran")
except NoAlertPresentException:
    pass
driver.quit()
print("console: ok")
